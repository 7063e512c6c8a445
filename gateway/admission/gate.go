package admission

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// gate admits executions to one limiter (a backend's cost class). When the limiter is full,
// requests wait in a bounded queue: interactive before bulk, and within a priority the
// tenants take turns (round robin over tenants with waiters), so one tenant's burst cannot
// take the slots others wait for. A request that cannot start before its deadline leaves
// (or is refused at once when the estimate already says so).
type gate struct {
	backend, class string
	lim            limiter
	maxQueue       int
	maxWait        time.Duration

	mu     sync.Mutex
	levels [numPriorities]level
	queued int
	// running counts each tenant's executions in flight here; seen is when each tenant last
	// asked (pruned after activeWindow), for the share rule (mayTake).
	running   map[string]int
	seen      map[string]time.Time
	lastPrune time.Time
	// ewma estimates an execution's duration here (nanoseconds), for wait estimates; atomic
	// because refusals read it after mu is released.
	ewma atomic.Int64
}

type level struct {
	tenants map[string]*list.List // tenant → FIFO of *waiter
	ring    []string              // tenants with waiters, in turn order
	next    int
}

type waiter struct {
	tenant   string
	prio     Priority
	ready    chan permit // buffered 1: a grant never blocks the dispatcher
	rejected *Rejection  // set instead of a grant when shed for a higher priority
	el       *list.Element
	at       time.Time
	gone     bool // no longer queued (granted, shed, or left)
}

func newGate(backend, class string, lim limiter, maxQueue int, maxWait time.Duration) *gate {
	g := &gate{backend: backend, class: class, lim: lim, maxQueue: maxQueue, maxWait: maxWait,
		running: map[string]int{}, seen: map[string]time.Time{}}
	for i := range g.levels {
		g.levels[i].tenants = map[string]*list.List{}
	}
	return g
}

// acquire waits for a slot; expected is the execution's expected duration (0: unknown).
func (g *gate) acquire(ctx context.Context, r Request, expected time.Duration) (permit, time.Duration, error) {
	start := time.Now()
	g.mu.Lock()
	g.seen[r.Tenant] = start
	if g.queued == 0 && g.mayTake(r.Tenant, start) {
		if p, ok := g.lim.tryAcquire(); ok {
			g.running[r.Tenant]++
			g.mu.Unlock()
			return p, 0, nil
		}
	}
	// Would it start in time? The wait is about the queue ahead divided among the slots; it may
	// not exceed the wait bound, nor what the deadline leaves once the execution's own time is
	// taken. A tenant with nothing queued here is next in its priority's turn order whatever
	// the others queued, so only its deadline refuses it up front (the wait bound still ends
	// its wait): a flooding tenant's queue does not get a quiet tenant refused.
	maxWait := g.waitBudget()
	left := time.Duration(math.MaxInt64)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl) - expected
	}
	first := g.tenantQueued(r.Priority, r.Tenant) == 0
	ahead, budget := g.queuedAhead(r.Priority, r.Tenant), min(maxWait, left)
	if first {
		// Its wait is one turn: allow a whole execution's time for the slot to come.
		ahead, budget = g.queuedAbove(r.Priority), left
		maxWait = min(g.maxWait, max(2*maxWait, 10*time.Millisecond))
	}
	wait := time.Duration(float64(ahead+1) / float64(max(g.lim.limit(), 1)) * float64(g.execEWMA()))
	if wait > budget {
		g.mu.Unlock()
		return nil, 0, g.reject(ReasonDeadline, r, fmt.Sprintf("%d queued ahead, estimated wait %s, over the %s it may wait", ahead, wait.Round(time.Millisecond), max(budget, 0).Round(time.Millisecond)), wait)
	}
	if g.queued >= g.maxQueue {
		victim := g.lowestBelow(r.Priority)
		if victim == nil {
			victim = g.largestOther(r.Priority, r.Tenant)
		}
		if victim == nil {
			g.mu.Unlock()
			return nil, 0, g.reject(ReasonQueueFull, r, fmt.Sprintf("queue full (%d waiting, limit %d running)", g.queued, g.lim.limit()), g.retryAfter())
		}
		// Shedding starts with the lowest priority (the newest bulk waiter makes room), then
		// takes from the tenant holding most of the queue.
		g.remove(victim)
		victim.rejected = g.reject(ReasonShed, Request{Tenant: victim.tenant, Priority: victim.prio}, "shed while the queue is full, for higher-priority work or a tenant with fewer requests waiting", g.retryAfter())
		victim.ready <- nil
	}
	w := &waiter{tenant: r.Tenant, prio: r.Priority, ready: make(chan permit, 1), at: time.Now()}
	g.push(w)
	// Waiters held back by the share rule can leave a slot free: if this request's tenant
	// may take it, it starts now.
	g.dispatchLocked(start)
	g.mu.Unlock()

	// Never wait past maxWait, nor past the point where the execution could still finish by
	// the deadline.
	waitUntil := time.Now().Add(maxWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-expected).Before(waitUntil) {
		waitUntil = dl.Add(-expected)
	}
	wctx, cancel := context.WithDeadline(ctx, waitUntil)
	defer cancel()
	select {
	case p := <-w.ready:
		if w.rejected != nil {
			return nil, time.Since(start), w.rejected
		}
		return p, time.Since(start), nil
	case <-wctx.Done():
		g.mu.Lock()
		if !w.gone {
			g.remove(w)
			g.mu.Unlock()
			if ctx.Err() != nil {
				return nil, time.Since(start), ctx.Err()
			}
			return nil, time.Since(start), g.reject(ReasonDeadline, r, fmt.Sprintf("no slot within %s", time.Since(start).Round(time.Millisecond)), g.retryAfter())
		}
		g.mu.Unlock()
		// Granted (or shed) at the same moment.
		p := <-w.ready
		if w.rejected != nil {
			return nil, time.Since(start), w.rejected
		}
		if err := ctx.Err(); err != nil {
			g.release(p, r.Tenant, Dropped, 0) // the caller is gone: give the slot back
			return nil, time.Since(start), err
		}
		return p, time.Since(start), nil // only the wait bound passed, just as the slot came
	}
}

