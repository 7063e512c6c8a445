package threshold

import (
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		metric string
		kind   Kind
		op     Op
		value  float64
		err    string
	}{
		{expr: "p99<50ms", metric: "p99", kind: Latency, op: LT, value: 50},
		{expr: " P99.90 <= 1.5s ", metric: "p99.9", kind: Latency, op: LE, value: 1500},
		{expr: "p999<200ms", metric: "p99.9", kind: Latency, op: LT, value: 200},
		{expr: "median<250us", metric: "p50", kind: Latency, op: LT, value: 0.25},
		{expr: "max<=2µs", metric: "max", kind: Latency, op: LE, value: 0.002},
		{expr: "mean>1ms", metric: "mean", kind: Latency, op: GT, value: 1},
		{expr: "errors<1%", metric: "errors", kind: Ratio, op: LT, value: 0.01},
		{expr: "error_rate<0.005", metric: "errors", kind: Ratio, op: LT, value: 0.005},
		{expr: "rate>=95%", metric: "rate", kind: Ratio, op: GE, value: 0.95},
		{expr: "goodput>=0.9", metric: "goodput", kind: Ratio, op: GE, value: 0.9},
		{expr: "dropped==0", metric: "dropped", kind: Ratio, op: EQ, value: 0},
		{expr: "dropped=0%", metric: "dropped", kind: Ratio, op: EQ, value: 0},
		{expr: "rps>1000", metric: "rps", kind: Throughput, op: GT, value: 1000},
		{expr: "ok_p99<=20ms", metric: "ok_p99", kind: Latency, op: LE, value: 20},
		{expr: "OK_median<1s", metric: "ok_p50", kind: Latency, op: LT, value: 1000},
		{expr: "ok_errors<1%", err: "unknown metric"},
		{expr: "p99<50", err: "needs a unit"},
		{expr: "p99<-5ms", err: "negative"},
		{expr: "p101<5ms", err: "unknown metric"},
		{expr: "p0<5ms", err: "unknown metric"},
		{expr: "p1e1<5ms", err: "unknown metric"},
		{expr: "latency<5ms", err: "unknown metric"},
		{expr: "errors<5", err: "over 1"},
		{expr: "errors<-1%", err: "non-negative"},
		{expr: "errors!1%", err: "want METRIC"},
		{expr: "<5ms", err: "want METRIC"},
		{expr: "p99<", err: "no value"},
		{expr: "p99=<5ms", err: "latency bound"},
		{expr: "rps>NaN", err: "finite"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			th, err := Parse(tc.expr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric != tc.metric || th.Kind != tc.kind || th.Op != tc.op || math.Abs(th.Value-tc.value) > 1e-12 {
				t.Fatalf("got %+v", th)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	vals := map[string]float64{"p99": 49.9, "p50": 10, "errors": 0.01, "rate": 0.95, "rps": 1000, "dropped": 0}
	values := func(m string) (float64, bool) { v, ok := vals[m]; return v, ok }
	for _, tc := range []struct {
		expr string
		pass bool
	}{
		{"p99<50ms", true},
		{"p99<49.9ms", false},
		{"p99<=49.9ms", true},
		{"p50>10ms", false},
		{"p50>=10ms", true},
		{"errors<1%", false}, // exactly at the bound fails a strict <
		{"errors<=1%", true},
		{"rate>=95%", true},
		{"rate>95%", false},
		{"rps>999", true},
		{"dropped==0", true},
		{"goodput>=90%", false}, // missing metric fails
		{"p90<1s", false},       // missing percentile fails
	} {
		t.Run(tc.expr, func(t *testing.T) {
			th, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := Check([]Threshold{th}, values)[0]
			if r.Pass != tc.pass {
				t.Fatalf("pass=%v (actual %v, missing %v), want %v", r.Pass, r.Actual, r.Missing, tc.pass)
			}
		})
	}
	ts, err := ParseAll([]string{"p99<50ms", "bogus", "rate>=95%", "p99<"})
	if err == nil || len(ts) != 2 || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), "no value") {
		t.Fatalf("ParseAll: %d parsed, err %v", len(ts), err)
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{"P99 < 50ms": "p99<50ms", "errors<0.01": "errors<1%", "p99.9<=1.5s": "p99.9<=1500ms", "rps>=10": "rps>=10"} {
		th, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if th.String() != want {
			t.Errorf("%q → %q, want %q", in, th.String(), want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"p99<50ms", "errors<1%", "rate>=95%", "p99.9 <= 1.5s", "rps>1000", "dropped=0", "goodput>=0.9", "median<250µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := Parse(expr)
		if err != nil {
			return
		}
		if math.IsNaN(th.Value) || math.IsInf(th.Value, 0) || th.Value < 0 {
			t.Fatalf("%q parsed to value %v", expr, th.Value)
		}
		// The canonical form must parse back to the same threshold.
		back, err := Parse(th.String())
		if err != nil {
			t.Fatalf("%q → %q: %v", expr, th.String(), err)
		}
		if back.Metric != th.Metric || back.Op != th.Op || back.Kind != th.Kind ||
			math.Abs(back.Value-th.Value) > 1e-9*math.Max(1, th.Value)+1e-6 {
			t.Fatalf("%q → %q → %+v, want %+v", expr, th.String(), back, th)
		}
		_ = th.Holds(th.Value)
	})
}
