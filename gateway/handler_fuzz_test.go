package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// memStore is an in-memory store.Store for handler tests: it counts written rows and answers
// queries with no rows of the planned shape. The real store is exercised in e2e/.
type memStore struct {
	mu   sync.Mutex
	rows int
}

func (m *memStore) EnsureDataset(context.Context, *dataset.Dataset) error { return nil }
func (m *memStore) Write(_ context.Context, b *store.Batch) (store.WriteResult, error) {
	for i := range b.Cols {
		c := &b.Cols[i]
		if n := len(c.Strings) + len(c.Ints) + len(c.Floats) + len(c.Bools) + len(c.Times); n != b.N {
			panic("column length differs from batch size")
		}
		if c.Null != nil && len(c.Null) != b.N {
			panic("null mask length differs from batch size")
		}
	}
	m.mu.Lock()
	m.rows += b.N
	m.mu.Unlock()
	return store.WriteResult{Rows: b.N}, nil
}
func (m *memStore) Query(_ context.Context, st store.Statement) (*store.Result, error) {
	return &store.Result{Columns: st.Output}, nil
}
func (m *memStore) Dialect() string { return "duckdb" }
func (m *memStore) Close() error    { return nil }

func newTestHandler(t testing.TB) (http.Handler, *memStore) {
	st := &memStore{}
	g := New(Config{MaxBodyBytes: 1 << 20, MaxEvents: 100}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	h, err := g.Handler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// FuzzIngestHandler: any body gets a JSON answer with a 200/400/413 status, never a panic or a
// 5xx, and accepted counts match what reached the store.
func FuzzIngestHandler(f *testing.F) {
	f.Add([]byte(`[{"time":"2026-11-22T10:00:00Z","page":"/","duration_ms":5}]`), false)
	f.Add([]byte(`{"time":1795341600000}`+"\n"+`{"time":"x"}`), true)
	f.Add([]byte(`[1, "a", null, {}]`), false)
	f.Add([]byte(`[{"time":"2026-11-22T10:00:00Z","bytes":1e400}]`), false)
	h, st := newTestHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		before := st.rows
		req := httptest.NewRequest(http.MethodPost, "/v1/datasets/pageviews/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		var ans struct {
			Accepted *int `json:"accepted"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
			t.Fatalf("answer not JSON: %v: %s", err, w.Body)
		}
		if ans.Accepted != nil && *ans.Accepted != st.rows-before {
			t.Fatalf("answer says %d accepted, store got %d", *ans.Accepted, st.rows-before)
		}
	})
}

// FuzzQueryHandler: any body gets 200 or a 4xx with a message, never a panic or a 5xx.
func FuzzQueryHandler(f *testing.F) {
	f.Add([]byte(`{"dataset":"pageviews","timeRange":{"start":"now-1h","end":"now"},"metrics":[{"agg":"COUNT"}]}`))
	f.Add([]byte(`{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"granularity":"1h","timeZone":"America/New_York","groupBy":["country"],"metrics":[{"agg":"PERCENTILE","field":"duration_ms","p":0.99}],"filter":{"and":{"filters":[{"cmp":{"field":"page","op":"IN","values":["/", "x"]}},{"not":{"cmp":{"field":"device","op":"IS_NULL"}}}]}},"having":{"cmp":{"field":"p99_duration_ms","op":"GT","values":[10]}},"orderBy":[{"by":"p99_duration_ms","desc":true}],"limit":5}`))
	f.Add([]byte(`{"dataset":"pageviews","metrics":[{"agg":"SUM","field":"bytes","as":"x\"; DROP TABLE pageviews; --"}]}`))
	f.Add([]byte(`{"dataset":"pageviews","granularity":"0m","metrics":[{"agg":"count"}],"limit":-1}`))
	h, _ := newTestHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/query", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer not JSON: %s", w.Body)
		}
	})
}
