package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// errBufferFull refuses a request whose rows would take the buffer over its byte bound.
var errBufferFull = errors.New("collector buffer full")

// budget bounds the bytes held by rows accepted and not yet written, across all tables.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

// reserve takes n bytes, or reports false when they do not fit. A request larger than the
// whole budget still goes through when nothing else is buffered, so it fails or succeeds on
// its own rather than being refused for ever.
func (b *budget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *budget) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used >= b.max
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// group is the rows of one table collected for one store write; every request whose rows
// are in it waits for done and then reads err.
type group struct {
	b     *store.Batch
	bytes int64
	first time.Time
	done  chan struct{}
	err   error
}

// wait blocks until the group's rows are written (nil) or failed, or ctx ends.
func (g *group) wait(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sink batches one table's rows: requests append to the pending group; one goroutine writes
// it, while the next group fills (group commit). In idle mode a group is written as soon as
// the writer is free; otherwise once it holds batchRows rows or interval has passed since its
// first rows. Requests are answered once their group is committed, so an acknowledged export
// is durable in the store.
type sink struct {
	st           store.Store
	ds           *dataset.Dataset
	derive       func(*store.Batch) *store.Batch // rows for a companion table (trace id lookup), or nil
	committed    func(*store.Batch)              // told each batch once it is stored, or nil
	budget       *budget
	batchRows    int
	interval     time.Duration
	writeTimeout time.Duration
	idle         bool // write as soon as the writer is free (Config.Flush "idle")

	mu      sync.Mutex
	pending *group
	hurry   bool // shutting down: write without waiting for more rows
	closed  bool // no more rows accepted
	wake    chan struct{}
	done    chan struct{}

	rowsWritten, writeFailures, writes atomic.Int64
}

func newSink(st store.Store, ds *dataset.Dataset, b *budget, cfg Config) *sink {
	return &sink{
		st: st, ds: ds, budget: b,
		batchRows: cfg.BatchRows, interval: cfg.FlushInterval, writeTimeout: cfg.WriteTimeout,
		idle: cfg.Flush == FlushIdle,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

func (s *sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// add queues b's rows (about bytes of memory) and returns the group to wait on. It takes
// ownership of b.
func (s *sink) add(b *store.Batch, bytes int64) (*group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if !s.budget.reserve(bytes) {
		return nil, errBufferFull
	}
	g := s.pending
	if g == nil {
		g = &group{b: b, bytes: bytes, first: time.Now(), done: make(chan struct{})}
		s.pending = g
		s.signal()
		return g, nil
	}
	g.b.Append(b)
	g.bytes += bytes
	if g.b.N >= s.batchRows {
		s.signal()
	}
	return g, nil
}

// run writes groups until the sink is closed and empty.
func (s *sink) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.mu.Lock()
		g, closed, hurry := s.pending, s.closed, s.hurry
		var linger time.Duration
		if g != nil && !hurry && !s.idle && g.b.N < s.batchRows {
			linger = s.interval - time.Since(g.first)
		}
		s.mu.Unlock()
		if g == nil {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		if linger > 0 {
			timer.Reset(linger)
			select {
			case <-s.wake: // more rows, or shutdown: look again
				timer.Stop()
				continue
			case <-timer.C:
			}
		}
		s.mu.Lock()
		g = s.pending
		s.pending = nil
		s.mu.Unlock()
		s.write(g)
	}
}

func (s *sink) write(g *group) {
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
	defer cancel()
	g.err = s.writeBatches(ctx, g.b)
	s.writes.Add(1)
	if g.err != nil {
		s.writeFailures.Add(1)
	} else {
		s.rowsWritten.Add(int64(g.b.N))
		if s.committed != nil {
			s.committed(g.b) // before the exports are answered
		}
	}
	s.budget.release(g.bytes)
	g.b = nil // the rows are no longer needed; waiters only read err
	close(g.done)
}

// writeBatches stores b and its companion rows (derive: the trace-id lookup rows on a store
// without positioned writes; the embedded store gets them later through traceLookup). A
// store that commits several batches in one transaction gets both in one commit; other
// stores get two writes at once.
func (s *sink) writeBatches(ctx context.Context, b *store.Batch) error {
	var d *store.Batch
	if s.derive != nil {
		if d = s.derive(b); d.N == 0 {
			d = nil
		}
	}
	if d == nil {
		if _, err := s.st.Write(ctx, b); err != nil {
			return fmt.Errorf("write %s: %w", s.ds.Name, err)
		}
		return nil
	}
	if pw, ok := s.st.(store.PositionedWriter); ok {
		if _, err := pw.WritePositioned(ctx, s.ds.Name, []*store.Batch{b, d}, nil); err != nil {
			return fmt.Errorf("write %s and %s: %w", s.ds.Name, d.Dataset.Name, err)
		}
		return nil
	}
	var wg sync.WaitGroup
	var deriveErr error
	wg.Go(func() {
		if _, err := s.st.Write(ctx, d); err != nil {
			deriveErr = fmt.Errorf("write %s: %w", d.Dataset.Name, err)
		}
	})
	_, err := s.st.Write(ctx, b)
	if err != nil {
		err = fmt.Errorf("write %s: %w", s.ds.Name, err)
	}
	wg.Wait()
	return errors.Join(err, deriveErr)
}

// setHurry makes the sink write what it has without waiting for more rows (shutdown).
func (s *sink) setHurry() {
	s.mu.Lock()
	s.hurry = true
	s.mu.Unlock()
	s.signal()
}

// close stops accepting rows; run writes what is pending and returns.
func (s *sink) close() {
	s.mu.Lock()
	s.hurry, s.closed = true, true
	s.mu.Unlock()
	s.signal()
}
