package decode

import (
	"math"
	"testing"
	"time"
)

func TestJSONInt(t *testing.T) {
	for _, tc := range []struct {
		num  string
		want int64
		p    numProblem
	}{
		{"0", 0, numOK}, {"-0", 0, numOK}, {"7", 7, numOK}, {"-7", -7, numOK},
		{"123456789012345678", 123456789012345678, numOK}, // fast path limit
		{"1234567890123456789", 1234567890123456789, numOK},
		{"9223372036854775807", math.MaxInt64, numOK},
		{"-9223372036854775808", math.MinInt64, numOK},
		{"9223372036854775808", 0, numOutOfRange},
		{"-9223372036854775809", 0, numOutOfRange},
		{"18446744073709551616", 0, numOutOfRange},
		{"99999999999999999999999", 0, numOutOfRange},
		{"1e3", 1000, numOK}, {"1E3", 1000, numOK}, {"1e+3", 1000, numOK}, {"-2e0", -2, numOK},
		{"2.0", 2, numOK}, {"2.000", 2, numOK}, {"1.5e1", 15, numOK}, {"0.5e1", 5, numOK},
		{"100e-2", 1, numOK}, {"1000e-3", 1, numOK}, {"0.0", 0, numOK}, {"0e99999999999999", 0, numOK},
		{"9.223372036854775807e18", math.MaxInt64, numOK},
		{"9.223372036854775808e18", 0, numOutOfRange},
		{"-9.223372036854775808e18", math.MinInt64, numOK},
		{"1e18", 1e18, numOK}, {"1e19", 0, numOutOfRange}, {"1e30", 0, numOutOfRange},
		{"1.5", 0, numNotIntegral}, {"0.1", 0, numNotIntegral}, {"-0.5", 0, numNotIntegral},
		{"1e-1", 0, numNotIntegral}, {"10e-2", 0, numNotIntegral}, {"1.25e1", 0, numNotIntegral},
		{"1e-99999999999", 0, numNotIntegral},
		{"1.5e30", 0, numOutOfRange}, // integral, too large
		{"9007199254740993", 9007199254740993, numOK},
	} {
		got, p := jsonInt([]byte(tc.num))
		if got != tc.want || p != tc.p {
			t.Errorf("jsonInt(%s) = %d, %d; want %d, %d", tc.num, got, p, tc.want, tc.p)
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string // "" when refused
	}{
		{"2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"},
		{"2026-11-22T10:00:00.000001Z", "2026-11-22T10:00:00.000001Z"},
		{"2026-11-22T10:00:00.0000019Z", "2026-11-22T10:00:00.000001Z"},
		{"2026-11-22T10:00:00+05:45", "2026-11-22T04:15:00Z"},
		{"2026-11-22T10:00:00-23:59", "2026-11-23T09:59:00Z"},
		{"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
		{"2100-03-01T00:00:00Z", "2100-03-01T00:00:00Z"},
		{"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"}, // parsed; the range is the caller's
		{"0000-03-01T00:00:00Z", "0000-03-01T00:00:00Z"},
		{"2100-02-29T00:00:00Z", ""},
		{"2026-04-31T00:00:00Z", ""},
		{"2026-11-22T10:00:00", ""},
		{"2026-11-22T10:00:00ZZ", ""},
		{"2026-11-22T10:00:00+05", ""},
		{"2026-11-22T10:00:00+05:4", ""},
		{"2026-11-22T10:00:00+05:60", ""},
		{"2026-11-22T10:00:00.", ""},
		{"2026-11-22T10:00:0aZ", ""},
		{"2026-11-22X10:00:00Z", ""},
		{"2026/11/22T10:00:00Z", ""},
		{"", ""},
	} {
		sec, us, ok := parseRFC3339(tc.s)
		if tc.want == "" {
			if ok {
				t.Errorf("parseRFC3339(%q) accepted", tc.s)
			}
			continue
		}
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if !ok || sec != want.Unix() || us != int64(want.Nanosecond()/1000) {
			t.Errorf("parseRFC3339(%q) = %d, %d, %v; want %v", tc.s, sec, us, ok, want)
		}
	}
}

func TestFormat(t *testing.T) {
	if FormatArray.String() != "array" || FormatNDJSON.String() != "ndjson" || Format(9).String() != "Format(9)" {
		t.Fatal(FormatArray, FormatNDJSON, Format(9))
	}
}
