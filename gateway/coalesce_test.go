package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// gateStore counts executions and holds each query until release is closed (or its context
// ends), so tests can pile identical queries up while one is in flight.
type gateStore struct {
	memStore
	execs    atomic.Int32
	started  chan struct{}
	release  chan struct{}
	canceled atomic.Int32
}

func newGateStore() *gateStore {
	return &gateStore{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (s *gateStore) Query(ctx context.Context, st store.Statement) (*store.Result, error) {
	s.execs.Add(1)
	s.started <- struct{}{}
	select {
	case <-s.release:
		return &store.Result{Columns: st.Output, Rows: [][]any{{int64(42)}}}, nil
	case <-ctx.Done():
		s.canceled.Add(1)
		return nil, ctx.Err()
	}
}

const coalesceQuery = `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}]}`

func aggregateReq(t *testing.T) *olapgatev1.AggregateRequest {
	t.Helper()
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(coalesceQuery), pb); err != nil {
		t.Fatal(err)
	}
	return &olapgatev1.AggregateRequest{Query: pb}
}

// waitFor polls cond: the waiters register asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *coalescer[T]) waitersFor(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.flights {
		if f.waiters == n {
			return true
		}
	}
	return false
}

func TestCoalescingRunsOnce(t *testing.T) {
	st := newGateStore()
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	const n = 20
	var wg sync.WaitGroup
	resps := make([]*olapgatev1.AggregateResponse, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i], errs[i] = g.Aggregate(context.Background(), aggregateReq(t))
		}()
	}
	<-st.started
	waitFor(t, "all callers to join", func() bool { return g.inflight.waitersFor(n) })
	close(st.release)
	wg.Wait()
	if got := st.execs.Load(); got != 1 {
		t.Fatalf("%d backend executions for %d identical concurrent queries, want 1", got, n)
	}
	coalesced := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if v := resps[i].Columns[0].Int64Values[0]; v != 42 {
			t.Fatalf("caller %d got %d", i, v)
		}
		if resps[i].Stats.Coalesced {
			coalesced++
		}
	}
	if coalesced != n-1 {
		t.Fatalf("%d answers marked coalesced, want %d", coalesced, n-1)
	}
	// Once finished, the same query runs again (coalescing is not a cache).
	if _, err := g.Aggregate(context.Background(), aggregateReq(t)); err != nil || st.execs.Load() != 2 {
		t.Fatalf("after completion: err %v, executions %d", err, st.execs.Load())
	}
}

func TestCoalescingOneClientLeaving(t *testing.T) {
	st := newGateStore()
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	leaverCtx, leave := context.WithCancel(context.Background())
	leaverErr := make(chan error, 1)
	go func() {
		_, err := g.Aggregate(leaverCtx, aggregateReq(t))
		leaverErr <- err
	}()
	<-st.started
	stayErr := make(chan error, 1)
	go func() {
		_, err := g.Aggregate(context.Background(), aggregateReq(t))
		stayErr <- err
	}()
	waitFor(t, "second caller to join", func() bool { return g.inflight.waitersFor(2) })
	leave() // the caller that started the execution goes away
	if err := <-leaverErr; status.Code(err) != codes.Canceled {
		t.Fatalf("leaving caller: %v", err)
	}
	close(st.release)
	if err := <-stayErr; err != nil {
		t.Fatalf("remaining caller failed when another left: %v", err)
	}
	if st.canceled.Load() != 0 || st.execs.Load() != 1 {
		t.Fatalf("backend canceled %d times, executed %d", st.canceled.Load(), st.execs.Load())
	}
}

func TestCoalescingLastClientLeavingCancels(t *testing.T) {
	st := newGateStore()
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.Aggregate(ctx, aggregateReq(t))
			if !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
				t.Errorf("caller: %v", err)
			}
		}()
	}
	<-st.started
	waitFor(t, "callers to join", func() bool { return g.inflight.waitersFor(3) })
	cancel()
	wg.Wait()
	waitFor(t, "backend query to be cancelled", func() bool { return st.canceled.Load() == 1 })
}

func TestCoalescingNeverCrossesTenants(t *testing.T) {
	st := newGateStore()
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	var wg sync.WaitGroup
	for _, tenant := range []string{"acme", "globex", "acme"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(TenantMetadata, tenant))
			if _, err := g.Aggregate(ctx, aggregateReq(t)); err != nil {
				t.Errorf("%s: %v", tenant, err)
			}
		}()
	}
	<-st.started
	<-st.started
	waitFor(t, "acme callers to share", func() bool { return g.inflight.waitersFor(2) })
	close(st.release)
	wg.Wait()
	if got := st.execs.Load(); got != 2 {
		t.Fatalf("%d executions for 2 tenants, want 2", got)
	}
}
