// Package admission is the gateway's admission control: adaptive concurrency limits per
// backend and cost class, a fair, priority-ordered, deadline-aware queue in front of each, and
// per-tenant rate limits. It sits after the result cache: only executions that reach a backend
// are admitted, so cache hits neither wait nor feed the latency baseline.
//
// Limits are per replica: N gateway replicas in front of one backend admit up to N times a
// replica's limit. The adaptive limit follows what each replica measures, so replicas that
// share an overloaded backend all see its latency rise (and its overload answers) and back off
// together; a static cap must be divided by the replica count by whoever sets it.
package admission

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Priority orders waiting requests: higher first; shedding starts with the lowest.
type Priority int

// Priorities.
const (
	Bulk Priority = iota
	Interactive
	numPriorities = 2
)

// ParsePriority reads a query's options.priority ("" is interactive).
func ParsePriority(s string) Priority {
	if strings.EqualFold(s, "bulk") {
		return Bulk
	}
	return Interactive
}

// Rejection reasons (the metric label and the message's first words).
const (
	ReasonQueueFull  = "queue_full"
	ReasonDeadline   = "deadline"
	ReasonShed       = "shed"
	ReasonTenantRate = "tenant_rate"
)

// Rejection is a request refused by admission control. It is a gRPC RESOURCE_EXHAUSTED with
// RetryInfo; over HTTP, 429 with Retry-After.
type Rejection struct {
	Reason, Backend, Class, Tenant string
	Msg                            string
	RetryAfter                     time.Duration
}

func (r *Rejection) Error() string {
	who := ""
	if r.Tenant != "" {
		who = fmt.Sprintf(" tenant %q", r.Tenant)
	}
	return fmt.Sprintf("overloaded: %s on backend %s (%s queries)%s: %s; retry after %s",
		strings.ReplaceAll(r.Reason, "_", " "), r.Backend, r.Class, who, r.Msg, r.RetryAfter.Round(time.Millisecond))
}

// GRPCStatus makes the rejection a RESOURCE_EXHAUSTED status carrying RetryInfo.
func (r *Rejection) GRPCStatus() *status.Status {
	st := status.New(codes.ResourceExhausted, r.Error())
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.RetryAfter)}); err == nil {
		return d
	}
	return st
}

// Config configures admission control. Zero fields take the documented defaults.
type Config struct {
	// Static switches from adaptive limits to a fixed cap of StaticLimit per backend and
	// cost class.
	Static      bool
	StaticLimit int // default 16
	// Gradient uses failsafe-go's gradient limiter (latency trend against a moving baseline)
	// instead of the default Vegas-style limiter (latency against the no-load latency).
	Gradient bool
	// MinLimit, MaxLimit, InitialLimit bound the adaptive limit; defaults 1, 64, 2. A small
	// start lets the limiter see the backend's no-load latency before it grows.
	MinLimit, MaxLimit, InitialLimit int
	// MaxQueue bounds the waiters per backend and cost class; default 256.
	MaxQueue int
	// MaxQueueWait bounds how long a request waits for a slot, whatever its deadline: a
	// queue is for absorbing bursts, and waiting longer only turns overload into latency for
	// everyone. A request estimated to wait longer is refused at once. Default 250ms.
	MaxQueueWait time.Duration
	// TenantQPS limits each tenant's executions per second (token bucket of TenantBurst);
	// 0: no per-tenant rate limit.
	TenantQPS   float64
	TenantBurst int // default max(1, TenantQPS)
	// FastBelow and SlowAbove split query shapes into cost classes by their cost (their
	// fastest recent execution time, see Observe): fast < FastBelow (default 50ms) <= medium < SlowAbove (default 1s) <= slow.
	// Each class has its own limiter, so slow queries do not make fast ones look like
	// congestion. Shapes not seen yet are medium.
	FastBelow, SlowAbove time.Duration
}

