package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/internal/dataset"
)

// MaxValues bounds the values of one comparison (IN lists), keeping statements a bounded size.
const MaxValues = 10000

// convertValue converts a request value to the Go type of a field of type t.
func convertValue(v *structpb.Value, t dataset.Type) (any, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, fmt.Errorf("null is not a value to compare with; use IS_NULL")
	case *structpb.Value_StringValue:
		return convertString(k.StringValue, t)
	case *structpb.Value_NumberValue:
		return convertNumber(k.NumberValue, t)
	case *structpb.Value_BoolValue:
		if t != dataset.Bool {
			return nil, fmt.Errorf("%t: want %s", k.BoolValue, want(t))
		}
		return k.BoolValue, nil
	default:
		return nil, fmt.Errorf("lists and objects are not values; want %s", want(t))
	}
}

func convertString(s string, t dataset.Type) (any, error) {
	switch t {
	case dataset.String:
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%q is not valid UTF-8", s)
		}
		return s, nil
	case dataset.Int:
		// Accepted as a string so integers past 2^53 survive JSON clients.
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: want %s", s, want(t))
		}
		return n, nil
	case dataset.Timestamp:
		tm, err := parseTime(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		return tm, nil
	}
	return nil, fmt.Errorf("%q: want %s", s, want(t))
}

func convertNumber(f float64, t dataset.Type) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v is not a finite number", f)
	}
	switch t {
	case dataset.Float:
		return f, nil
	case dataset.Int:
		// 2^63 is exactly representable; anything from it up does not fit an int64.
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return nil, fmt.Errorf("%v: want an integer (int64)", f)
		}
		return int64(f), nil
	case dataset.Timestamp:
		if f != math.Trunc(f) || math.Abs(f) > 1e15 {
			return nil, fmt.Errorf("%v: want epoch milliseconds (an integer) or RFC 3339", f)
		}
		return parseTime(strconv.FormatInt(int64(f), 10))
	}
	return nil, fmt.Errorf("%v: want %s", f, want(t))
}

func want(t dataset.Type) string {
	switch t {
	case dataset.String:
		return "a string"
	case dataset.Int:
		return "an integer"
	case dataset.Float:
		return "a number"
	case dataset.Bool:
		return "true or false"
	case dataset.Timestamp:
		return "an RFC 3339 string or epoch milliseconds"
	}
	return string(t)
}
