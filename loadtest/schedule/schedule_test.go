package schedule

import (
	"math"
	"strings"
	"testing"
	"time"
)

func offsets(s Schedule) []time.Duration {
	var out []time.Duration
	it := s.Iter()
	for {
		t, ok := it.Next()
		if !ok {
			return out
		}
		out = append(out, t)
	}
}

func TestConstantExact(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		d    time.Duration
		n    int
	}{
		{500, time.Second, 500},
		{3, time.Second, 3},             // 0, 333333333, 666666666
		{3, 1001 * time.Millisecond, 4}, // the 4th send at 1s is still inside 1.001s
		{1, time.Second, 1},
		{7, 2 * time.Second, 14},
		{0.5, 5 * time.Second, 3}, // 0, 2s, 4s
	} {
		s := Constant(tc.rate, tc.d)
		got := offsets(s)
		if len(got) != tc.n || s.Count() != int64(tc.n) {
			t.Fatalf("rate %v over %s: %d sends (Count %d), want %d", tc.rate, tc.d, len(got), s.Count(), tc.n)
		}
		for k, off := range got {
			var want time.Duration
			if tc.rate == math.Trunc(tc.rate) {
				want = time.Duration(int64(k) * int64(time.Second) / int64(tc.rate))
			} else {
				want = time.Duration(float64(k) / tc.rate * 1e9)
			}
			if off != want {
				t.Fatalf("rate %v: send %d at %v, want exactly %v", tc.rate, k, off, want)
			}
			if off >= tc.d {
				t.Fatalf("send %d at %v past the end %v", k, off, tc.d)
			}
		}
	}
	// 500 rps: every send exactly 2 ms apart, no drift after 60k sends.
	got := offsets(Constant(500, 2*time.Minute))
	if last := got[len(got)-1]; last != time.Duration(len(got)-1)*2*time.Millisecond {
		t.Fatalf("last send at %v, want %v", last, time.Duration(len(got)-1)*2*time.Millisecond)
	}
}

func TestStepExact(t *testing.T) {
	s, err := Parse("step:100@1s,200@500ms,50@2s", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	got := offsets(s)
	if len(got) != 100+100+100 {
		t.Fatalf("%d sends, want 300", len(got))
	}
	for k := range 100 {
		if got[k] != time.Duration(k)*10*time.Millisecond {
			t.Fatalf("step 1 send %d at %v", k, got[k])
		}
		if got[100+k] != time.Second+time.Duration(k)*5*time.Millisecond {
			t.Fatalf("step 2 send %d at %v", k, got[100+k])
		}
		if got[200+k] != 1500*time.Millisecond+time.Duration(k)*20*time.Millisecond {
			t.Fatalf("step 3 send %d at %v", k, got[200+k])
		}
	}
	if s.Duration() != 3500*time.Millisecond {
		t.Fatalf("duration %v", s.Duration())
	}
	if r := s.RateAt(1200 * time.Millisecond); r != 200 {
		t.Fatalf("rate at 1.2s %v", r)
	}
}

func TestRamp(t *testing.T) {
	for _, tc := range []struct{ from, to float64 }{{0, 1000}, {100, 1000}, {1000, 100}, {10, 11}} {
		d := 10 * time.Second
		s := Ramp(tc.from, tc.to, d)
		got := offsets(s)
		want := int(math.Ceil((tc.from + tc.to) / 2 * d.Seconds()))
		if len(got) != want {
			t.Fatalf("ramp %v..%v: %d sends, want %d", tc.from, tc.to, len(got), want)
		}
		a := (tc.to - tc.from) / d.Seconds()
		for k, off := range got {
			x := off.Seconds()
			n := tc.from*x + a*x*x/2 // cumulative arrivals at the planned time
			if math.Abs(n-float64(k)) > 1e-5 {
				t.Fatalf("ramp %v..%v: send %d at %v where N=%v", tc.from, tc.to, k, off, n)
			}
			if k > 0 && off < got[k-1] {
				t.Fatalf("ramp %v..%v: send %d at %v before the previous %v", tc.from, tc.to, k, off, got[k-1])
			}
			if off >= d {
				t.Fatalf("send %d past the end", k)
			}
		}
		if r := s.RateAt(d / 2); math.Abs(r-(tc.from+tc.to)/2) > 1e-9 {
			t.Fatalf("mid rate %v", r)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		want  string
		count int64
		err   string
	}{
		{spec: "constant:500@30s", want: "constant:500@30s", count: 15000},
		{spec: "const:2.5/s@2s", want: "constant:2.5@2s", count: 5},
		{spec: "step:100@1s,200@1s", want: "constant:100@1s+constant:200@1s", count: 300},
		{spec: "ramp:0..100@2s", want: "ramp:0..100@2s", count: 100},
		{spec: "ramp:0..100@2s+constant:100@1s", want: "ramp:0..100@2s+constant:100@1s", count: 200},
		{spec: "constant:500", err: "RATE@DURATION"},
		{spec: "burst:5@1s", err: "unknown kind"},
		{spec: "constant:-1@1s", err: "non-negative"},
		{spec: "constant:NaN@1s", err: "non-negative"},
		{spec: "constant:10@0s", err: "positive"},
		{spec: "constant:200000@1s", err: "over the limit"},
		{spec: "constant:10@11m", err: "over the limit"},
		{spec: "constant:0@1s", err: "no requests"},
		{spec: "ramp:5@1s", err: "FROM..TO"},
		{spec: "500@1s", err: "KIND"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := Parse(tc.spec, DefaultLimits)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tc.want || s.Count() != tc.count {
				t.Fatalf("got %s (%d), want %s (%d)", s, s.Count(), tc.want, tc.count)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"constant:500@30s", "step:100@1s,200@1s", "ramp:0..1000@10s", "ramp:3..1@1s+const:7@3s", "constant:0.001@10m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec, DefaultLimits)
		if err != nil {
			return
		}
		// Anything accepted must round-trip and plan a bounded, ordered, in-range sequence.
		back, err := Parse(s.String(), DefaultLimits)
		if err != nil || back.Count() != s.Count() {
			t.Fatalf("%q → %q does not round-trip: %v", spec, s.String(), err)
		}
		if s.Count() > 100_000*600+int64(len(s.Segments)) {
			t.Fatalf("%q plans %d requests, over the limits", spec, s.Count())
		}
		it := s.Iter()
		var prev time.Duration
		for i := 0; i < 2000; i++ {
			off, ok := it.Next()
			if !ok {
				break
			}
			if off < prev || off < 0 || off >= s.Duration() {
				t.Fatalf("%q: send %d at %v (prev %v, duration %v)", spec, i, off, prev, s.Duration())
			}
			prev = off
		}
	})
}