func (c *Config) defaults() {
	if c.StaticLimit <= 0 {
		c.StaticLimit = 16
	}
	if c.MinLimit <= 0 {
		c.MinLimit = 1
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = 64
	}
	if c.InitialLimit <= 0 {
		c.InitialLimit = 2
	}
	c.InitialLimit = min(max(c.InitialLimit, c.MinLimit), c.MaxLimit)
	if c.MaxQueue <= 0 {
		c.MaxQueue = 256
	}
	if c.MaxQueueWait <= 0 {
		c.MaxQueueWait = 250 * time.Millisecond
	}
	if c.TenantBurst <= 0 {
		c.TenantBurst = max(1, int(math.Ceil(c.TenantQPS)))
	}
	if c.FastBelow <= 0 {
		c.FastBelow = 50 * time.Millisecond
	}
	if c.SlowAbove <= 0 {
		c.SlowAbove = time.Second
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MinLimit < 0 || c.MaxLimit < 0 || c.InitialLimit < 0 || c.StaticLimit < 0 || c.MaxQueue < 0:
		return fmt.Errorf("limits and maxQueue must not be negative")
	case c.MaxQueueWait < 0:
		return fmt.Errorf("maxQueueWait %s must not be negative", c.MaxQueueWait)
	case c.MaxLimit > 0 && c.MinLimit > c.MaxLimit:
		return fmt.Errorf("minLimit %d is above maxLimit %d", c.MinLimit, c.MaxLimit)
	case c.TenantQPS < 0:
		return fmt.Errorf("tenantQPS %v must not be negative", c.TenantQPS)
	case c.FastBelow > 0 && c.SlowAbove > 0 && c.FastBelow >= c.SlowAbove:
		return fmt.Errorf("fastBelow %s must be below slowAbove %s", c.FastBelow, c.SlowAbove)
	}
	return nil
}

// Cost classes.
const (
	ClassFast   = "fast"
	ClassMedium = "medium"
	ClassSlow   = "slow"
)

// Request is what admission needs to know about an execution.
type Request struct {
	Backend  string
	Shape    string // query shape (query.Query.Shape), for the cost class
	Tenant   string
	Priority Priority
}

// Controller admits executions. Start it; Shutdown stops its dispatcher.
type Controller struct {
	cfg Config

	mu      sync.Mutex
	gates   map[string]*gate // backend/class
	shapes  map[string]time.Duration
	tenants map[string]*bucket

	limitG, inflightG, queuedG *prometheus.GaugeVec
	rejected                   *prometheus.CounterVec
	tenantRejected             *prometheus.CounterVec
	tenantLabels               map[string]bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a controller registering its series on reg (nil: none).
func New(cfg Config, reg prometheus.Registerer) *Controller {
	cfg.defaults()
	c := &Controller{cfg: cfg, gates: map[string]*gate{}, shapes: map[string]time.Duration{},
		tenants: map[string]*bucket{}, tenantLabels: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	labels := []string{"backend", "class"}
	c.limitG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "olapgate_admission_limit", Help: "Concurrent executions allowed per backend and cost class."}, labels)
	c.inflightG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "olapgate_admission_inflight", Help: "Executions running per backend and cost class."}, labels)
	c.queuedG = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "olapgate_admission_queued", Help: "Executions waiting per backend and cost class."}, labels)
	c.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "olapgate_admission_rejected_total", Help: "Executions refused by admission control per backend, cost class and reason."}, []string{"backend", "class", "reason"})
	c.tenantRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "olapgate_admission_tenant_rejected_total", Help: "Refusals per tenant (the first 100 tenants by name; the rest as _other)."}, []string{"tenant", "reason"})
	if reg != nil {
		reg.MustRegister(c.limitG, c.inflightG, c.queuedG, c.rejected, c.tenantRejected)
	}
	go c.run()
	return c
}

// run lets waiters in when an adaptive limit grows without a release, and publishes gauges.
func (c *Controller) run() {
	defer close(c.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			for _, g := range c.allGates() {
				g.dispatch()
				g.mu.Lock()
				q := g.queued
				g.mu.Unlock()
				c.limitG.WithLabelValues(g.backend, g.class).Set(float64(g.lim.limit()))
				c.inflightG.WithLabelValues(g.backend, g.class).Set(float64(g.lim.inflight()))
				c.queuedG.WithLabelValues(g.backend, g.class).Set(float64(q))
			}
		}
	}
}

// Shutdown stops the dispatcher; safe to call twice.
func (c *Controller) Shutdown() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func (c *Controller) allGates() []*gate {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*gate, 0, len(c.gates))
	for _, g := range c.gates {
		out = append(out, g)
	}
	return out
}

// Class is the cost class of a query shape, from its recent execution times.
func (c *Controller) Class(shape string) string {
	c.mu.Lock()
	avg, ok := c.shapes[shape]
	c.mu.Unlock()
	switch {
	case !ok:
		return ClassMedium
	case avg < c.cfg.FastBelow:
		return ClassFast
	case avg >= c.cfg.SlowAbove:
		return ClassSlow
	}
	return ClassMedium
}

