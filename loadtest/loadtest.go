// Package loadtest drives load at a target (open loop on a planned schedule, or closed loop
// with N workers) and measures it with HDR histograms, free of coordinated omission.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

// Target sends one request. Do must be safe for concurrent use and honour ctx (the
// per-request timeout and the end of the run).
type Target interface {
	Do(ctx context.Context, seq uint64) Outcome
	Close() error
}

// TargetFunc adapts a function to Target (Close does nothing).
type TargetFunc func(ctx context.Context, seq uint64) Outcome

// Do calls f.
func (f TargetFunc) Do(ctx context.Context, seq uint64) Outcome { return f(ctx, seq) }

// Close does nothing.
func (TargetFunc) Close() error { return nil }

// Options configure a run. Set Schedule for open loop, or Workers and Duration for closed loop.
type Options struct {
	// Schedule plans the open-loop send times.
	Schedule schedule.Schedule
	// MaxInFlight bounds concurrent open-loop requests; a planned request that finds the
	// bound reached is dropped (counted, not sent), as k6 drops iterations with no free VU.
	// Default 1000.
	MaxInFlight int

	// Workers > 0 selects closed loop: each worker sends, waits for the answer, repeats,
	// for Duration. Closed-loop latency hides queueing (coordinated omission) by design.
	Workers  int
	Duration time.Duration

	// Timeout bounds each request (default 10s); Grace is how long in-flight requests may
	// finish after the schedule ends before they are cancelled (default: Timeout).
	Timeout time.Duration
	Grace   time.Duration

	// MaxCPU is the generator CPU, in cores averaged over the run, at or above which the run
	// is marked invalid (default 0.9: the generator is meant to own one core).
	// MaxLateness is the send-lateness p99 above which the run is invalid (default 5ms): a
	// generator that falls behind stops being open loop. Not 1ms, because Go's timers wake
	// with about 1ms granularity on Linux (netpoll's epoll_wait takes millisecond timeouts,
	// golang/go#44343), so even an idle generator shows a p99 near 1–2ms; lateness is in
	// the recorded latency either way. Negative disables either check.
	MaxCPU      float64
	MaxLateness time.Duration

	// Progress, if set, is called about once per second from a separate goroutine.
	Progress func(Snapshot)
	// Observe, if set, sees every completed request (tests, debugging); it must be fast.
	Observe func(Sample)
}

func (o *Options) defaults() error {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = o.Timeout
	}
	if o.MaxCPU == 0 {
		o.MaxCPU = 0.9
	}
	if o.MaxLateness == 0 {
		o.MaxLateness = 5 * time.Millisecond
	}
	if o.Workers > 0 {
		if o.Duration <= 0 {
			return errors.New("closed loop needs a positive duration")
		}
		return nil
	}
	if len(o.Schedule.Segments) == 0 {
		return errors.New("give an open-loop schedule or closed-loop workers")
	}
	return o.Schedule.Validate(schedule.Limits{})
}

