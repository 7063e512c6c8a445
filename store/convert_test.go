package store

import (
	"math"
	"testing"
)

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in      any
		want    int64
		handled bool
		err     bool
	}{
		{int64(-5), -5, true, false}, {int32(7), 7, true, false}, {uint8(255), 255, true, false},
		{uint64(math.MaxInt64), math.MaxInt64, true, false}, {uint64(math.MaxInt64) + 1, 0, true, true},
		{3.0, 3, true, false}, {3.5, 0, true, true}, {math.Pow(2, 63), 0, true, true}, {-math.Pow(2, 63), math.MinInt64, true, false},
		{float32(2), 2, true, false}, {"7", 0, false, false}, {nil, 0, false, false},
	} {
		n, ok, err := Int64(tc.in)
		if ok != tc.handled || (err != nil) != tc.err || (err == nil && n != tc.want) {
			t.Errorf("Int64(%#v) = %d, %v, %v", tc.in, n, ok, err)
		}
	}
	if f, ok := Float64(uint16(9)); !ok || f != 9 {
		t.Errorf("Float64(uint16) = %v %v", f, ok)
	}
	if _, ok := Float64("9"); ok {
		t.Error("Float64(string) handled")
	}
}