// Observe records a shape's execution time (from executions, or the query log at start).
// A shape's cost is its fastest recent execution, drifting up slowly: execution times swell
// with load, and a shape must not change class (and limiter) because the backend is busy,
// while a shape that really became slower (more data) moves up over a few hundred runs.
func (c *Controller) Observe(shape string, exec time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.shapes[shape]; ok {
		if exec < old {
			c.shapes[shape] = exec
		} else {
			c.shapes[shape] = old + (exec-old)/256
		}
		return
	}
	if len(c.shapes) >= 100000 {
		clear(c.shapes) // bounded: start afresh rather than grow with client-made shapes
	}
	c.shapes[shape] = exec
}

func (c *Controller) gate(backend, class string) *gate {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := backend + "/" + class
	g, ok := c.gates[key]
	if !ok {
		var lim limiter
		switch {
		case c.cfg.Static:
			lim = &staticLimiter{max: c.cfg.StaticLimit}
		case c.cfg.Gradient:
			lim = newAdaptive(c.cfg.MinLimit, c.cfg.MaxLimit, c.cfg.InitialLimit)
		default:
			lim = newVegas(c.cfg.MinLimit, c.cfg.MaxLimit, c.cfg.InitialLimit)
		}
		g = newGate(backend, class, lim, c.cfg.MaxQueue, c.cfg.MaxQueueWait)
		c.gates[key] = g
	}
	return g
}

// Ticket is an admitted execution; Done must be called once it ends.
type Ticket struct {
	c      *Controller
	g      *gate
	p      permit
	tenant string
	shape  string
	start  time.Time
	Queued time.Duration
}

// Admit waits for the request's turn. It returns a *Rejection when the request must not run
// (queue full, cannot start before ctx's deadline, tenant over its rate, shed), or ctx's error.
func (c *Controller) Admit(ctx context.Context, r Request) (*Ticket, error) {
	class := c.Class(r.Shape)
	g := c.gate(r.Backend, class)
	if rej := c.tenantRate(r, g); rej != nil {
		c.count(rej)
		return nil, rej
	}
	c.mu.Lock()
	expected := c.shapes[r.Shape]
	c.mu.Unlock()
	p, queued, err := g.acquire(ctx, r, expected)
	if err != nil {
		if rej, ok := err.(*Rejection); ok {
			c.count(rej)
		}
		return nil, err
	}
	return &Ticket{c: c, g: g, p: p, tenant: r.Tenant, shape: r.Shape, start: time.Now(), Queued: queued}, nil
}

// Done releases the slot; OK outcomes feed the limit and the shape's cost.
func (t *Ticket) Done(o Outcome) {
	exec := time.Since(t.start)
	if o == OK {
		t.c.Observe(t.shape, exec)
	}
	t.g.release(t.p, t.tenant, o, exec)
}

func (c *Controller) count(r *Rejection) {
	c.rejected.WithLabelValues(r.Backend, r.Class, r.Reason).Inc()
	tenant := r.Tenant
	c.mu.Lock()
	if !c.tenantLabels[tenant] {
		if len(c.tenantLabels) < 100 {
			c.tenantLabels[tenant] = true
		} else {
			tenant = "_other" // tenant names come from clients: bound the label's values
		}
	}
	c.mu.Unlock()
	c.tenantRejected.WithLabelValues(tenant, r.Reason).Inc()
}

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

func (c *Controller) tenantRate(r Request, g *gate) *Rejection {
	if c.cfg.TenantQPS <= 0 {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.tenants[r.Tenant]
	if !ok {
		if len(c.tenants) >= 100000 {
			clear(c.tenants)
		}
		b = &bucket{tokens: float64(c.cfg.TenantBurst), last: now}
		c.tenants[r.Tenant] = b
	}
	b.tokens = min(float64(c.cfg.TenantBurst), b.tokens+now.Sub(b.last).Seconds()*c.cfg.TenantQPS)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / c.cfg.TenantQPS * float64(time.Second))
	return g.reject(ReasonTenantRate, r, fmt.Sprintf("over its %g queries/s", c.cfg.TenantQPS), wait)
}

// Queued is the number of executions waiting at every gate.
func (c *Controller) Queued() int {
	n := 0
	for _, g := range c.allGates() {
		g.mu.Lock()
		n += g.queued
		g.mu.Unlock()
	}
	return n
}
