package otelrows

import (
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// DefaultMaxSeries bounds the series a Deltas remembers when MaxSeries is 0.
const DefaultMaxSeries = 100_000

// A series not seen for forgetAfter is forgotten, at most every sweepEvery; a series that
// comes back after that is new again (its next point only seeds it).
const (
	forgetAfter = time.Hour
	sweepEvery  = 10 * time.Minute
)

// Deltas converts cumulative sums and histograms to deltas at ingest, so SUM over any time
// range of the stored points is the increase within it. It remembers each series' last
// cumulative point (a series: resource, scope, metric name and type, point attributes).
//
//   - A point whose start time differs from the series' last, or whose value (count) went
//     down on a monotonic sum (histogram), is a reset: its delta is its whole value, from its
//     start time.
//   - A series' first point is stored with its whole value only if its start time is after
//     the Deltas was created: the process began while olapgate was receiving, so nothing of
//     it was stored before. Otherwise (olapgate restarted, or joined late) the point only
//     seeds the series, since its value may include increases already stored as deltas.
//   - A point not after the series' last one (a retry, or out of order) is dropped.
//
// Converted points are stored with AggregationTemporality 1 (delta) and StartTimeUnix the
// previous point's time; a histogram delta has no Min and Max (they are since the start).
// Exponential histograms and summaries are stored as sent. A Deltas is safe for concurrent use.
type Deltas struct {
	// MaxSeries bounds memory: beyond it, points of new series are stored as sent
	// (cumulative, and labelled so). 0: DefaultMaxSeries.
	MaxSeries int

	mu        sync.Mutex
	created   pcommon.Timestamp
	series    map[string]*seriesState
	lastSweep time.Time
}

type seriesState struct {
	start, last pcommon.Timestamp
	value       float64 // sum: value; histogram: sum
	count       uint64
	buckets     []uint64
	bounds      []float64
	seen        time.Time
}

// NewDeltas returns an empty conversion state, created now.
func NewDeltas() *Deltas {
	now := time.Now()
	return &Deltas{created: pcommon.NewTimestampFromTime(now), series: map[string]*seriesState{}, lastSweep: now}
}

// Forget drops the series not seen since before, bounding memory to the live series.
func (d *Deltas) Forget(before time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, s := range d.series {
		if s.seen.Before(before) {
			delete(d.series, k)
		}
	}
}

// Len is the number of series remembered.
func (d *Deltas) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.series)
}

type deltaVerdict int

const (
	deltaAsSent deltaVerdict = iota // store the point as sent
	deltaStore                      // store the converted point
	deltaDrop                       // store nothing (seed, retry, out of order)
)

// lookup returns the series' state and whether it is new; nil when the table is full.
func (d *Deltas) lookup(key string, now time.Time) (*seriesState, bool) {
	if now.Sub(d.lastSweep) > sweepEvery {
		d.lastSweep = now
		for k, s := range d.series {
			if now.Sub(s.seen) > forgetAfter {
				delete(d.series, k)
			}
		}
	}
	if s, ok := d.series[key]; ok {
		s.seen = now
		return s, false
	}
	limit := d.MaxSeries
	if limit == 0 {
		limit = DefaultMaxSeries
	}
	if len(d.series) >= limit {
		return nil, false
	}
	s := &seriesState{seen: now}
	d.series[key] = s
	return s, true
}

// sum converts a cumulative sum point: it returns the verdict and, to store, the delta and its
// start time.
func (d *Deltas) sum(key string, dp pmetric.NumberDataPoint, value float64, monotonic bool) (deltaVerdict, float64, pcommon.Timestamp) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, isNew := d.lookup(key, time.Now())
	switch {
	case s == nil:
		return deltaAsSent, 0, 0
	case isNew:
		s.start, s.last, s.value = dp.StartTimestamp(), dp.Timestamp(), value
		if dp.StartTimestamp() != 0 && dp.StartTimestamp() >= d.created {
			return deltaStore, value, dp.StartTimestamp()
		}
		return deltaDrop, 0, 0
	case dp.Timestamp() <= s.last:
		return deltaDrop, 0, 0
	}
	prevLast := s.last
	reset := dp.StartTimestamp() != s.start || (monotonic && value < s.value)
	delta, from := value-s.value, prevLast
	if reset {
		delta, from = value, dp.StartTimestamp()
	}
	s.start, s.last, s.value = dp.StartTimestamp(), dp.Timestamp(), value
	return deltaStore, delta, from
}

// histogram converts a cumulative histogram point in place in r (count, sum, bucket counts).
func (d *Deltas) histogram(key string, dp pmetric.HistogramDataPoint, r *metricRow, counts []uint64) (deltaVerdict, []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, isNew := d.lookup(key, time.Now())
	bounds := dp.ExplicitBounds().AsRaw()
	remember := func() {
		s.start, s.last, s.value, s.count = dp.StartTimestamp(), dp.Timestamp(), dp.Sum(), dp.Count()
		s.buckets = append(s.buckets[:0], counts...)
		s.bounds = append(s.bounds[:0], bounds...)
	}
	switch {
	case s == nil:
		return deltaAsSent, counts
	case isNew:
		remember()
		if dp.StartTimestamp() != 0 && dp.StartTimestamp() >= d.created {
			r.start = dp.StartTimestamp()
			r.hasMin, r.hasMax = false, false
			return deltaStore, counts
		}
		return deltaDrop, nil
	case dp.Timestamp() <= s.last:
		return deltaDrop, nil
	}
	reset := dp.StartTimestamp() != s.start || dp.Count() < s.count || !slices.Equal(bounds, s.bounds) || len(counts) != len(s.buckets)
	if !reset {
		for i := range counts {
			if counts[i] < s.buckets[i] {
				reset = true
				break
			}
		}
	}
	out := counts
	if reset {
		r.start = dp.StartTimestamp()
	} else {
		out = make([]uint64, len(counts))
		for i := range counts {
			out[i] = counts[i] - s.buckets[i]
		}
		r.count = dp.Count() - s.count
		r.sum = dp.Sum() - s.value
		r.start = s.last
	}
	remember()
	r.hasMin, r.hasMax = false, false
	return deltaStore, out
}
