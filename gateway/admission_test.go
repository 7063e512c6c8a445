package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// TestAdmissionOverload: with one execution allowed and one waiting, the next query is refused
// with RESOURCE_EXHAUSTED and RetryInfo (HTTP: 429 with Retry-After), unless it allows a stale
// cached answer; queued time shows in the stats.
func TestAdmissionOverload(t *testing.T) {
	st := newGateStore()
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	ac := admission.New(admission.Config{Static: true, StaticLimit: 1, MaxQueue: 1}, nil)
	defer ac.Shutdown()
	g.SetAdmission(ac)
	ctx := context.Background()
	req := func(day int, opts string) *olapgatev1.AggregateRequest {
		pb := &olapgatev1.Query{}
		q := fmt.Sprintf(`{"dataset":"pageviews","timeRange":{"start":"2026-11-%02dT00:00:00Z","end":"2026-11-%02dT00:00:00Z"},"metrics":[{"agg":"COUNT"}],"options":{%s}}`, day, day+1, opts)
		if err := protojson.Unmarshal([]byte(q), pb); err != nil {
			t.Fatal(err)
		}
		return &olapgatev1.AggregateRequest{Query: pb}
	}
	// Day 1 is answered once, so the cache holds it.
	go func() { st.release <- struct{}{} }()
	if _, err := g.Aggregate(ctx, req(1, "")); err != nil {
		t.Fatal(err)
	}
	<-st.started

	type result struct {
		a   *olapgatev1.AggregateResponse
		err error
	}
	running, waiting := make(chan result, 1), make(chan result, 1)
	go func() { a, err := g.Aggregate(ctx, req(2, "")); running <- result{a, err} }()
	<-st.started // day 2 holds the only slot
	go func() { a, err := g.Aggregate(ctx, req(3, "")); waiting <- result{a, err} }()
	waitFor(t, "a queued query", func() bool { return ac.Queued() == 1 })

	_, err := g.Aggregate(ctx, req(4, ""))
	s := status.Convert(err)
	if s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), "queue full") {
		t.Fatalf("overloaded query: %v", err)
	}
	if len(s.Details()) != 1 {
		t.Fatalf("details %v", s.Details())
	}
	if _, ok := s.Details()[0].(*errdetails.RetryInfo); !ok {
		t.Fatalf("detail %T", s.Details()[0])
	}
	// Over HTTP: 429 with Retry-After.
	w := httptest.NewRecorder()
	body := `{"dataset":"pageviews","timeRange":{"start":"2026-11-05T00:00:00Z","end":"2026-11-06T00:00:00Z"},"metrics":[{"agg":"COUNT"}]}`
	g.handleQuery(w, httptest.NewRequest("POST", "/v1/query", strings.NewReader(body)))
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("HTTP overload: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// Degrade before refusing: day 1 is cached; noCache skips the normal cache lookup, so only
	// maxStalenessOnOverloadMs can answer it.
	a, err := g.Aggregate(ctx, req(1, `"noCache":true,"maxStalenessOnOverloadMs":600000`))
	if err != nil || !a.GetStats().GetStale() || !a.GetStats().GetCacheHit() {
		t.Fatalf("stale answer under overload: %v %v", a.GetStats(), err)
	}

	time.Sleep(20 * time.Millisecond) // day 3 has now waited at least this long
	st.release <- struct{}{}          // day 2 finishes; day 3 gets the slot
	if r := <-running; r.err != nil {
		t.Fatal(r.err)
	}
	<-st.started
	st.release <- struct{}{}
	r := <-waiting
	if r.err != nil || r.a.GetStats().GetQueuedMs() < 20 {
		t.Fatalf("queued query: %v %v", r.a.GetStats(), r.err)
	}
}

// blockingWriteStore holds every Write until release is closed.
type blockingWriteStore struct {
	memStore
	writes  atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (s *blockingWriteStore) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	s.started <- struct{}{}
	select {
	case <-s.release:
		s.writes.Add(1)
		return store.WriteResult{Rows: b.N}, nil
	case <-ctx.Done():
		return store.WriteResult{}, ctx.Err()
	}
}

// TestIngestBackpressure: while the bytes in flight are at the bound, another push waits
// briefly and is then refused with 429 and Retry-After; nothing of it is stored, and the
// request holding the budget completes.
func TestIngestBackpressure(t *testing.T) {
	st := &blockingWriteStore{started: make(chan struct{}, 2), release: make(chan struct{})}
	g := New(Config{IngestInflightBytes: 2048, IngestWait: 50 * time.Millisecond}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	body := `[{"id":"a","time":"2026-11-22T10:00:00Z","page":"/` + strings.Repeat("x", 1400) + `"}]`
	first := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/datasets/pageviews/events", strings.NewReader(body))
		g.handleIngest(w, withDataset(r, "pageviews"))
		first <- w.Code
	}()
	<-st.started
	w := httptest.NewRecorder()
	t0 := time.Now()
	g.handleIngest(w, withDataset(httptest.NewRequest("POST", "/v1/datasets/pageviews/events", strings.NewReader(body)), "pageviews"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "maxInflightBytes") {
		t.Fatalf("second push: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if waited := time.Since(t0); waited < 40*time.Millisecond {
		t.Errorf("refused after %s, want a short wait first", waited)
	}
	close(st.release)
	if code := <-first; code != 200 {
		t.Fatalf("first push: %d", code)
	}
	if n := st.writes.Load(); n != 1 {
		t.Fatalf("%d writes, want only the first push's", n)
	}
}

func withDataset(r *http.Request, name string) *http.Request {
	r.SetPathValue("dataset", name)
	return r
}
