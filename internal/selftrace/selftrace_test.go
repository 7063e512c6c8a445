package selftrace

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

type sink struct {
	mu    sync.Mutex
	spans map[string]ptrace.Span
	res   map[string]string
}

func (s *sink) consume(_ context.Context, td ptrace.Traces) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ptrace.NewSpan()
				ss.Spans().At(k).CopyTo(sp)
				s.spans[sp.Name()] = sp
				sn, _ := rs.Resource().Attributes().Get("service.name")
				s.res[sp.Name()] = sn.Str() + "/" + ss.Scope().Name()
			}
		}
	}
	return nil
}

// TestSpansReachConsumer: nested spans made with the tracer arrive converted, with their
// tree, kinds, attributes, events, status and resource intact.
func TestSpansReachConsumer(t *testing.T) {
	s := &sink{spans: map[string]ptrace.Span{}, res: map[string]string{}}
	tr, err := New(Config{SampleRatio: 1}, "v-test", s.consume)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	ctx, root := tr.Tracer().Start(context.Background(), "query pageviews", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("olapgate.dataset", "pageviews"), attribute.Int64("olapgate.rows", 7),
			attribute.Bool("olapgate.cache_hit", false), attribute.StringSlice("tags", []string{"a", "b"})))
	_, child := tr.Tracer().Start(ctx, "store.query", trace.WithSpanKind(trace.SpanKindClient))
	child.AddEvent("retry", trace.WithAttributes(attribute.Float64("backoff_s", 0.5)))
	child.SetStatus(codes.Error, "backend overloaded")
	child.End()
	root.End()
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, c := s.spans["query pageviews"], s.spans["store.query"]
	if r.TraceID() != c.TraceID() || c.ParentSpanID() != r.SpanID() || !r.ParentSpanID().IsEmpty() {
		t.Fatalf("tree lost: root %s/%s child %s parent %s", r.TraceID(), r.SpanID(), c.TraceID(), c.ParentSpanID())
	}
	if r.Kind() != ptrace.SpanKindServer || c.Kind() != ptrace.SpanKindClient {
		t.Fatalf("kinds %v %v", r.Kind(), c.Kind())
	}
	if v, _ := r.Attributes().Get("olapgate.rows"); v.Int() != 7 {
		t.Fatalf("attributes %v", r.Attributes().AsRaw())
	}
	if v, _ := r.Attributes().Get("tags"); v.Slice().Len() != 2 {
		t.Fatalf("slice attribute %v", r.Attributes().AsRaw())
	}
	if c.Status().Code() != ptrace.StatusCodeError || c.Status().Message() != "backend overloaded" {
		t.Fatalf("status %v %q", c.Status().Code(), c.Status().Message())
	}
	if c.Events().Len() != 1 || c.Events().At(0).Name() != "retry" {
		t.Fatalf("events lost")
	}
	if r.EndTimestamp() < r.StartTimestamp() || r.StartTimestamp() == 0 {
		t.Fatalf("times %d %d", r.StartTimestamp(), r.EndTimestamp())
	}
	if s.res["store.query"] != "olapgate/github.com/olapgate/olapgate/gateway" {
		t.Fatalf("resource/scope %q", s.res["store.query"])
	}
}

// TestSampling: a ratio of (almost) zero traces nothing on its own, but a caller's sampled
// trace is continued; disabled self-tracing records nothing at all.
func TestSampling(t *testing.T) {
	s := &sink{spans: map[string]ptrace.Span{}, res: map[string]string{}}
	tr, err := New(Config{SampleRatio: 1e-12}, "v", s.consume)
	if err != nil {
		t.Fatal(err)
	}
	_, sp := tr.Tracer().Start(context.Background(), "unsampled")
	sp.End()
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	_, sp = tr.Tracer().Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "continued")
	sp.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, ok := s.spans["unsampled"]; ok {
		t.Fatal("an unsampled request was traced")
	}
	if c, ok := s.spans["continued"]; !ok || c.TraceID() != [16]byte{1} || c.ParentSpanID() != [8]byte{2} {
		t.Fatalf("caller's sampled trace not continued: %v", s.spans)
	}

	off, err := New(Config{Disabled: true}, "v", func(context.Context, ptrace.Traces) error { return errors.New("called") })
	if err != nil {
		t.Fatal(err)
	}
	_, sp = off.Tracer().Start(context.Background(), "x")
	if sp.SpanContext().IsValid() {
		t.Fatal("disabled self-tracing made a span")
	}
	if err := off.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{SampleRatio: 2}, "v", s.consume); err == nil {
		t.Fatal("ratio 2 accepted")
	}
}
