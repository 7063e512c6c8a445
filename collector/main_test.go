package collector

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// This package's tests are the collector's end-to-end tests (real OTel SDK clients, the real
// embedded store): they live in one package because every test binary that links DuckDB
// costs a minute to build.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The OTel SDK's global error handler delegate and gRPC's resolver/balancer
		// background goroutines are process-wide, not ours.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	)
}

func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// openStore opens an in-memory embedded store closed at the end of the test.
func openStore(t testing.TB) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), embedded.Config{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}

// startCollector starts a collector on loopback ports over st; it is shut down (before the
// store closes) at the end of the test.
func startCollector(t testing.TB, st store.Store, edit ...func(*Config)) *Collector {
	t.Helper()
	cfg := Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", FlushInterval: 20 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg, st, quietLogger(t))
	if err != nil {
		t.Fatalf("new collector: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown collector: %v", err)
		}
	})
	return c
}

// fakeStore accepts everything without DuckDB: for handler tests, fuzzing and buffer limits.
// When gate is set, Write blocks until it is closed.
type fakeStore struct {
	mu     sync.Mutex
	rows   map[string]int
	writes int
	gate   chan struct{}
}

func newFakeStore() *fakeStore { return &fakeStore{rows: map[string]int{}} }

func (f *fakeStore) EnsureDataset(context.Context, *dataset.Dataset) error { return nil }

func (f *fakeStore) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return store.WriteResult{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows[b.Dataset.Name] += b.N
	f.writes++
	return store.WriteResult{Rows: b.N}, nil
}

func (f *fakeStore) count(table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rows[table]
}

func (f *fakeStore) Query(context.Context, store.Statement) (*store.Result, error) {
	return &store.Result{}, nil
}
func (f *fakeStore) Dialect() string { return "duckdb" }
func (f *fakeStore) Close() error    { return nil }
