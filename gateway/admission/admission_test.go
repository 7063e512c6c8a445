package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStatic(t *testing.T, limit, queue int) *Controller {
	t.Helper()
	c := New(Config{Static: true, StaticLimit: limit, MaxQueue: queue}, nil)
	t.Cleanup(c.Shutdown)
	return c
}

func admit(t *testing.T, c *Controller, r Request) *Ticket {
	t.Helper()
	tk, err := c.Admit(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// waitQueued waits until n requests wait at the gate of r.
func waitQueued(t *testing.T, c *Controller, r Request, n int) {
	t.Helper()
	g := c.gate(r.Backend, c.Class(r.Shape))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		g.mu.Lock()
		q := g.queued
		g.mu.Unlock()
		if q == n {
			return
		}
	}
	t.Fatalf("%d never queued", n)
}

// TestFairAcrossTenants: with one slot, a tenant that queued ten requests first does not keep
// the other tenant waiting behind all ten: turns alternate.
func TestFairAcrossTenants(t *testing.T) {
	c := newStatic(t, 1, 100)
	hold := admit(t, c, Request{Backend: "b", Tenant: "a"})
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(tenant string, n, already int) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk, err := c.Admit(context.Background(), Request{Backend: "b", Tenant: tenant})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, tenant)
				mu.Unlock()
				tk.Done(OK)
			}()
			waitQueued(t, c, Request{Backend: "b"}, already+i+1)
		}
	}
	enqueue("a", 10, 0)
	enqueue("b", 2, 10)
	hold.Done(OK)
	wg.Wait()
	// b's two requests must be among the first four served.
	firstB := 0
	for i, tn := range order[:4] {
		if tn == "b" {
			firstB++
			_ = i
		}
	}
	if firstB != 2 {
		t.Errorf("service order %v: tenant b waited behind tenant a's burst", order)
	}
}

// TestShareKeepsRoomForOtherTenants: with four slots (capacity 4), a flooding tenant holds
// at most three while another tenant has asked recently, so the other tenant's next query
// starts at once instead of waiting for the flood's slots; alone, the flood takes all four.
func TestShareKeepsRoomForOtherTenants(t *testing.T) {
	c := newStatic(t, 4, 100)
	r := func(tenant string) Request { return Request{Backend: "b", Tenant: tenant} }
	// Alone, a tenant takes every slot.
	var solo []*Ticket
	for range 4 {
		solo = append(solo, admit(t, c, r("flood")))
	}
	for _, tk := range solo {
		tk.Done(OK)
	}
	admit(t, c, r("quiet")).Done(OK) // quiet is active now
	// Executions of a second: a held-back request may wait that long for its turn.
	c.gate("b", c.Class("")).ewma.Store(int64(time.Second))

	var held []*Ticket
	for range 3 {
		held = append(held, admit(t, c, r("flood")))
	}
	fourth := make(chan *Ticket, 1)
	go func() { fourth <- admit(t, c, r("flood")) }()
	waitQueued(t, c, r(""), 1) // held back by the share rule, though a slot is free
	start := time.Now()
	q := admit(t, c, r("quiet")) // the free slot is the quiet tenant's at once
	if q.Queued > 50*time.Millisecond || time.Since(start) > time.Second {
		t.Fatalf("quiet tenant queued %s behind the flood", q.Queued)
	}
	select {
	case <-fourth:
		t.Fatal("the flood took a fourth slot while the quiet tenant was active")
	default:
	}
	q.Done(OK)
	held[0].Done(OK) // a flood slot frees: the waiting flood request takes it (3 held again)
	tk := <-fourth
	for _, h := range append(held[1:], tk) {
		h.Done(OK)
	}
}

// TestPriorityAndShedding: interactive requests are served before bulk ones, and a full queue
// sheds its newest bulk waiter to make room for an interactive request.
func TestPriorityAndShedding(t *testing.T) {
	c := newStatic(t, 1, 2)
	hold := admit(t, c, Request{Backend: "b"})
	results := make(chan string, 3)
	start := func(name string, p Priority, queuedBefore int) {
		go func() {
			tk, err := c.Admit(context.Background(), Request{Backend: "b", Tenant: name, Priority: p})
			var rej *Rejection
			switch {
			case errors.As(err, &rej):
				results <- name + ":" + rej.Reason
				return
			case err != nil:
				results <- name + ":" + err.Error()
				return
			}
			results <- name + ":ok"
			tk.Done(OK)
		}()
		waitQueued(t, c, Request{Backend: "b"}, queuedBefore+1)
	}
	start("bulk1", Bulk, 0)
	start("bulk2", Bulk, 1)
	// The queue is full; an interactive request sheds bulk2 (the newest bulk waiter).
	go func() {
		tk, err := c.Admit(context.Background(), Request{Backend: "b", Tenant: "inter", Priority: Interactive})
		if err != nil {
			results <- "inter:" + err.Error()
			return
		}
		results <- "inter:ok"
		tk.Done(OK)
	}()
	if got := <-results; got != "bulk2:"+ReasonShed {
		t.Fatalf("first result %q, want bulk2 shed", got)
	}
	waitQueued(t, c, Request{Backend: "b"}, 2)
	hold.Done(OK)
	if got := <-results; got != "inter:ok" {
		t.Errorf("second %q, want the interactive request first", got)
	}
	if got := <-results; got != "bulk1:ok" {
		t.Errorf("third %q", got)
	}
	// A full queue of interactive requests refuses the next one.
	hold = admit(t, c, Request{Backend: "b"})
	defer hold.Done(OK)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 {
		go func() { _, _ = c.Admit(ctx, Request{Backend: "b", Priority: Interactive}) }()
		waitQueued(t, c, Request{Backend: "b"}, i+1)
	}
	_, err := c.Admit(context.Background(), Request{Backend: "b", Priority: Interactive})
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Reason != ReasonQueueFull {
		t.Fatalf("err %v, want queue full", err)
	}
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 {
		t.Fatalf("status %v details %v", st.Code(), st.Details())
	}
	if ri, ok := st.Details()[0].(*errdetails.RetryInfo); !ok || ri.GetRetryDelay().AsDuration() < 100*time.Millisecond {
		t.Errorf("retry info %v", st.Details()[0])
	}
}

