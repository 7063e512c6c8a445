package query

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bounds on any time in a query: RFC 3339 cannot print years outside 1..9999, and every store
// holds them.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// DefaultRange is how far before its end a range without a start begins.
const DefaultRange = time.Hour

var (
	relativeRE = regexp.MustCompile(`^now(?:([+-])([0-9]{1,12})([smhdw]))?$`)
	granRE     = regexp.MustCompile(`^([0-9]{1,9})([smhdw])$`)
)

// maxStep bounds a bucket width: wider buckets are never useful and would overflow
// microsecond arithmetic in some backends.
const maxStep = 100 * 366 * 24 * time.Hour

var errTimeSyntax = errors.New("want RFC 3339 (2026-11-22T00:00:00Z), epoch milliseconds, or now, now-6h, now+1d (units s m h d w)")

// parseBound resolves one time-range bound.
func parseBound(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || !strings.EqualFold(s[:3], "now") {
		return parseTime(s) // the common case, without the regexp
	}
	if m := relativeRE.FindStringSubmatch(strings.ToLower(s)); m != nil {
		if m[1] == "" {
			return checkTime(now)
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		unit := Unit(m[3][0]).duration()
		if n > math.MaxInt64/int64(unit) {
			return time.Time{}, fmt.Errorf("%q is too far from now", s)
		}
		d := time.Duration(n) * unit
		if m[1] == "-" {
			d = -d
		}
		return checkTime(now.Add(d))
	}
	return parseTime(s)
}

// isEpochMs reports whether s is an optional minus and 1 to 16 digits (what epochMsRE says,
// without a regexp on every request).
func isEpochMs(s string) bool {
	d := strings.TrimPrefix(s, "-")
	if len(d) == 0 || len(d) > 16 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// parseTime parses an absolute time: RFC 3339 or epoch milliseconds.
func parseTime(s string) (time.Time, error) {
	if isEpochMs(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, errTimeSyntax)
		}
		return checkTime(time.UnixMilli(ms))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", s, errTimeSyntax)
	}
	return checkTime(t)
}

// checkTime bounds a time and brings it to the stores' form: UTC, whole microseconds (floor,
// so a bound and the rows a store holds compare the same way in every evaluator).
func checkTime(t time.Time) (time.Time, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("%s is outside years 1 to 9999", t.UTC().Format(time.RFC3339Nano))
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// parseGranularity parses "15m", "1h", "1d", "2w"; "" is no granularity.
func parseGranularity(s string) (Granularity, error) {
	if s == "" {
		return Granularity{}, nil
	}
	m := granRE.FindStringSubmatch(s)
	if m == nil {
		return Granularity{}, fmt.Errorf("%q: want a count and a unit among s m h d w, e.g. 15m, 1h, 1d, 2w", s)
	}
	n, _ := strconv.Atoi(m[1])
	g := Granularity{Count: n, Unit: Unit(m[2][0])}
	if n == 0 {
		return Granularity{}, fmt.Errorf("%q: the count must be at least 1", s)
	}
	if time.Duration(n) > maxStep/g.Unit.duration() {
		return Granularity{}, fmt.Errorf("%q: wider than %d days", s, int(maxStep/(24*time.Hour)))
	}
	return g, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
