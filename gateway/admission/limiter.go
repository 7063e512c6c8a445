package admission

import (
	"math"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
)

// Outcome is how an admitted execution ended, for the limiter's learning.
type Outcome int

// Outcomes.
const (
	// OK: the backend answered; its latency feeds the limit.
	OK Outcome = iota
	// Overload: the backend said it is overloaded (Pinot 211/245/429, ClickHouse 202/241):
	// the limit drops at once.
	Overload
	// Dropped: the execution ended for a reason that says nothing about the backend's load
	// (client gone, bad query); its latency is not recorded.
	Dropped
)

// limiter decides how many executions may run at once. Both kinds are olapgate's own
// interface over the algorithm, so failsafe-go (pre-1.0) stays replaceable.
type limiter interface {
	// tryAcquire takes a slot if one is free; it never blocks.
	tryAcquire() (permit, bool)
	limit() int
	inflight() int
	// capacity estimates how many executions the engine serves at once without queueing
	// them; at most limit.
	capacity() float64
}

type permit interface{ done(Outcome) }

// staticLimiter is a fixed cap.
type staticLimiter struct {
	mu  sync.Mutex
	max int
	n   int
}

func (s *staticLimiter) tryAcquire() (permit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= s.max {
		return nil, false
	}
	s.n++
	return staticPermit{s}, true
}

func (s *staticLimiter) limit() int { return s.max }

func (s *staticLimiter) capacity() float64 { return float64(s.max) }

func (s *staticLimiter) inflight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

type staticPermit struct{ s *staticLimiter }

func (p staticPermit) done(Outcome) {
	p.s.mu.Lock()
	p.s.n--
	p.s.mu.Unlock()
}

// adaptiveLimiter follows measured latency with failsafe-go's gradient limiter (recent p90
// against a baseline: the limit falls when latency trends up, rises while it does not) and
// adds what that limiter lacks: backend overload answers cut the limit at once, by half of
// what is running (multiplicative decrease), and it recovers by one slot per successful
// execution (additive increase).
type adaptiveLimiter struct {
	fs       adaptivelimiter.AdaptiveLimiter[any]
	min, max int

	mu          sync.Mutex
	overloadCap int // the cap after overload answers; max when none lately
}

func newAdaptive(minLimit, maxLimit, initial int) *adaptiveLimiter {
	fs := adaptivelimiter.NewBuilder[any]().
		WithLimits(uint(minLimit), uint(maxLimit), uint(initial)).
		// OLAP latencies are noisy and queries are few next to RPC services: judge trends
		// over windows of at least 20 executions within 0.5-10 s.
		WithRecentWindow(500*time.Millisecond, 10*time.Second, 20).
		Build()
	return &adaptiveLimiter{fs: fs, min: minLimit, max: maxLimit, overloadCap: maxLimit}
}

func (a *adaptiveLimiter) tryAcquire() (permit, bool) {
	a.mu.Lock()
	capped := a.fs.Inflight() >= a.overloadCap
	a.mu.Unlock()
	if capped {
		return nil, false
	}
	p, ok := a.fs.TryAcquirePermit()
	if !ok {
		return nil, false
	}
	return &adaptivePermit{a: a, p: p}, true
}

func (a *adaptiveLimiter) limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return min(a.fs.Limit(), a.overloadCap)
}

func (a *adaptiveLimiter) inflight() int { return a.fs.Inflight() }

func (a *adaptiveLimiter) capacity() float64 { return float64(a.limit()) }

type adaptivePermit struct {
	a    *adaptiveLimiter
	p    adaptivelimiter.Permit
	once sync.Once
}

func (p *adaptivePermit) done(o Outcome) {
	p.once.Do(func() {
		a := p.a
		switch o {
		case OK:
			p.p.Record()
			a.mu.Lock()
			if a.overloadCap < a.max {
				a.overloadCap++
			}
			a.mu.Unlock()
		case Overload:
			running := a.fs.Inflight()
			p.p.Drop()
			a.mu.Lock()
			a.overloadCap = max(a.min, min(a.overloadCap, running)/2)
			a.mu.Unlock()
		default:
			p.p.Drop()
		}
	})
}

