package embedded

import (
	"math"
	"testing"
	"time"
)

func TestKeyFilter(t *testing.T) {
	hour := time.Hour.Microseconds()
	now := time.Date(2026, 11, 22, 12, 30, 0, 0, time.UTC)
	at := func(d time.Duration) int64 { return now.Add(d).UnixMicro() }

	t.Run("bucket floors", func(t *testing.T) {
		f := newKeyFilter(hour)
		for _, tc := range []struct{ t, want int64 }{{0, 0}, {hour - 1, 0}, {hour, 1}, {-1, -1}, {-hour, -1}, {-hour - 1, -2}} {
			if got := f.bucket(tc.t); got != tc.want {
				t.Errorf("bucket(%d) = %d, want %d", tc.t, got, tc.want)
			}
		}
		if f := newKeyFilter(1); f.width != hour {
			t.Errorf("width for a 1µs window = %d, want an hour", f.width)
		}
	})

	t.Run("lookups", func(t *testing.T) {
		f := newKeyFilter(hour)
		if f.maybeStored(1, at(0)) {
			t.Fatal("an empty filter covering everything found a key")
		}
		f.add(1, at(0))
		for _, tc := range []struct {
			h1   uint64
			d    time.Duration
			want bool
		}{
			{1, 0, true},
			{1, 59 * time.Minute, true},      // neighbouring bucket
			{1, 3 * time.Hour, false},        // buckets beyond the window
			{1, -3 * time.Hour, false},       //
			{2, 0, false},                    // other key
			{1, math.MaxInt64 / 1000, false}, // far future: bounds clamp, no overflow
			{1, -time.Duration(math.MaxInt64), false},
		} {
			if got := f.maybeStored(tc.h1, at(tc.d)); got != tc.want {
				t.Errorf("maybeStored(%d, now%+v) = %v, want %v", tc.h1, tc.d, got, tc.want)
			}
		}
	})

	t.Run("trim by time", func(t *testing.T) {
		f := newKeyFilter(hour)
		f.add(1, at(-5*time.Hour))
		f.add(2, at(0))
		f.trim(now)
		if f.n != 1 || f.low != f.bucket(at(0))-2 {
			t.Fatalf("after trim: %d keys, low %d; want 1 key, low %d", f.n, f.low, f.bucket(at(0))-2)
		}
		// Rows whose window reaches below low are no longer covered: DuckDB must check them.
		if !f.maybeStored(3, at(-2*time.Hour)) || f.maybeStored(3, at(-time.Hour)) {
			t.Fatal("coverage after trim is wrong")
		}
		f.add(4, at(-4*time.Hour)) // below low: not covered, not kept
		if f.n != 1 {
			t.Fatalf("a key below low was kept")
		}
	})

	t.Run("trim by size", func(t *testing.T) {
		f := newKeyFilter(hour)
		f.maxKeys = 3
		for i := 0; i < 4; i++ {
			f.add(uint64(i), at(time.Duration(i)*time.Hour))
		}
		f.trim(now)
		if f.n != 3 || f.low != f.bucket(at(time.Hour)) {
			t.Fatalf("after trim: %d keys, low %d", f.n, f.low)
		}
	})
}