// TestDeadlineAware: a request that cannot start before its deadline is refused at once, and
// none waits past its deadline.
func TestDeadlineAware(t *testing.T) {
	c := newStatic(t, 1, 100)
	r := Request{Backend: "b", Shape: "s"}
	c.Observe("s", 500*time.Millisecond)
	hold := admit(t, c, r)
	hold.start = time.Now().Add(-500 * time.Millisecond) // it ran 500 ms: the wait estimate
	hold.Done(OK)
	hold = admit(t, c, r)
	defer hold.Done(OK)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.Admit(ctx, r)
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Reason != ReasonDeadline || time.Since(t0) > 50*time.Millisecond {
		t.Fatalf("err %v after %s, want an immediate deadline refusal", err, time.Since(t0))
	}

	// Unknown cost: it waits, but only until the deadline.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel2()
	t0 = time.Now()
	_, err = c.Admit(ctx2, Request{Backend: "b", Shape: "s2"})
	if err == nil || time.Since(t0) > 400*time.Millisecond {
		t.Fatalf("err %v after %s", err, time.Since(t0))
	}
}

// TestTenantRate: a tenant over its queries per second is refused with when to retry; other
// tenants are not affected.
func TestTenantRate(t *testing.T) {
	c := New(Config{Static: true, StaticLimit: 10, TenantQPS: 2, TenantBurst: 2}, nil)
	defer c.Shutdown()
	for i := range 2 {
		admit(t, c, Request{Backend: "b", Tenant: "a"}).Done(OK)
		_ = i
	}
	_, err := c.Admit(context.Background(), Request{Backend: "b", Tenant: "a"})
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Reason != ReasonTenantRate || rej.RetryAfter < 200*time.Millisecond || rej.RetryAfter > 600*time.Millisecond {
		t.Fatalf("err %v", err)
	}
	admit(t, c, Request{Backend: "b", Tenant: "other"}).Done(OK)
}

// TestCostClasses: shapes get a limiter per cost class, so slow queries holding every slot of
// theirs do not block fast ones.
func TestCostClasses(t *testing.T) {
	c := newStatic(t, 1, 10)
	c.Observe("fast", 5*time.Millisecond)
	c.Observe("slow", 5*time.Second)
	if c.Class("fast") != ClassFast || c.Class("slow") != ClassSlow || c.Class("new") != ClassMedium {
		t.Fatalf("classes %s %s %s", c.Class("fast"), c.Class("slow"), c.Class("new"))
	}
	slow := admit(t, c, Request{Backend: "b", Shape: "slow"})
	defer slow.Done(OK)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tk, err := c.Admit(ctx, Request{Backend: "b", Shape: "fast"})
	if err != nil || tk.Queued != 0 {
		t.Fatalf("fast query behind a slow one: %v", err)
	}
	tk.Done(OK)
}

// TestAdaptiveOverload: overload answers from the backend halve the limit at once; successes
// bring it back one slot at a time.
func TestAdaptiveOverload(t *testing.T) {
	a := newAdaptive(1, 64, 16)
	var ps []permit
	for range 16 {
		p, ok := a.tryAcquire()
		if !ok {
			t.Fatal("initial limit not available")
		}
		ps = append(ps, p)
	}
	ps[0].done(Overload)
	if got := a.limit(); got != 8 {
		t.Fatalf("limit after overload with 16 running: %d, want 8", got)
	}
	for _, p := range ps[1:] {
		p.done(Dropped)
	}
	for range 8 {
		if _, ok := a.tryAcquire(); !ok {
			t.Fatal("under the cut limit")
		}
	}
	if _, ok := a.tryAcquire(); ok {
		t.Fatal("over the cut limit")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{MinLimit: 10, MaxLimit: 5}, {TenantQPS: -1}, {FastBelow: time.Second, SlowAbove: time.Millisecond}, {MaxQueue: -1}, {MaxQueueWait: -time.Second}} {
		if c.Validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Error(err)
	}
	_ = fmt.Sprint()
}