// release returns tenant's slot and lets waiters in.
func (g *gate) release(p permit, tenant string, o Outcome, exec time.Duration) {
	p.done(o)
	g.mu.Lock()
	if g.running[tenant]--; g.running[tenant] <= 0 {
		delete(g.running, tenant)
	}
	if o == OK {
		if old := time.Duration(g.ewma.Load()); old == 0 {
			g.ewma.Store(int64(exec))
		} else {
			g.ewma.Store(int64(old + (exec-old)/8))
		}
	}
	g.mu.Unlock()
	g.dispatch()
}

// dispatch grants slots to waiters while the limiter has room: the adaptive limit can also
// rise without a release, so the controller calls it periodically too.
func (g *gate) dispatch() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dispatchLocked(time.Now())
}

func (g *gate) dispatchLocked(now time.Time) {
	for g.queued > 0 {
		w := g.peek(now)
		if w == nil {
			return // only tenants at their share wait: the slots left are kept for others
		}
		p, ok := g.lim.tryAcquire()
		if !ok {
			return
		}
		g.remove(w)
		g.advance(w)
		g.running[w.tenant]++
		w.ready <- p
	}
}

// activeWindow is how recently another tenant must have asked for the share rule to hold
// slots back for it.
const activeWindow = 2 * time.Second

// mayTake is the share rule: while another tenant has asked within activeWindow, one tenant
// may hold at most the engine's estimated capacity less one slot (and at least one), so a
// quiet tenant's query finds the engine with room instead of waiting behind a flood inside
// it (the limit itself sits a slot or so above the capacity, where the Vegas estimate
// probes). With one tenant active, it may take every slot the limiter allows. The cost is
// up to one slot of the flooding tenant's throughput while others are active.
func (g *gate) mayTake(tenant string, now time.Time) bool {
	share := max(1, int(math.Round(g.lim.capacity()))-1)
	if g.running[tenant] < share {
		return true
	}
	if now.Sub(g.lastPrune) > activeWindow {
		for t, at := range g.seen {
			if now.Sub(at) > activeWindow {
				delete(g.seen, t)
			}
		}
		g.lastPrune = now
	}
	for t, at := range g.seen {
		if t != tenant && now.Sub(at) <= activeWindow {
			return false
		}
	}
	return true
}

// peek is the next waiter: the highest priority with waiters, the tenant whose turn it is,
// skipping tenants the share rule holds back (the turn moves to the next one); nil when
// every waiter's tenant is at its share.
func (g *gate) peek(now time.Time) *waiter {
	for pr := numPriorities - 1; pr >= 0; pr-- {
		lv := &g.levels[pr]
		for k := range len(lv.ring) {
			i := (lv.next + k) % len(lv.ring)
			t := lv.ring[i]
			if g.mayTake(t, now) {
				lv.next = i
				return lv.tenants[t].Front().Value.(*waiter)
			}
		}
	}
	return nil
}

// advance moves the turn past w's tenant after it was served.
func (g *gate) advance(w *waiter) {
	lv := &g.levels[w.prio]
	if len(lv.ring) > 0 {
		// remove() already dropped an emptied tenant from the ring, leaving next on the
		// following one; otherwise move on.
		if _, still := lv.tenants[w.tenant]; still {
			lv.next = (lv.next + 1) % len(lv.ring)
		}
	}
}

