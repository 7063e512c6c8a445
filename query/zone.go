package query

import (
	"fmt"
	"time"
)

// ZoneSpan is a stretch of time over which a zone's UTC offset is constant.
type ZoneSpan struct {
	// From is the first instant of the span (the range's start for the first span).
	From time.Time
	// Offset is the zone's offset from UTC, in seconds east.
	Offset int
}

// MaxZoneChanges bounds the offset changes a bucketed range may span: a planner renders one
// branch per change (two a year in DST zones, so this is centuries).
const MaxZoneChanges = 1000

// ZoneSpans lists loc's offsets over [start, end): the first span starts at start, each next one
// at an instant where the offset changes. Transitions that only rename the zone or flip its
// DST flag without changing the offset are skipped. An error means more than max changes.
func ZoneSpans(loc *time.Location, start, end time.Time, max int) ([]ZoneSpan, error) {
	_, off := start.In(loc).Zone()
	spans := []ZoneSpan{{From: start, Offset: off}}
	t := start
	for {
		_, next := t.In(loc).ZoneBounds()
		if next.IsZero() {
			return spans, nil
		}
		if !next.After(t) {
			// Past its table Go extends a zone by its rule, and near the end of leap years it
			// reports periods that ended before t. Step an hour there (no zone changes its
			// offset twice within an hour) and find any change to the second.
			next = t.Add(time.Hour)
			if offsetAt(loc, next) != offsetAt(loc, t) {
				next = firstChange(loc, t, next)
			}
		}
		if !next.Before(end) {
			return spans, nil
		}
		t = next
		if _, off := t.In(loc).Zone(); off != spans[len(spans)-1].Offset {
			if len(spans) > max {
				return nil, fmt.Errorf("zone %s changes its UTC offset more than %d times in the range", loc, max)
			}
			spans = append(spans, ZoneSpan{From: t.UTC(), Offset: off})
		}
	}
}

func offsetAt(loc *time.Location, t time.Time) int {
	_, off := t.In(loc).Zone()
	return off
}

// firstChange is the first whole second in (lo, hi] with hi's offset, where lo's differs.
func firstChange(loc *time.Location, lo, hi time.Time) time.Time {
	want := offsetAt(loc, hi)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if !mid.After(lo) {
			mid = lo.Add(time.Second)
		}
		if offsetAt(loc, mid) == want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
