package gateway

import (
	"context"
	"sync"
	"time"
)

// coalescer runs identical queries that are in flight at the same time once. The shared
// execution has its own context, detached from every caller's: one client leaving must not
// fail the others, and the backend query is cancelled only when the last waiting client has
// gone. Keys are query.Query.Key(), computed after the tenant predicate is added, so no result
// crosses tenants. T is the answer type: store results for aggregate queries, protobuf
// answers for telemetry queries.
type coalescer[T any] struct {
	mu      sync.Mutex
	flights map[string]*flight[T]
}

type flight[T any] struct {
	done    chan struct{}
	res     T
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do returns fn's result for key, running fn only if no identical query is in flight; shared
// reports that this caller joined another's execution. fn gets a context that carries ctx's
// values but not its cancellation, bounded by timeout; it must not keep ctx.
func (c *coalescer[T]) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (T, error)) (res T, shared bool, err error) {
	c.mu.Lock()
	if c.flights == nil {
		c.flights = map[string]*flight[T]{}
	}
	f, shared := c.flights[key]
	if shared {
		f.waiters++
	} else {
		execCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		f = &flight[T]{done: make(chan struct{}), waiters: 1, cancel: cancel}
		c.flights[key] = f
		go func() {
			defer cancel()
			f.res, f.err = fn(execCtx)
			c.mu.Lock()
			if c.flights[key] == f {
				delete(c.flights, key)
			}
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.res, shared, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody waits any more: stop the backend, and let the next identical query start
			// afresh instead of joining a cancelled execution.
			f.cancel()
			if c.flights[key] == f {
				delete(c.flights, key)
			}
		}
		c.mu.Unlock()
		return res, shared, ctx.Err()
	}
}
