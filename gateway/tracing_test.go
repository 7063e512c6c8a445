package gateway

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/metadata"

	"github.com/olapgate/olapgate/gateway/admission"
	"github.com/olapgate/olapgate/internal/dataset"
)

// TestTracingGRPC: a gRPC query carrying a sampled traceparent in its metadata is traced as
// the caller's child (query span → admission wait, backend statement with its SQL) and its
// stats name the trace; without one (and a sampler that says no) nothing is recorded and the
// answer names no trace.
func TestTracingGRPC(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	g := New(Config{}, &memStore{}, []*dataset.Dataset{dataset.Sample()}, nil)
	ac := admission.New(admission.Config{}, nil)
	defer ac.Shutdown()
	g.SetAdmission(ac)
	g.SetTracer(tp.Tracer("test"))

	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+tid+"-"+sid+"-01"))
	a, err := g.Aggregate(ctx, aggregateReq(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.GetStats().GetTraceId() != tid {
		t.Fatalf("traceId %q", a.GetStats().GetTraceId())
	}
	spans := rec.Ended()
	names := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		names[s.Name()] = s
	}
	root := names["query pageviews"]
	if root == nil || root.Parent().SpanID().String() != sid {
		t.Fatalf("query span missing or not the caller's child: %v", names)
	}
	for _, n := range []string{"admission.wait", "store.query"} {
		if s := names[n]; s == nil || s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Fatalf("%s not under the query span: %v", n, names)
		}
	}
	var sql string
	for _, kv := range names["store.query"].Attributes() {
		if kv.Key == "db.query.text" {
			sql = kv.Value.AsString()
		}
	}
	if sql == "" {
		t.Fatal("store.query span without db.query.text")
	}

	n := len(rec.Ended())
	a, err = g.Aggregate(context.Background(), aggregateReq(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.GetStats().GetTraceId() != "" || len(rec.Ended()) != n {
		t.Fatalf("unsampled query traced: traceId %q, %d spans", a.GetStats().GetTraceId(), len(rec.Ended())-n)
	}
}
