// Package selftrace traces olapgate's own request handling into its collector, so a slow dashboard panel opens as one trace.
//
// The OpenTelemetry SDK records the spans (gateway → admission queue → cache → backend, made
// in gateway) and a batch span processor hands them to an in-process exporter that converts
// them to pdata and gives them to the collector's trace path, as if an OTLP exporter had sent
// them, without a network round trip or a listener that must be on. A request that arrives with
// a sampled W3C traceparent is always traced (the caller's trace then continues into
// olapgate's); others are sampled at Config.SampleRatio.
package selftrace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures self-tracing.
type Config struct {
	// Disabled turns self-tracing off. It is on whenever the collector is.
	Disabled bool `yaml:"disabled"`
	// SampleRatio is the share of requests without a sampled traceparent that are traced.
	// Default 0.01; 1 traces every query (for debugging: each traced query writes a few
	// spans).
	SampleRatio float64 `yaml:"sampleRatio"`
	// ServiceName is the service.name of olapgate's spans. Default "olapgate".
	ServiceName string `yaml:"serviceName"`
}

// DefaultSampleRatio is SampleRatio's default.
const DefaultSampleRatio = 0.01

// Validate checks the ratio.
func (c *Config) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("selfTracing.sampleRatio %g: must be within [0, 1]", c.SampleRatio)
	}
	return nil
}

// Consumer takes converted spans: the collector's trace path.
type Consumer func(context.Context, ptrace.Traces) error

// Tracing is a running self-tracer.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// New starts self-tracing into consume; version is olapgate's (service.version).
func New(cfg Config, version string, consume Consumer) (*Tracing, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Disabled {
		return &Tracing{tracer: noop.NewTracerProvider().Tracer("")}, nil
	}
	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = DefaultSampleRatio
	}
	name := cfg.ServiceName
	if name == "" {
		name = "olapgate"
	}
	res := resource.NewSchemaless(semconv.ServiceName(name), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		// Bounded queue: when the collector cannot keep up, self-tracing drops its own spans
		// rather than hold memory or slow queries down.
		sdktrace.WithBatcher(&exporter{consume: consume},
			sdktrace.WithBatchTimeout(time.Second), sdktrace.WithMaxQueueSize(8192)),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/olapgate/olapgate/gateway")}, nil
}

// Tracer is the tracer the gateway records with (a no-op one when disabled).
func (t *Tracing) Tracer() trace.Tracer { return t.tracer }

// Flush exports the spans ended so far (tests; shutdown flushes by itself).
func (t *Tracing) Flush(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// Shutdown exports what is buffered and stops; safe to call twice. Call it before the
// collector shuts down, so the last spans reach it.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop self-tracing: %w", err)
	}
	return nil
}

// exporter converts SDK spans to pdata for the collector.
type exporter struct {
	consume Consumer
}

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	return e.consume(ctx, Convert(spans))
}

func (e *exporter) Shutdown(context.Context) error { return nil }

// Convert turns SDK spans into pdata traces, one ResourceSpans per resource and one
// ScopeSpans per instrumentation scope, as an OTLP exporter would send them.
func Convert(spans []sdktrace.ReadOnlySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		res        *resource.Resource
		name, vers string
	}
	resources := map[*resource.Resource]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.ScopeSpans{}
	for _, s := range spans {
		rs, ok := resources[s.Resource()]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			if r := s.Resource(); r != nil {
				rs.SetSchemaUrl(r.SchemaURL())
				putAttrs(rs.Resource().Attributes(), r.Attributes())
			}
			resources[s.Resource()] = rs
		}
		is := s.InstrumentationScope()
		k := scopeKey{s.Resource(), is.Name, is.Version}
		ss, ok := scopes[k]
		if !ok {
			ss = rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(is.Name)
			ss.Scope().SetVersion(is.Version)
			ss.SetSchemaUrl(is.SchemaURL)
			scopes[k] = ss
		}
		convertSpan(ss.Spans().AppendEmpty(), s)
	}
	return td
}

func convertSpan(out ptrace.Span, s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	out.SetTraceID(pcommon.TraceID(sc.TraceID()))
	out.SetSpanID(pcommon.SpanID(sc.SpanID()))
	out.TraceState().FromRaw(sc.TraceState().String())
	if p := s.Parent(); p.IsValid() {
		out.SetParentSpanID(pcommon.SpanID(p.SpanID()))
	}
	out.SetName(s.Name())
	// trace.SpanKind and OTLP's SpanKind number the kinds alike (Internal 1 … Consumer 5).
	out.SetKind(ptrace.SpanKind(s.SpanKind()))
	out.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
	out.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
	putAttrs(out.Attributes(), s.Attributes())
	out.SetDroppedAttributesCount(uint32(max(s.DroppedAttributes(), 0)))
	for _, ev := range s.Events() {
		e := out.Events().AppendEmpty()
		e.SetName(ev.Name)
		e.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
		putAttrs(e.Attributes(), ev.Attributes)
	}
	for _, l := range s.Links() {
		ol := out.Links().AppendEmpty()
		ol.SetTraceID(pcommon.TraceID(l.SpanContext.TraceID()))
		ol.SetSpanID(pcommon.SpanID(l.SpanContext.SpanID()))
		putAttrs(ol.Attributes(), l.Attributes)
	}
	switch st := s.Status(); st.Code {
	case codes.Error:
		out.Status().SetCode(ptrace.StatusCodeError)
		out.Status().SetMessage(st.Description)
	case codes.Ok:
		out.Status().SetCode(ptrace.StatusCodeOk)
	}
}

func putAttrs(m pcommon.Map, kvs []attribute.KeyValue) {
	m.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		k := string(kv.Key)
		switch kv.Value.Type() {
		case attribute.BOOL:
			m.PutBool(k, kv.Value.AsBool())
		case attribute.INT64:
			m.PutInt(k, kv.Value.AsInt64())
		case attribute.FLOAT64:
			m.PutDouble(k, kv.Value.AsFloat64())
		case attribute.STRING:
			m.PutStr(k, kv.Value.AsString())
		case attribute.BOOLSLICE:
			s := m.PutEmptySlice(k)
			for _, v := range kv.Value.AsBoolSlice() {
				s.AppendEmpty().SetBool(v)
			}
		case attribute.INT64SLICE:
			s := m.PutEmptySlice(k)
			for _, v := range kv.Value.AsInt64Slice() {
				s.AppendEmpty().SetInt(v)
			}
		case attribute.FLOAT64SLICE:
			s := m.PutEmptySlice(k)
			for _, v := range kv.Value.AsFloat64Slice() {
				s.AppendEmpty().SetDouble(v)
			}
		case attribute.STRINGSLICE:
			s := m.PutEmptySlice(k)
			for _, v := range kv.Value.AsStringSlice() {
				s.AppendEmpty().SetStr(v)
			}
		default:
			m.PutStr(k, kv.Value.Emit())
		}
	}
}
