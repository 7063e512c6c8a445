package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
)

// heldTelemetry answers GetTrace with the trace id it was asked for, once release lets it;
// it counts the calls that reached it.
type heldTelemetry struct {
	olapgatev1.UnimplementedTelemetryServiceServer
	calls   atomic.Int32
	started chan string
	release chan struct{}
}

func (h *heldTelemetry) GetTrace(ctx context.Context, req *olapgatev1.GetTraceRequest) (*olapgatev1.GetTraceResponse, error) {
	h.calls.Add(1)
	h.started <- req.GetTraceId()
	select {
	case <-h.release:
		return &olapgatev1.GetTraceResponse{TraceId: req.GetTraceId(), SpanCount: 3}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func newHeldTelemetry() *heldTelemetry {
	return &heldTelemetry{started: make(chan string, 16), release: make(chan struct{})}
}

const (
	traceA = "0af7651916cd43dd8448eb211c80319c"
	traceB = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// TestTelemetryCoalescedAndCached: identical trace requests in flight run once; an identical
// one afterwards is answered from the cache; another tenant's identical request is its own.
func TestTelemetryCoalescedAndCached(t *testing.T) {
	h := newHeldTelemetry()
	g := New(Config{TelemetryMaxStaleness: time.Minute}, &memStore{}, []*dataset.Dataset{dataset.Sample()}, nil)
	g.SetTelemetry(h, dataset.BackendEmbedded)
	ts := g.TelemetryServer()
	ctx := context.Background()

	answers := make(chan *olapgatev1.GetTraceResponse, 3)
	for range 3 {
		go func() {
			a, err := ts.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: traceA})
			if err != nil {
				t.Error(err)
			}
			answers <- a
		}()
	}
	<-h.started
	waitFor(t, "three waiters", func() bool { return ts.(*telemetryGuard).flights.waitersFor(3) })
	close(h.release)
	for range 3 {
		if a := <-answers; a.GetTraceId() != traceA || a.GetSpanCount() != 3 {
			t.Fatalf("answer %v", a)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("store reached %d times for three identical requests in flight", n)
	}
	if _, err := ts.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: traceA}); err != nil {
		t.Fatal(err)
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("a repeated request reached the store (%d calls): not cached", n)
	}
	other := metadata.NewIncomingContext(ctx, metadata.Pairs(TenantMetadata, "acme"))
	if _, err := ts.GetTrace(other, &olapgatev1.GetTraceRequest{TraceId: traceA}); err != nil {
		t.Fatal(err)
	}
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("another tenant's request was answered from the first tenant's cache (%d calls)", n)
	}
}

// TestTelemetryAdmission: telemetry reads are admitted by the backend's limiter: with the one
// slot taken and the queue full, the next trace request is refused with RESOURCE_EXHAUSTED
// (HTTP 429 with Retry-After), not queued without bound.
func TestTelemetryAdmission(t *testing.T) {
	h := newHeldTelemetry()
	g := New(Config{TelemetryMaxStaleness: -1}, &memStore{}, []*dataset.Dataset{dataset.Sample()}, nil)
	ac := admission.New(admission.Config{Static: true, StaticLimit: 1, MaxQueue: 1}, nil)
	defer ac.Shutdown()
	g.SetAdmission(ac)
	g.SetTelemetry(h, dataset.BackendEmbedded)
	ts := g.TelemetryServer()
	ctx := context.Background()

	done := make(chan error, 2)
	go func() {
		_, err := ts.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: traceA})
		done <- err
	}()
	<-h.started
	go func() {
		_, err := ts.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: traceB})
		done <- err
	}()
	waitFor(t, "a queued trace request", func() bool { return ac.Queued() == 1 })

	_, err := ts.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: "00000000000000000000000000000001"})
	if s := status.Convert(err); s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), "queue full") {
		t.Fatalf("overloaded trace request: %v", err)
	}
	h2, err := g.Handler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h2.ServeHTTP(w, httptest.NewRequest("GET", "/v1/traces/00000000000000000000000000000002", nil))
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("HTTP overload: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	close(h.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("%d calls reached the store, want the 2 admitted", n)
	}
}
