package otelrows

import (
	"encoding/hex"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// AppendTraces appends one otel_traces row per span of td to b, a batch of TracesDataset().
// A span whose trace or span id is all zeros (invalid in OTLP), or with a text value over the
// field limit, is rejected and counted.
func AppendTraces(b *store.Batch, td ptrace.Traces, opt Options) Result {
	var res Result
	limit := opt.maxField()
	durIdx := len(b.Cols) - 1
	var scratch []byte
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resource := rs.Resource()
		svc := serviceName(resource)
		scratch = appendMap(scratch[:0], resource.Attributes())
		resAttrs := string(scratch)
		resTooBig := len(resAttrs) > limit
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				tid, sid := sp.TraceID(), sp.SpanID()
				switch {
				case tid.IsEmpty():
					res.reject("resource_spans[%d].scope_spans[%d].spans[%d]: trace_id is all zeros", i, j, k)
					continue
				case sid.IsEmpty():
					res.reject("resource_spans[%d].scope_spans[%d].spans[%d]: span_id is all zeros", i, j, k)
					continue
				case resTooBig:
					res.reject("resource_spans[%d]: resource attributes are %d bytes of JSON, over the %d-byte limit", i, len(resAttrs), limit)
					continue
				}
				// The span's generated text (ids in hex, attributes, events and links as JSON)
				// is built in one buffer and becomes one string, which the columns slice: one
				// allocation per span instead of six.
				parent := sp.ParentSpanID()
				scratch = hex.AppendEncode(scratch[:0], tid[:])
				scratch = hex.AppendEncode(scratch, sid[:])
				if !parent.IsEmpty() {
					scratch = hex.AppendEncode(scratch, parent[:])
				}
				idsEnd := len(scratch)
				scratch = appendMap(scratch, sp.Attributes())
				attrsEnd := len(scratch)
				scratch = appendEvents(scratch, sp.Events())
				eventsEnd := len(scratch)
				scratch = appendLinks(scratch, sp.Links())
				text := string(scratch)
				traceID, spanID, parentID := text[:32], text[32:48], text[48:idsEnd]
				attrs, events, links := text[idsEnd:attrsEnd], text[attrsEnd:eventsEnd], text[eventsEnd:]
				if n := max(len(attrs), len(events), len(links), len(sp.Name()), len(sp.Status().Message()), len(sp.TraceState().AsRaw())); n > limit {
					res.reject("resource_spans[%d].scope_spans[%d].spans[%d]: a value is %d bytes, over the %d-byte limit", i, j, k, n, limit)
					continue
				}
				start, end := sp.StartTimestamp(), sp.EndTimestamp()
				dur := int64(0)
				if end > start {
					dur = int64(end - start)
				}
				c := b.Cols
				c[SpanTimestamp].Times = append(c[SpanTimestamp].Times, micros(start))
				c[SpanTraceID].Strings = append(c[SpanTraceID].Strings, traceID)
				c[SpanSpanID].Strings = append(c[SpanSpanID].Strings, spanID)
				c[SpanParentSpanID].Strings = append(c[SpanParentSpanID].Strings, parentID)
				c[SpanTraceState].Strings = append(c[SpanTraceState].Strings, sp.TraceState().AsRaw())
				c[SpanName].Strings = append(c[SpanName].Strings, sp.Name())
				c[SpanKind].Strings = append(c[SpanKind].Strings, sp.Kind().String())
				c[SpanServiceName].Strings = append(c[SpanServiceName].Strings, svc)
				c[SpanResourceAttributes].Strings = append(c[SpanResourceAttributes].Strings, resAttrs)
				c[SpanScopeName].Strings = append(c[SpanScopeName].Strings, scope.Name())
				c[SpanScopeVersion].Strings = append(c[SpanScopeVersion].Strings, scope.Version())
				c[SpanAttributes].Strings = append(c[SpanAttributes].Strings, attrs)
				c[SpanStatusCode].Strings = append(c[SpanStatusCode].Strings, sp.Status().Code().String())
				c[SpanStatusMessage].Strings = append(c[SpanStatusMessage].Strings, sp.Status().Message())
				c[SpanEvents].Strings = append(c[SpanEvents].Strings, events)
				c[SpanLinks].Strings = append(c[SpanLinks].Strings, links)
				appendPromoted(b, spanNumDims, b.N, opt.Promoted, sp.Attributes(), resource.Attributes())
				c[durIdx].Ints = append(c[durIdx].Ints, dur)
				// The resource JSON is shared by the resource's spans: count it once.
				res.Bytes += rowBytes(b, b.N) - int64(len(resAttrs))
				b.N++
				res.Rows++
			}
		}
		res.Bytes += int64(len(resAttrs))
	}
	padNulls(b, b.N)
	return res
}

// appendEvents writes span events as a JSON array of {"Timestamp","Name","Attributes"}, the
// exporter's Events.* columns zipped.
func appendEvents(buf []byte, evs ptrace.SpanEventSlice) []byte {
	buf = append(buf, '[')
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"Timestamp":`...)
		buf = appendTime(buf, ev.Timestamp())
		buf = append(buf, `,"Name":`...)
		buf = appendString(buf, ev.Name())
		buf = append(buf, `,"Attributes":`...)
		buf = appendMap(buf, ev.Attributes())
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// appendLinks writes span links as a JSON array of {"TraceId","SpanId","TraceState","Attributes"}.
func appendLinks(buf []byte, links ptrace.SpanLinkSlice) []byte {
	buf = append(buf, '[')
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"TraceId":`...)
		buf = appendString(buf, l.TraceID().String())
		buf = append(buf, `,"SpanId":`...)
		buf = appendString(buf, l.SpanID().String())
		buf = append(buf, `,"TraceState":`...)
		buf = appendString(buf, l.TraceState().AsRaw())
		buf = append(buf, `,"Attributes":`...)
		buf = appendMap(buf, l.Attributes())
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// TraceIDTimes returns the otel_traces_trace_id_ts rows for a batch of spans: per trace id,
// the earliest and latest span start in the batch, as the exporter's materialized view does
// per insert. d is TraceIDTsDataset().
func TraceIDTimes(d *dataset.Dataset, spans *store.Batch) *store.Batch {
	type span struct{ lo, hi int64 }
	ids := spans.Cols[SpanTraceID].Strings
	ts := spans.Cols[SpanTimestamp].Times
	seen := make(map[string]int, 64)
	order := make([]string, 0, 64)
	bounds := make([]span, 0, 64)
	for i := 0; i < spans.N; i++ {
		id := ids[i]
		if id == "" {
			continue
		}
		j, ok := seen[id]
		if !ok {
			seen[id] = len(order)
			order = append(order, id)
			bounds = append(bounds, span{ts[i], ts[i]})
			continue
		}
		bounds[j].lo = min(bounds[j].lo, ts[i])
		bounds[j].hi = max(bounds[j].hi, ts[i])
	}
	out := store.NewBatch(d, len(order))
	for j, id := range order {
		out.Cols[TraceIDTsStart].Times = append(out.Cols[TraceIDTsStart].Times, bounds[j].lo)
		out.Cols[TraceIDTsTraceID].Strings = append(out.Cols[TraceIDTsTraceID].Strings, id)
		out.Cols[TraceIDTsEnd].Times = append(out.Cols[TraceIDTsEnd].Times, bounds[j].hi)
	}
	out.N = len(order)
	return out
}
