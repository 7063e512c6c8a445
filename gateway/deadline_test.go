package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/internal/dataset"
)

// TestDeadlines: timeoutMs, the gRPC deadline and HTTP Grpc-Timeout all reach the backend
// query, which is cancelled, and the client gets DeadlineExceeded / 504.
func TestDeadlines(t *testing.T) {
	st := newGateStore() // never released: every query runs until its context ends
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample()}, nil)
	h, err := g.Handler(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// timeoutMs option over gRPC.
	req := cacheReq(t, `,"options":{"timeoutMs":30}`)
	if _, err := g.Aggregate(context.Background(), req); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("timeoutMs: %v", err)
	}
	// The caller's own deadline (as a gRPC client deadline arrives).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := g.Aggregate(ctx, cacheReq(t, `,"options":{"timeoutMs":60000}`)); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("gRPC deadline: %v", err)
	}
	// HTTP Grpc-Timeout header.
	r := httptest.NewRequest(http.MethodPost, "/v1/query", bytes.NewReader([]byte(coalesceQuery)))
	r.Header.Set("Grpc-Timeout", "30m")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusGatewayTimeout {
		t.Fatalf("Grpc-Timeout: HTTP %d %s", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodPost, "/v1/query", bytes.NewReader([]byte(coalesceQuery)))
	r.Header.Set("Grpc-Timeout", "soon")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Fatalf("bad Grpc-Timeout: HTTP %d %s", w.Code, w.Body)
	}
	// An HTTP client going away cancels its backend query.
	cctx, leave := context.WithCancel(context.Background())
	r = httptest.NewRequest(http.MethodPost, "/v1/query", bytes.NewReader([]byte(coalesceQuery))).WithContext(cctx)
	done := make(chan struct{})
	go func() { h.ServeHTTP(httptest.NewRecorder(), r); close(done) }()
	waitFor(t, "query to start", func() bool { return g.inflight.waitersFor(1) })
	leave()
	<-done
	// Cancellations reach the store asynchronously (the shared execution notices its context).
	waitFor(t, "every backend query to be cancelled, one per request", func() bool { return st.canceled.Load() == 4 })
	if got := st.execs.Load(); got != 4 {
		t.Fatalf("%d backend executions, want 4", got)
	}
}

func TestDatasetMaxTimeout(t *testing.T) {
	d := dataset.Sample()
	d.MaxTimeout = 20 * time.Millisecond
	g := New(Config{}, newGateStore(), []*dataset.Dataset{d}, nil)
	start := time.Now()
	_, err := g.Aggregate(context.Background(), cacheReq(t, `,"options":{"timeoutMs":60000}`))
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 10*time.Second {
		t.Fatalf("dataset maxTimeout not applied: %v after %s", err, time.Since(start))
	}
	for _, tc := range []struct {
		ms   int64
		want time.Duration
	}{{0, 20 * time.Millisecond}, {5, 5 * time.Millisecond}, {1000, 20 * time.Millisecond}} {
		if got := g.timeout(tc.ms, d); got != tc.want {
			t.Errorf("timeout(%d) = %s, want %s", tc.ms, got, tc.want)
		}
	}
	if got := g.timeout(0, dataset.Sample()); got != 30*time.Second {
		t.Errorf("default timeout %s", got)
	}
}