// Generator describes the load generator's own health during the run.
type Generator struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	// CPUCores is CPU time over wall time: 1.0 is one core fully busy.
	CPUCores   float64 `json:"cpuCores"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	NumCPU     int     `json:"numCPU"`
	Saturated  bool    `json:"saturated"`
}

// Result is a run's measurements. Latencies are in milliseconds, rates in requests/second.
type Result struct {
	Mode        string    `json:"mode"` // open | closed
	Schedule    string    `json:"schedule,omitempty"`
	Workers     int       `json:"workers,omitempty"`
	MaxInFlight int       `json:"maxInFlight,omitempty"`
	Start       time.Time `json:"start"`
	// DurationS is the planned window (cut short if interrupted); ElapsedS runs from the
	// start to the last completion, the denominator of the achieved rates.
	DurationS   float64 `json:"durationS"`
	ElapsedS    float64 `json:"elapsedS"`
	Interrupted bool    `json:"interrupted,omitempty"`

	Offered   int64 `json:"offered"`
	Sent      int64 `json:"sent"`
	Completed int64 `json:"completed"`
	OK        int64 `json:"ok"`
	Errors    int64 `json:"errors"`
	// Dropped = DroppedInFlight (MaxInFlight reached) + DroppedLate (the generator could not
	// send before the run ended).
	Dropped         int64 `json:"dropped"`
	DroppedInFlight int64 `json:"droppedInFlight"`
	DroppedLate     int64 `json:"droppedLate"`

	// OfferedRps is 0 in closed loop, where the load is whatever the target lets through.
	OfferedRps  float64 `json:"offeredRps"`
	AchievedRps float64 `json:"achievedRps"` // completed (any outcome) / elapsed
	GoodputRps  float64 `json:"goodputRps"`  // OK / elapsed
	ErrorRate   float64 `json:"errorRate"`   // errors / completed

	// LatencyMs is measured from the planned send time (open loop): what a user arriving on
	// schedule would see. ServiceMs is from the actual send, comparable with tools that
	// measure that way (k6's http_req_duration, ghz, wrk). LatenessMs is actual minus
	// planned send time, the generator's own delay.
	LatencyMs  Percentiles `json:"latencyMs"`
	ServiceMs  Percentiles `json:"serviceMs"`
	LatenessMs Percentiles `json:"latenessMs"`
	// OKLatencyMs is LatencyMs over successful requests only: under admission control,
	// fast rejections would otherwise pull the percentiles down ("admitted p99").
	OKLatencyMs Percentiles `json:"okLatencyMs"`

	Statuses     map[string]int64  `json:"statuses"`
	ErrorSamples map[string]string `json:"errorSamples,omitempty"`
	Timeline     []Second          `json:"timeline"`

	Generator      Generator `json:"generator"`
	Valid          bool      `json:"valid"`
	InvalidReasons []string  `json:"invalidReasons,omitempty"`

	lat, okLat *hdrhistogram.Histogram
}

// Value looks up a threshold metric (see package threshold) on the result.
func (r *Result) Value(metric string) (float64, bool) {
	switch metric {
	case "min":
		return r.LatencyMs.Min, r.Completed > 0
	case "mean":
		return r.LatencyMs.Mean, r.Completed > 0
	case "max":
		return r.LatencyMs.Max, r.Completed > 0
	case "errors":
		return r.ErrorRate, r.Completed > 0
	case "rate":
		return r.AchievedRps / r.OfferedRps, r.OfferedRps > 0
	case "goodput":
		return r.GoodputRps / r.OfferedRps, r.OfferedRps > 0
	case "dropped":
		return float64(r.Dropped) / float64(r.Offered), r.Offered > 0 && r.Mode == "open"
	case "rps":
		return r.AchievedRps, true
	case "goodput_rps":
		return r.GoodputRps, true
	}
	if m, ok := strings.CutPrefix(metric, threshold.OKPrefix); ok {
		switch m {
		case "min":
			return r.OKLatencyMs.Min, r.OK > 0
		case "mean":
			return r.OKLatencyMs.Mean, r.OK > 0
		case "max":
			return r.OKLatencyMs.Max, r.OK > 0
		}
		if q, ok := threshold.Percentile(m); ok && r.okLat != nil && r.OK > 0 {
			return usToMs(r.okLat.ValueAtQuantile(q)), true
		}
		return 0, false
	}
	if q, ok := threshold.Percentile(metric); ok && r.lat != nil && r.Completed > 0 {
		return usToMs(r.lat.ValueAtQuantile(q)), true
	}
	return 0, false
}

// Check evaluates thresholds against the result.
func (r *Result) Check(ts []threshold.Threshold) []threshold.Result {
	return threshold.Check(ts, r.Value)
}

// StatusCodes lists the status breakdown's codes, most frequent first.
func (r *Result) StatusCodes() []string {
	codes := make([]string, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		if r.Statuses[codes[i]] != r.Statuses[codes[j]] {
			return r.Statuses[codes[i]] > r.Statuses[codes[j]]
		}
		return codes[i] < codes[j]
	})
	return codes
}

// Run drives target per opts until the schedule (or duration) ends and in-flight requests
// finish or the grace period expires. Cancelling ctx stops sending at once; requests
// already sent still get the grace period, and the result is marked interrupted.
func Run(ctx context.Context, target Target, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("configure run: %w", err)
	}
	cpu0, cpuOK := processCPU()
	start := time.Now()
	rec := newRecorder(start)
	// Requests run under their own context so an interrupt stops new sends but lets the
	// ones in flight finish within the grace period rather than be reported as cancelled.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()

	var inFlight atomic.Int64
	stopProgress := progress(rec, start, &opts, &inFlight)

	var window time.Duration
	var interrupted bool
	if opts.Workers > 0 {
		window, interrupted = closedLoop(ctx, reqCtx, cancelReqs, target, rec, start, &opts)
	} else {
		window, interrupted = openLoop(ctx, reqCtx, cancelReqs, target, rec, start, &opts, &inFlight)
	}
	stopProgress()

	cpu1, _ := processCPU()
	wall := time.Since(start)
	res := rec.result(&opts, window, interrupted)
	res.Generator = Generator{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	if cpuOK {
		res.Generator.CPUSeconds = (cpu1 - cpu0).Seconds()
		res.Generator.CPUCores = res.Generator.CPUSeconds / wall.Seconds()
	}
	if opts.MaxCPU > 0 && cpuOK && res.Generator.CPUCores >= opts.MaxCPU {
		res.Generator.Saturated = true
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf(
			"generator used %.2f cores (limit %.2f): it, not the target, may be the bottleneck", res.Generator.CPUCores, opts.MaxCPU))
	}
	if opts.MaxLateness > 0 && opts.Workers == 0 && res.LatenessMs.P99 > ms(opts.MaxLateness) {
		res.Generator.Saturated = true
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf(
			"send lateness p99 %.3fms over %s: the generator could not keep its schedule (busy, or starved of CPU by other processes)", res.LatenessMs.P99, opts.MaxLateness))
	}
	if res.DroppedLate > 0 {
		res.Generator.Saturated = true
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf(
			"%d planned requests could not be sent before the run ended", res.DroppedLate))
	}
	res.Valid = len(res.InvalidReasons) == 0
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// lateSlack is how far past the schedule's end the dispatcher may still send a request planned
// inside it. A wake-up a few milliseconds late (OS scheduling on a shared machine) is
// lateness, recorded in the request's latency; a generator 50ms behind at the end has lost
// its schedule, and sending the backlog would measure the drain rather than the load.
const lateSlack = 50 * time.Millisecond

type job struct {
	seq     uint64
	planned time.Duration
}

func openLoop(ctx, reqCtx context.Context, cancelReqs context.CancelFunc, target Target, rec *recorder, start time.Time, opts *Options, inFlight *atomic.Int64) (time.Duration, bool) {
	total := opts.Schedule.Duration()
	// Buffered to MaxInFlight so the dispatcher never blocks: a job is queued only when
	// fewer than MaxInFlight are outstanding, and there is a worker per outstanding job.
	jobs := make(chan job, opts.MaxInFlight)
	var wg sync.WaitGroup
	workers := 0
	worker := func() {
		defer wg.Done()
		for j := range jobs {
			sent := time.Since(start)
			rec.markSent(sent)
			rctx, cancel := context.WithTimeout(reqCtx, opts.Timeout)
			out := target.Do(rctx, j.seq)
			cancel()
			s := Sample{Seq: j.seq, Planned: j.planned, Sent: sent, Done: time.Since(start), Outcome: out}
			rec.done(s)
			inFlight.Add(-1)
			if opts.Observe != nil {
				opts.Observe(s)
			}
		}
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	it := opts.Schedule.Iter()
	var seq uint64
	window := total
	interrupted := false
dispatch:
	for {
		off, ok := it.Next()
		if !ok {
			break
		}
		if wait := off - time.Since(start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				window, interrupted = time.Since(start), true
				break dispatch
			}
		} else if ctx.Err() != nil {
			window, interrupted = time.Since(start), true
			break dispatch
		}
		rec.offer(off)
		if time.Since(start) >= total+lateSlack {
			// Too late to send inside the run at all: count it, and every later one, unsent.
			rec.drop(off, true)
			continue
		}
		if inFlight.Load() >= int64(opts.MaxInFlight) {
			rec.drop(off, false)
			continue
		}
		if n := inFlight.Add(1); n > int64(workers) {
			// Workers grow with the concurrency actually reached, up to MaxInFlight.
			workers++
			wg.Add(1)
			go worker()
		}
		jobs <- job{seq: seq, planned: off}
		seq++
	}
	close(jobs)
	waitGrace(&wg, opts.Grace, cancelReqs)
	return window, interrupted
}

// waitGrace waits for the workers; once grace has passed it cancels what is still in flight
// (each request then completes as an error).
func waitGrace(wg *sync.WaitGroup, grace time.Duration, cancelReqs context.CancelFunc) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancelReqs()
		<-done
	}
}

func closedLoop(ctx, reqCtx context.Context, cancelReqs context.CancelFunc, target Target, rec *recorder, start time.Time, opts *Options) (time.Duration, bool) {
	var wg sync.WaitGroup
	var seq atomic.Uint64
	end := opts.Duration
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && reqCtx.Err() == nil {
				sent := time.Since(start)
				if sent >= end {
					return
				}
				n := seq.Add(1) - 1
				rec.offer(sent)
				rec.markSent(sent)
				rctx, cancel := context.WithTimeout(reqCtx, opts.Timeout)
				out := target.Do(rctx, n)
				cancel()
				s := Sample{Seq: n, Planned: sent, Sent: sent, Done: time.Since(start), Outcome: out}
				rec.done(s)
				if opts.Observe != nil {
					opts.Observe(s)
				}
			}
		}()
	}
	// The grace period starts when the run's duration is over, not before: workers send
	// until then.
	t := time.NewTimer(time.Until(start.Add(end)))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	waitGrace(&wg, opts.Grace, cancelReqs)
	if ctx.Err() != nil {
		return min(time.Since(start), end), true
	}
	return end, false
}

// progress calls opts.Progress once per second until the returned stop is called. It also
// rotates the timeline so seconds with no completions still close.
func progress(rec *recorder, start time.Time, opts *Options, inFlight *atomic.Int64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	total := opts.Duration
	if opts.Workers == 0 {
		total = opts.Schedule.Duration()
	}
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start)
				s := rec.snapshot(el)
				s.Total = total
				if opts.Workers == 0 {
					s.OfferedRate = opts.Schedule.RateAt(el)
				}
				if opts.Progress != nil {
					opts.Progress(s)
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (r *recorder) result(opts *Options, window time.Duration, interrupted bool) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(int(r.lastDone/time.Second) + 1)
	res := &Result{
		Mode: "open", Start: r.start, DurationS: window.Seconds(), Interrupted: interrupted,
		Offered: r.offered, Sent: r.sent, Completed: r.completed, OK: r.ok, Errors: r.errs,
		DroppedInFlight: r.droppedInFlight, DroppedLate: r.droppedLate,
		Dropped:  r.droppedInFlight + r.droppedLate,
		Statuses: r.statuses, ErrorSamples: r.samples, Timeline: r.timeline,
		LatencyMs: summarize(r.lat), ServiceMs: summarize(r.svc), LatenessMs: summarize(r.late),
		OKLatencyMs: summarize(r.okLat),
		lat:         r.lat, okLat: r.okLat,
	}
	if opts.Workers > 0 {
		res.Mode, res.Workers = "closed", opts.Workers
	} else {
		res.Schedule, res.MaxInFlight = opts.Schedule.String(), opts.MaxInFlight
		if window > 0 {
			res.OfferedRps = float64(r.offered) / window.Seconds()
		}
	}
	elapsed := max(r.lastDone, window)
	res.ElapsedS = elapsed.Seconds()
	if elapsed > 0 {
		res.AchievedRps = float64(r.completed) / elapsed.Seconds()
		res.GoodputRps = float64(r.ok) / elapsed.Seconds()
	}
	if r.completed > 0 {
		res.ErrorRate = float64(r.errs) / float64(r.completed)
	}
	if res.Timeline == nil {
		res.Timeline = []Second{}
	}
	return res
}
