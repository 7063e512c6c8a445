package loadtest

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 µs to 60 s at 3 significant digits, recorded in microseconds. Slower
// answers are clamped to 60 s (and are errors anyway: the default timeout is 10 s).
const (
	histMin    = 1
	histMax    = int64(60 * time.Second / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < 0 {
		us = 0
	}
	_ = h.RecordValue(min(us, histMax)) // cannot fail once clamped into range
}

// Second is one entry of the per-second timeline. Offered and Dropped count requests by
// their planned second, Sent by the second they were sent, OK/Errors and the percentiles by
// the second they completed (so a stall shows as a gap, then a latency spike).
type Second struct {
	T       int     `json:"t"`
	Offered int64   `json:"offered"`
	Sent    int64   `json:"sent"`
	OK      int64   `json:"ok"`
	Errors  int64   `json:"errors"`
	Dropped int64   `json:"dropped"`
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
}

// Outcome is what a target reports for one request.
type Outcome struct {
	// Code labels the answer for the status breakdown: a gRPC code name ("OK",
	// "ResourceExhausted"), an HTTP status ("200", "429"), or a transport failure
	// ("timeout", "canceled", "connection_refused", "transport").
	Code string
	OK   bool
	// Err, when set, is kept as an example message for its code.
	Err error
}

// Sample is one completed request, given to Options.Observe. Offsets are from the run start.
type Sample struct {
	Seq     uint64
	Planned time.Duration // open loop: the planned send time; closed loop: the actual one
	Sent    time.Duration
	Done    time.Duration
	Outcome Outcome
}

// Latency is the recorded latency: completion minus planned send time.
func (s Sample) Latency() time.Duration { return s.Done - s.Planned }

// recorder collects a run's measurements. One mutex: at the rates one generator core can
// drive (tens of thousands per second) an uncontended lock costs far less than a request.
type recorder struct {
	mu    sync.Mutex
	start time.Time

	lat, svc, late *hdrhistogram.Histogram
	okLat          *hdrhistogram.Histogram // successful requests only: "admitted" latency
	sec            *hdrhistogram.Histogram // the current timeline second's latencies
	secIdx         int
	timeline       []Second

	statuses map[string]int64
	samples  map[string]string

	offered, sent, completed, ok, errs int64
	droppedInFlight, droppedLate       int64
	lastDone                           time.Duration
}

func newRecorder(start time.Time) *recorder {
	return &recorder{
		start: start, lat: newHist(), svc: newHist(), late: newHist(), okLat: newHist(), sec: newHist(),
		statuses: map[string]int64{}, samples: map[string]string{},
	}
}

func (r *recorder) second(off time.Duration) *Second {
	i := max(int(off/time.Second), 0)
	for len(r.timeline) <= i {
		r.timeline = append(r.timeline, Second{T: len(r.timeline)})
	}
	return &r.timeline[i]
}

// advance closes timeline seconds before idx: their percentiles come from the rotating
// histogram, so only one per-second histogram is ever held.
func (r *recorder) advance(idx int) {
	for r.secIdx < idx {
		s := r.second(time.Duration(r.secIdx) * time.Second)
		if r.sec.TotalCount() > 0 {
			s.P50Ms = usToMs(r.sec.ValueAtQuantile(50))
			s.P99Ms = usToMs(r.sec.ValueAtQuantile(99))
			r.sec.Reset()
		}
		r.secIdx++
	}
}

func (r *recorder) offer(planned time.Duration) {
	r.mu.Lock()
	r.offered++
	r.second(planned).Offered++
	r.mu.Unlock()
}

func (r *recorder) drop(planned time.Duration, late bool) {
	r.mu.Lock()
	if late {
		r.droppedLate++
	} else {
		r.droppedInFlight++
	}
	r.second(planned).Dropped++
	r.mu.Unlock()
}

func (r *recorder) markSent(sent time.Duration) {
	r.mu.Lock()
	r.sent++
	r.second(sent).Sent++
	r.mu.Unlock()
}

func (r *recorder) done(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A completion stamped just before another goroutine rotated the second lands in the
	// current one: the timeline is for eyes, the run totals stay exact.
	idx := max(int(s.Done/time.Second), r.secIdx)
	r.advance(idx)
	r.completed++
	lat := s.Done - s.Planned
	record(r.lat, lat)
	record(r.svc, s.Done-s.Sent)
	record(r.late, s.Sent-s.Planned)
	record(r.sec, lat)
	sec := r.second(time.Duration(idx) * time.Second)
	if s.Outcome.OK {
		r.ok++
		sec.OK++
		record(r.okLat, lat)
	} else {
		r.errs++
		sec.Errors++
	}
	code := s.Outcome.Code
	if code == "" {
		code = "unknown"
	}
	r.statuses[code]++
	if s.Outcome.Err != nil && len(r.samples) < 32 {
		if _, seen := r.samples[code]; !seen {
			r.samples[code] = s.Outcome.Err.Error()
		}
	}
	r.lastDone = max(r.lastDone, s.Done)
}

// Snapshot is the live state passed to Options.Progress once per second.
type Snapshot struct {
	Elapsed     time.Duration
	Total       time.Duration // the planned run length
	OfferedRate float64       // the schedule's rate now (0 in closed loop)
	Offered     int64
	Sent        int64
	OK          int64
	Errors      int64
	Dropped     int64
	InFlight    int64
	// LastRate, LastP50 and LastP99 describe the last completed second.
	LastRate         float64
	LastP50, LastP99 time.Duration
}

func (r *recorder) snapshot(now time.Duration) Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(int(now / time.Second))
	s := Snapshot{
		Elapsed: now, Offered: r.offered, Sent: r.sent, OK: r.ok, Errors: r.errs,
		Dropped: r.droppedInFlight + r.droppedLate, InFlight: r.sent - r.completed,
	}
	if i := r.secIdx - 1; i >= 0 && i < len(r.timeline) {
		last := r.timeline[i]
		s.LastRate = float64(last.OK + last.Errors)
		s.LastP50 = time.Duration(last.P50Ms * float64(time.Millisecond))
		s.LastP99 = time.Duration(last.P99Ms * float64(time.Millisecond))
	}
	return s
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

// Percentiles summarises a histogram in milliseconds, the unit k6, ghz and wrk report in.
type Percentiles struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P75   float64 `json:"p75"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func summarize(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		Min:   usToMs(h.Min()),
		Mean:  h.Mean() / 1000,
		P50:   usToMs(h.ValueAtQuantile(50)),
		P75:   usToMs(h.ValueAtQuantile(75)),
		P90:   usToMs(h.ValueAtQuantile(90)),
		P95:   usToMs(h.ValueAtQuantile(95)),
		P99:   usToMs(h.ValueAtQuantile(99)),
		P999:  usToMs(h.ValueAtQuantile(99.9)),
		Max:   usToMs(h.Max()),
	}
}