// vegasLimiter is a TCP-Vegas-style limit (as Netflix concurrency-limits' VegasLimit): the
// lowest latency seen is the engine's no-load latency, and latency above it means executions
// wait inside the engine. Estimated waiting executions = limit × (1 − noLoad/latency); fewer
// than alpha: the engine has room, raise the limit; more than beta: it is queueing, lower it.
// OLAP queries of one cost class take similar times, which is what this estimate needs (a
// gradient against a moving baseline follows a slow drift upwards instead). Backend overload
// answers cut the limit in half at once.
type vegasLimiter struct {
	mu       sync.Mutex
	min, max int
	lim      float64
	running  int
	noLoad   time.Duration // lowest windowed latency, drifting up slowly
	rtt      time.Duration // the last window's mean latency
	sum      time.Duration
	samples  int
	winStart time.Time
}

const (
	vegasWindowSamples = 10
	vegasWindow        = 100 * time.Millisecond
)

func newVegas(minLimit, maxLimit, initial int) *vegasLimiter {
	return &vegasLimiter{min: minLimit, max: maxLimit, lim: float64(initial), winStart: time.Now()}
}

func (v *vegasLimiter) tryAcquire() (permit, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running >= int(v.lim) {
		return nil, false
	}
	v.running++
	return &vegasPermit{v: v, start: time.Now()}, true
}

func (v *vegasLimiter) limit() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return int(v.lim)
}

// capacity is Vegas' own estimate: of limit executions at latency rtt, limit × noLoad/rtt
// are being served and the rest wait inside the engine.
func (v *vegasLimiter) capacity() float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.noLoad <= 0 || v.rtt <= 0 {
		return v.lim
	}
	return min(v.lim, v.lim*float64(v.noLoad)/float64(v.rtt))
}

func (v *vegasLimiter) inflight() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.running
}

type vegasPermit struct {
	v     *vegasLimiter
	start time.Time
	once  sync.Once
}

func (p *vegasPermit) done(o Outcome) {
	p.once.Do(func() {
		v := p.v
		v.mu.Lock()
		defer v.mu.Unlock()
		inflight := v.running
		v.running--
		switch o {
		case Overload:
			v.lim = max(float64(v.min), min(v.lim, float64(inflight))/2)
			return
		case Dropped:
			return
		}
		v.sum += time.Since(p.start)
		v.samples++
		if v.samples < vegasWindowSamples && time.Since(v.winStart) < vegasWindow {
			return
		}
		rtt := v.sum / time.Duration(v.samples)
		v.rtt = rtt
		v.sum, v.samples, v.winStart = 0, 0, time.Now()
		// The no-load latency is the lowest seen, drifting up about 0.01% a window (a few
		// minutes to double under steady traffic) so that a class whose queries really
		// became slower (more data) is followed. Resetting it to the current latency, as
		// some Vegas versions probe, would take a loaded latency for the no-load one under
		// sustained overload. It is measured right only while the limit is within the
		// engine's capacity, hence the small initial limit.
		if v.noLoad == 0 || rtt < v.noLoad {
			v.noLoad = rtt
		} else {
			v.noLoad += v.noLoad / 8192
		}
		queue := v.lim * (1 - float64(v.noLoad)/float64(rtt))
		lg := math.Max(1, math.Log10(v.lim))
		alpha, beta := lg/4, 3*lg/4
		switch {
		case queue < alpha:
			// Grow only while the limit is in use: an idle limit proves nothing.
			if float64(inflight) >= v.lim/2 {
				v.lim += lg
			}
		case queue > beta:
			v.lim -= lg
		}
		v.lim = min(max(v.lim, float64(v.min)), float64(v.max))
	})
}
