// Package schedule plans open-loop send times in advance (constant, step and linear-ramp rates).
//
// Send times are a pure function of the schedule, never of how the target answers: that is
// what keeps an open-loop run free of coordinated omission (latency is measured from the
// planned time, as wrk2 and k6's arrival-rate executors do).
package schedule

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Segment is a stretch of the schedule whose rate goes linearly from From to To requests per
// second over Duration (From == To for a constant rate).
type Segment struct {
	From, To float64
	Duration time.Duration
}

// Schedule is a sequence of segments run back to back.
type Schedule struct {
	Segments []Segment
}

// Limits bound what Parse and Validate accept; the zero value means no bound.
type Limits struct {
	MaxRate     float64
	MaxDuration time.Duration
}

// DefaultLimits keep an accidental run from flooding a machine: 100k rps, 10 minutes.
var DefaultLimits = Limits{MaxRate: 100_000, MaxDuration: 10 * time.Minute}

// Constant is a schedule of rate requests per second for d.
func Constant(rate float64, d time.Duration) Schedule {
	return Schedule{Segments: []Segment{{From: rate, To: rate, Duration: d}}}
}

// Ramp is a schedule whose rate grows (or falls) linearly from→to over d.
func Ramp(from, to float64, d time.Duration) Schedule {
	return Schedule{Segments: []Segment{{From: from, To: to, Duration: d}}}
}

// Duration is the schedule's total length.
func (s Schedule) Duration() time.Duration {
	var d time.Duration
	for _, g := range s.Segments {
		d += g.Duration
	}
	return d
}

// Count is the number of requests the schedule plans.
func (s Schedule) Count() int64 {
	var n int64
	for _, g := range s.Segments {
		n += g.count()
	}
	return n
}

// RateAt is the offered rate (requests per second) at offset t; 0 outside the schedule.
func (s Schedule) RateAt(t time.Duration) float64 {
	var start time.Duration
	for _, g := range s.Segments {
		if t >= start && t < start+g.Duration {
			return g.From + (g.To-g.From)*float64(t-start)/float64(g.Duration)
		}
		start += g.Duration
	}
	return 0
}

// MeanRate is Count over Duration, the offered rate a report compares achieved throughput with.
func (s Schedule) MeanRate() float64 {
	d := s.Duration()
	if d <= 0 {
		return 0
	}
	return float64(s.Count()) / d.Seconds()
}

// Validate checks rates and durations against lim.
func (s Schedule) Validate(lim Limits) error {
	if len(s.Segments) == 0 {
		return errors.New("schedule has no segments")
	}
	for i, g := range s.Segments {
		if g.Duration <= 0 {
			return fmt.Errorf("segment %d: duration %s must be positive", i+1, g.Duration)
		}
		for _, r := range []float64{g.From, g.To} {
			if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
				return fmt.Errorf("segment %d: rate %v must be a non-negative number", i+1, r)
			}
			if lim.MaxRate > 0 && r > lim.MaxRate {
				return fmt.Errorf("segment %d: rate %v/s is over the limit of %v/s", i+1, r, lim.MaxRate)
			}
		}
	}
	if lim.MaxDuration > 0 && s.Duration() > lim.MaxDuration {
		return fmt.Errorf("schedule lasts %s, over the limit of %s", s.Duration(), lim.MaxDuration)
	}
	if s.Count() == 0 {
		return errors.New("schedule plans no requests")
	}
	return nil
}

// count is how many planned times fall in [0, Duration): k/rate < d for a constant rate, and
// the k with N(t_k) = k < N(d) for a ramp, where N is the cumulative arrival function.
func (g Segment) count() int64 {
	if g.Duration <= 0 || g.From < 0 || g.To < 0 {
		return 0
	}
	if g.From == g.To {
		if r, ok := integral(g.From); ok {
			// ceil(r·d/1e9) in 128-bit integers, so whole rates plan exactly.
			hi, lo := bits.Mul64(r, uint64(g.Duration))
			lo, carry := bits.Add64(lo, uint64(time.Second)-1, 0)
			hi += carry
			if hi >= uint64(time.Second) {
				return maxCount
			}
			q, _ := bits.Div64(hi, lo, uint64(time.Second))
			return clampCount(float64(q))
		}
		return clampCount(math.Ceil(g.From * g.Duration.Seconds()))
	}
	return clampCount(math.Ceil((g.From + g.To) / 2 * g.Duration.Seconds()))
}

// maxCount keeps absurd specs (only reachable with Limits off) from overflowing int64.
const maxCount = 1 << 53

func clampCount(f float64) int64 {
	if !(f < maxCount) {
		return maxCount
	}
	return int64(f)
}

