package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"

	"github.com/olapgate/olapgate/gateway/admission"
	"github.com/olapgate/olapgate/store"
)

// Self-tracing (internal/selftrace): a query's handling is one trace, a server span
// "query <dataset>" with children for the admission wait and each backend statement (its SQL
// as db.query.text), so a slow dashboard panel can be opened as a trace: its answer's
// stats carry the trace id when the query was sampled. The caller's W3C traceparent (an HTTP
// header, or gRPC metadata) is continued.

// SetTracer records query handling with tr (default: a no-op tracer). Call it before serving.
func (g *Gateway) SetTracer(tr trace.Tracer) { g.tracer = tr }

var (
	noopTracer = noop.NewTracerProvider().Tracer("")
	traceCtx   = propagation.TraceContext{}
)

// withRemoteParent continues the trace of the request's traceparent, from gRPC metadata
// (grpc-gateway routes copy the header there) or from HTTP headers (hand-written routes).
func withRemoteParent(ctx context.Context, h http.Header) context.Context {
	if h != nil {
		return traceCtx.Extract(ctx, propagation.HeaderCarrier(h))
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("traceparent")) > 0 {
		return traceCtx.Extract(ctx, metadataCarrier(md))
	}
	return ctx
}

// metadataCarrier reads W3C trace context from gRPC metadata.
type metadataCarrier metadata.MD

func (m metadataCarrier) Get(key string) string {
	if v := metadata.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (m metadataCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }
func (m metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// finishQuerySpan labels the query's span with what happened and ends it; a sampled query's
// answer gets the trace id.
func finishQuerySpan(span trace.Span, tenant string, a *answer, err error) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if tenant != "" {
		span.SetAttributes(attribute.String("olapgate.tenant", tenant))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return
	}
	s := a.stats
	span.SetAttributes(
		attribute.Bool("olapgate.cache_hit", s.GetCacheHit()),
		attribute.Bool("olapgate.coalesced", s.GetCoalesced()),
		attribute.Int64("olapgate.queued_ms", s.GetQueuedMs()),
		attribute.Int64("olapgate.rows", s.GetRowCount()),
	)
	s.TraceId = span.SpanContext().TraceID().String()
}

// tracedQuerier records one client span per backend statement of a traced query.
type tracedQuerier struct {
	st     store.Store
	tracer trace.Tracer
}

func (q tracedQuerier) Query(ctx context.Context, s store.Statement) (*store.Result, error) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return q.st.Query(ctx, s)
	}
	ctx, span := q.tracer.Start(ctx, "store.query", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", q.st.Dialect()), attribute.String("db.query.text", s.SQL)))
	defer span.End()
	res, err := q.st.Query(ctx, s)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.Int("db.response.returned_rows", len(res.Rows)),
		attribute.Int64("olapgate.rows_scanned", res.Meta.RowsScanned), attribute.Bool("olapgate.partial", res.Meta.Partial))
	return res, nil
}

// admit is admission.Controller.Admit recorded as an "admission.wait" span (the time spent
// queued behind the limit, or the rejection).
func (g *Gateway) admit(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return g.admission.Admit(ctx, r)
	}
	_, span := g.tracer.Start(ctx, "admission.wait", trace.WithAttributes(
		attribute.String("olapgate.backend", r.Backend), attribute.String("olapgate.shape", r.Shape)))
	defer span.End()
	t, err := g.admission.Admit(ctx, r)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.Int64("olapgate.queued_ms", t.Queued.Milliseconds()))
	return t, nil
}
