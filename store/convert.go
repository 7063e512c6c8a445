package store

import (
	"fmt"
	"math"
)

// Int64 converts a driver value of one of Go's integer types, or an integral float, to the
// int64 of an INT64 result column. handled is false for any other type, which the store then
// converts itself (DuckDB's HUGEINT and DECIMAL, say).
func Int64(v any) (n int64, handled bool, err error) {
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int32:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, true, fmt.Errorf("unsigned %d overflows INT64", x)
		}
		return int64(x), true, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, true, fmt.Errorf("unsigned %d overflows INT64", x)
		}
		return int64(x), true, nil
	case float64:
		n, err := FloatToInt64(x)
		return n, true, err
	case float32:
		n, err := FloatToInt64(float64(x))
		return n, true, err
	}
	return 0, false, nil
}

// FloatToInt64 converts an integral float (engines answer some integer aggregates as
// doubles) to int64, or says why it cannot.
func FloatToInt64(f float64) (int64, error) {
	// 2^63 is exactly representable; every float below it in magnitude fits an int64.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("%v is not an integral INT64", f)
	}
	return int64(f), nil
}

// Float64 converts a driver value of one of Go's numeric types to the float64 of a DOUBLE
// result column; handled is false for any other type.
func Float64(v any) (f float64, handled bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case int:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}