func (g *gate) push(w *waiter) {
	lv := &g.levels[w.prio]
	q, ok := lv.tenants[w.tenant]
	if !ok {
		// A tenant that had nothing waiting takes the next turn (as fq_codel serves new,
		// sparse flows first): a light tenant's request waits for one slot, not a round.
		q = list.New()
		lv.tenants[w.tenant] = q
		lv.ring = slices.Insert(lv.ring, lv.next, w.tenant)
	}
	w.el = q.PushBack(w)
	g.queued++
}

func (g *gate) remove(w *waiter) {
	lv := &g.levels[w.prio]
	q := lv.tenants[w.tenant]
	q.Remove(w.el)
	w.gone = true
	g.queued--
	if q.Len() > 0 {
		return
	}
	delete(lv.tenants, w.tenant)
	for i, t := range lv.ring {
		if t == w.tenant {
			lv.ring = append(lv.ring[:i], lv.ring[i+1:]...)
			if lv.next > i {
				lv.next--
			}
			break
		}
	}
	if len(lv.ring) > 0 {
		lv.next %= len(lv.ring)
	} else {
		lv.next = 0
	}
}

// queuedAhead estimates the waiters served before a new request of priority p from tenant:
// every waiter of higher priorities, and at its own priority, with tenants taking turns, one
// per tenant with waiters for each of its own already queued (a quiet tenant is not behind a
// flooding tenant's whole queue).
func (g *gate) queuedAhead(p Priority, tenant string) int {
	n := g.queuedAbove(p)
	mine := g.tenantQueued(p, tenant)
	for t, q := range g.levels[p].tenants {
		if t == tenant {
			n += mine
			continue
		}
		n += min(q.Len(), mine+1)
	}
	return n
}

// tenantQueued is how many requests tenant has waiting at priority p.
func (g *gate) tenantQueued(p Priority, tenant string) int {
	if q, ok := g.levels[p].tenants[tenant]; ok {
		return q.Len()
	}
	return 0
}

// queuedAbove counts the waiters of priorities above p.
func (g *gate) queuedAbove(p Priority) int {
	n := 0
	for pr := int(p) + 1; pr < numPriorities; pr++ {
		for _, q := range g.levels[pr].tenants {
			n += q.Len()
		}
	}
	return n
}

// largestOther is the newest waiter of the tenant (other than tenant) with the most waiters at
// priority p, if it has more than tenant would have with one more: the one to shed so a full
// queue still gives every tenant its turn.
func (g *gate) largestOther(p Priority, tenant string) *waiter {
	lv := &g.levels[p]
	mine := 0
	if q, ok := lv.tenants[tenant]; ok {
		mine = q.Len()
	}
	var best *list.List
	for t, q := range lv.tenants {
		if t != tenant && q.Len() > mine+1 && (best == nil || q.Len() > best.Len()) {
			best = q
		}
	}
	if best == nil {
		return nil
	}
	return best.Back().Value.(*waiter)
}

// lowestBelow is the newest waiter of the lowest priority below p, or nil.
func (g *gate) lowestBelow(p Priority) *waiter {
	for pr := 0; pr < int(p); pr++ {
		lv := &g.levels[pr]
		var newest *waiter
		for _, q := range lv.tenants {
			if w := q.Back().Value.(*waiter); newest == nil || w.at.After(newest.at) {
				newest = w
			}
		}
		if newest != nil {
			return newest
		}
	}
	return nil
}

// waitBudget is how long a request may wait here: half an execution's time (enough to keep
// the slots fed under overload, since under overload the queue is never empty; any longer
// only moves the overload into everyone's latency), at least 5 ms, at most maxWait. Called
// with mu held.
func (g *gate) waitBudget() time.Duration {
	e := g.execEWMA()
	if e == 0 {
		return g.maxWait
	}
	return min(g.maxWait, max(e/2, 5*time.Millisecond))
}

func (g *gate) execEWMA() time.Duration { return time.Duration(g.ewma.Load()) }

// retryAfter suggests when to come back: about one execution's time, at least 100 ms.
func (g *gate) retryAfter() time.Duration {
	return max(g.execEWMA(), 100*time.Millisecond)
}

func (g *gate) reject(reason string, r Request, msg string, retry time.Duration) *Rejection {
	return &Rejection{Reason: reason, Backend: g.backend, Class: g.class, Tenant: r.Tenant,
		Msg: msg, RetryAfter: max(retry, 100*time.Millisecond)}
}
