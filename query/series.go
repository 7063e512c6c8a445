package query

import (
	"fmt"
	"strconv"
	"time"
)

// PreviousPeriod is the range ComparePrevious compares with: the query's range moved back by
// its own length, [Start-d, End-d).
func (q *Query) PreviousPeriod() (start, end time.Time) {
	d := q.End.Sub(q.Start)
	return q.Start.Add(-d), q.Start
}

// ShiftForward maps a bucket of the previous period (as Bucket returns it) to the current
// period's bucket it is compared with. Fixed buckets (s m h) move by the range's length;
// calendar buckets (d w) move by whole calendar days on the wall clock, so a day matches the
// same weekday across DST changes. The range length is a multiple of the step (FromProto
// checks), so buckets map onto buckets.
func (q *Query) ShiftForward(prev time.Time) time.Time {
	d := q.End.Sub(q.Start)
	if q.Granularity.Calendar() {
		l := prev.In(q.Location)
		days := int(d / (24 * time.Hour))
		return q.Bucket(time.Date(l.Year(), l.Month(), l.Day()+days, 0, 0, 0, 0, q.Location))
	}
	return q.Bucket(prev.Add(d))
}

// Bucket is the bucket of instant t as answers carry it (package planner states the rules):
// for s m h the bucket's first instant, for d w the local midnight that starts it, both in
// q.Location.
func (q *Query) Bucket(t time.Time) time.Time {
	l := t.In(q.Location)
	wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
	into := q.intoBucket(wall)
	if q.Granularity.Calendar() {
		b := wall.Add(-into)
		return time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), q.Location)
	}
	return t.Add(-into).In(q.Location)
}

// intoBucket is how far the wall-clock time wall (a UTC-labelled local time) is into its bucket.
func (q *Query) intoBucket(wall time.Time) time.Duration {
	step := q.Granularity.Step().Microseconds()
	since := wall.UnixMicro() - BucketOrigin.UnixMicro()
	return time.Duration(((since%step)+step)%step) * time.Microsecond // floor modulo
}

// Buckets lists the buckets that meet [Start, End) in time order, as Bucket gives them; it
// stops after max+1 so callers can tell "too many" without enumerating them all.
func (q *Query) Buckets(max int) []time.Time {
	if q.Granularity.IsZero() {
		return nil
	}
	var spans []ZoneSpan
	if q.Location != time.UTC {
		spans, _ = ZoneSpans(q.Location, q.Start, q.End, MaxZoneChanges) // bounded by FromProto
	}
	var out []time.Time
	seen := map[int64]bool{}
	for c := q.Start; c.Before(q.End) && len(out) <= max; {
		b := q.Bucket(c)
		if !seen[b.UnixMicro()] {
			seen[b.UnixMicro()] = true
			out = append(out, b)
		}
		if q.Granularity.Calendar() {
			days := q.Granularity.Count
			if q.Granularity.Unit == Week {
				days *= 7
			}
			c = time.Date(b.Year(), b.Month(), b.Day()+days, 0, 0, 0, 0, q.Location).UTC()
			continue
		}
		// The bucket ends where the wall clock reaches the next step under c's offset, or
		// where the offset changes, whichever is first.
		l := c.In(q.Location)
		wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
		next := c.Add(q.Granularity.Step() - q.intoBucket(wall))
		for _, s := range spans {
			if s.From.After(c) && s.From.Before(next) {
				next = s.From
				break
			}
		}
		c = next
	}
	return out
}

// FormatValue is a group value's canonical text, for series labels (SeriesLimit): strings as
// they are, numbers in their shortest form, bools true/false, times RFC 3339 in the query's
// zone. Null stays nil.
func (q *Query) FormatValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.In(q.Location).Format(time.RFC3339Nano)
	}
	panic(fmt.Sprintf("query: no canonical text for %T", v))
}
