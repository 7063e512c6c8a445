package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// countStore answers every query at once with one row and counts executions.
type countStore struct {
	memStore
	execs atomic.Int32
}

func (s *countStore) Query(_ context.Context, st store.Statement) (*store.Result, error) {
	n := s.execs.Add(1)
	return &store.Result{Columns: st.Output, Rows: [][]any{{int64(n)}}}, nil
}

func cacheReq(t *testing.T, opts string) *olapgatev1.AggregateRequest {
	t.Helper()
	pb := &olapgatev1.Query{}
	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}]` + opts + `}`
	if err := protojson.Unmarshal([]byte(q), pb); err != nil {
		t.Fatal(err)
	}
	return &olapgatev1.AggregateRequest{Query: pb}
}

func TestResultCache(t *testing.T) {
	st := &countStore{}
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	ctx := context.Background()
	agg := func(opts string) *olapgatev1.AggregateResponse {
		t.Helper()
		r, err := g.Aggregate(ctx, cacheReq(t, opts))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stale := `,"options":{"maxStalenessMs":60000}`

	if r := agg(""); r.Stats.CacheHit || st.execs.Load() != 1 {
		t.Fatalf("first query: hit %v, executions %d", r.Stats.CacheHit, st.execs.Load())
	}
	// Without maxStalenessMs (and no configured default) a fresh answer is required.
	if r := agg(""); r.Stats.CacheHit || st.execs.Load() != 2 {
		t.Fatalf("no staleness allowed: hit %v, executions %d", r.Stats.CacheHit, st.execs.Load())
	}
	r := agg(stale)
	if !r.Stats.CacheHit || st.execs.Load() != 2 || r.Columns[0].Int64Values[0] != 2 || r.Stats.AgeMs < 0 {
		t.Fatalf("within staleness: hit %v, executions %d, value %d", r.Stats.CacheHit, st.execs.Load(), r.Columns[0].Int64Values[0])
	}
	if r := agg(`,"options":{"maxStalenessMs":60000,"noCache":true}`); r.Stats.CacheHit || st.execs.Load() != 3 {
		t.Fatalf("noCache: hit %v, executions %d", r.Stats.CacheHit, st.execs.Load())
	}
	// noCache still refreshes the entry: the next cached answer is the newest.
	if r := agg(stale); !r.Stats.CacheHit || r.Columns[0].Int64Values[0] != 3 {
		t.Fatalf("after refresh: %v", r.Columns[0].Int64Values)
	}
	time.Sleep(5 * time.Millisecond)
	if r := agg(`,"options":{"maxStalenessMs":1}`); r.Stats.CacheHit || st.execs.Load() != 4 {
		t.Fatalf("entry older than maxStalenessMs served: hit %v", r.Stats.CacheHit)
	}
	// Another tenant never sees this tenant's entry.
	tctx := metadata.NewIncomingContext(ctx, metadata.Pairs(TenantMetadata, "acme"))
	if r, err := g.Aggregate(tctx, cacheReq(t, stale)); err != nil || r.Stats.CacheHit {
		t.Fatalf("tenant acme got another tenant's cached answer: %v %v", r, err)
	}
}

func TestResultCacheDefaultStalenessAndDisabled(t *testing.T) {
	st := &countStore{}
	g := New(Config{DefaultMaxStaleness: time.Minute}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	for range 3 {
		if _, err := g.Aggregate(context.Background(), cacheReq(t, "")); err != nil {
			t.Fatal(err)
		}
	}
	if st.execs.Load() != 1 {
		t.Fatalf("configured default staleness: %d executions, want 1", st.execs.Load())
	}
	st2 := &countStore{}
	off := New(Config{DefaultMaxStaleness: time.Minute, CacheMaxBytes: -1}, st2, []*dataset.Dataset{dataset.Sample()}, nil)
	for range 3 {
		if _, err := off.Aggregate(context.Background(), cacheReq(t, "")); err != nil {
			t.Fatal(err)
		}
	}
	if st2.execs.Load() != 3 {
		t.Fatalf("disabled cache: %d executions, want 3", st2.execs.Load())
	}
}

func TestResultCacheLRUBytes(t *testing.T) {
	c := newResultCache(4096)
	now := time.Now()
	res := func(n int) *store.Result {
		r := &store.Result{Columns: []store.ResultColumn{{Name: "s", Type: store.TypeString}}}
		for range n {
			r.Rows = append(r.Rows, []any{"0123456789"})
		}
		return r
	}
	for i := range 20 {
		c.put(fmt.Sprint("k", i), res(5), now)
		if i == 1 {
			c.get("k0", time.Hour, now) // k0 becomes most recently used
		}
	}
	if c.bytes() > 4096 {
		t.Fatalf("cache holds %d bytes over its 4096 bound", c.bytes())
	}
	if _, _, _, ok := c.get("k19", time.Hour, now); !ok {
		t.Fatal("newest entry evicted")
	}
	if _, _, _, ok := c.get("k1", time.Hour, now); ok {
		t.Fatal("least recently used entry kept")
	}
	c.put("huge", res(1000), now)
	if _, _, _, ok := c.get("huge", time.Hour, now); ok {
		t.Fatal("an entry over a quarter of the bound was cached")
	}
}

func TestRelativeRangesShareCacheEntries(t *testing.T) {
	st := &countStore{}
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	clock := time.Date(2026, 11, 22, 10, 0, 1, 0, time.UTC)
	g.now = func() time.Time { return clock }
	rel := func(opts string) *olapgatev1.AggregateResponse {
		t.Helper()
		pb := &olapgatev1.Query{}
		if err := protojson.Unmarshal([]byte(`{"dataset":"pageviews","timeRange":{"start":"now-6h","end":"now"},"metrics":[{"agg":"COUNT"}]`+opts+`}`), pb); err != nil {
			t.Fatal(err)
		}
		r, err := g.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stale := `,"options":{"maxStalenessMs":60000}` // quantum 30s
	first := rel(stale)
	if first.Stats.TimeRange.End != "2026-11-22T10:00:00Z" {
		t.Fatalf("now not aligned to 30s: %v", first.Stats.TimeRange)
	}
	clock = clock.Add(20 * time.Second) // 10:00:21, same quantum
	if r := rel(stale); !r.Stats.CacheHit || st.execs.Load() != 1 {
		t.Fatalf("refresh within the quantum: hit %v, executions %d", r.Stats.CacheHit, st.execs.Load())
	}
	clock = clock.Add(10 * time.Second) // 10:00:31, next quantum
	if r := rel(stale); r.Stats.CacheHit || r.Stats.TimeRange.End != "2026-11-22T10:00:30Z" {
		t.Fatalf("next quantum: hit %v, range %v", r.Stats.CacheHit, r.Stats.TimeRange)
	}
	// Without staleness allowed, now is the clock, to the microsecond.
	if r := rel(""); r.Stats.TimeRange.End != "2026-11-22T10:00:31Z" || r.Stats.CacheHit {
		t.Fatalf("fresh query: %v", r.Stats.TimeRange)
	}
}