// at is the planned offset of the k-th request within the segment.
func (g Segment) at(k int64) time.Duration {
	if g.From == g.To {
		if r, ok := integral(g.From); ok {
			// Exact integer nanoseconds, floor(k·1e9/r), in 128 bits: no float rounding, so
			// the k-th send of a 500 rps run is at exactly k·2ms.
			hi, lo := bits.Mul64(uint64(k), uint64(time.Second))
			if hi >= r {
				return g.Duration
			}
			q, _ := bits.Div64(hi, lo, r)
			return time.Duration(q)
		}
		return time.Duration(float64(k) / g.From * 1e9)
	}
	// N(t) = from·t + (to-from)·t²/(2D) = k, solved for t ≥ 0. The form
	// 2k / (from + sqrt(from² + 2ak)) avoids cancellation when from ≫ a.
	d := g.Duration.Seconds()
	a := (g.To - g.From) / d
	disc := g.From*g.From + 2*a*float64(k)
	if disc < 0 {
		disc = 0
	}
	den := g.From + math.Sqrt(disc)
	if den == 0 {
		return 0
	}
	t := 2 * float64(k) / den
	return time.Duration(math.Round(t * 1e9))
}

func integral(r float64) (uint64, bool) {
	if r >= 1 && r <= 1<<53 && r == math.Trunc(r) {
		return uint64(r), true
	}
	return 0, false
}

// Iterator yields planned offsets from the start of the run, in order, without holding them
// all in memory (a 10-minute run at 100k rps plans 60M requests).
type Iterator struct {
	s     Schedule
	seg   int
	k     int64
	n     int64
	start time.Duration
}

// Iter returns an iterator over s's planned offsets.
func (s Schedule) Iter() *Iterator {
	it := &Iterator{s: s, seg: -1}
	it.nextSegment()
	return it
}

func (it *Iterator) nextSegment() {
	if it.seg >= 0 && it.seg < len(it.s.Segments) {
		it.start += it.s.Segments[it.seg].Duration
	}
	it.seg++
	it.k = 0
	if it.seg < len(it.s.Segments) {
		it.n = it.s.Segments[it.seg].count()
	}
}

// Next returns the next planned offset, or false once the schedule is exhausted.
func (it *Iterator) Next() (time.Duration, bool) {
	for it.seg < len(it.s.Segments) {
		if it.k < it.n {
			g := it.s.Segments[it.seg]
			off := g.at(it.k)
			it.k++
			// Float rounding in a ramp must never push a send past its segment's end.
			if off >= g.Duration {
				off = g.Duration - 1
			}
			return it.start + off, true
		}
		it.nextSegment()
	}
	return 0, false
}

// Parse reads a schedule spec:
//
//	constant:500@30s           500 rps for 30 s
//	step:100@5s,200@5s,400@5s  rate steps, each for its duration
//	ramp:100..1000@30s         linear ramp from 100 to 1000 rps over 30 s
//
// Several specs may be chained with '+', e.g. "ramp:0..500@10s+constant:500@30s".
func Parse(spec string, lim Limits) (Schedule, error) {
	var s Schedule
	for _, part := range strings.Split(spec, "+") {
		kind, body, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return Schedule{}, fmt.Errorf("schedule %q: want KIND:..., KIND one of constant, step, ramp", part)
		}
		switch strings.ToLower(kind) {
		case "constant", "const":
			g, err := parseSeg(body, false)
			if err != nil {
				return Schedule{}, fmt.Errorf("parse constant schedule %q: %w", part, err)
			}
			s.Segments = append(s.Segments, g)
		case "step", "steps":
			for _, st := range strings.Split(body, ",") {
				g, err := parseSeg(st, false)
				if err != nil {
					return Schedule{}, fmt.Errorf("parse step schedule %q: %w", part, err)
				}
				s.Segments = append(s.Segments, g)
			}
		case "ramp":
			g, err := parseSeg(body, true)
			if err != nil {
				return Schedule{}, fmt.Errorf("parse ramp schedule %q: %w", part, err)
			}
			s.Segments = append(s.Segments, g)
		default:
			return Schedule{}, fmt.Errorf("schedule %q: unknown kind %q (constant, step, ramp)", part, kind)
		}
	}
	if err := s.Validate(lim); err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

func parseSeg(s string, ramp bool) (Segment, error) {
	rates, dur, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		return Segment{}, fmt.Errorf("%q: want RATE@DURATION", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(dur))
	if err != nil {
		return Segment{}, fmt.Errorf("duration: %w", err)
	}
	if d <= 0 {
		return Segment{}, fmt.Errorf("duration %s must be positive", d)
	}
	var from, to float64
	if ramp {
		a, b, ok := strings.Cut(rates, "..")
		if !ok {
			return Segment{}, fmt.Errorf("%q: want FROM..TO@DURATION", s)
		}
		if from, err = parseRate(a); err != nil {
			return Segment{}, err
		}
		if to, err = parseRate(b); err != nil {
			return Segment{}, err
		}
	} else {
		if from, err = parseRate(rates); err != nil {
			return Segment{}, err
		}
		to = from
	}
	return Segment{From: from, To: to, Duration: d}, nil
}

func parseRate(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return 0, fmt.Errorf("rate %q must be a non-negative number", s)
	}
	return r, nil
}

// String renders s in Parse's syntax.
func (s Schedule) String() string {
	var parts []string
	for _, g := range s.Segments {
		if g.From == g.To {
			parts = append(parts, "constant:"+ftoa(g.From)+"@"+g.Duration.String())
		} else {
			parts = append(parts, "ramp:"+ftoa(g.From)+".."+ftoa(g.To)+"@"+g.Duration.String())
		}
	}
	return strings.Join(parts, "+")
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
