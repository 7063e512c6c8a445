package otelrows

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/olapgate/olapgate/store"
)

// AppendLogs appends one otel_logs row per log record of ld to b, a batch of LogsDataset().
// A record's time is its Timestamp, else its ObservedTimestamp (as the exporter does), else
// opt.Now. Trace and span ids are optional: all zeros is stored as "". A record with a text
// value over the field limit is rejected and counted.
func AppendLogs(b *store.Batch, ld plog.Logs, opt Options) Result {
	var res Result
	limit := opt.maxField()
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	nowTS := pcommon.NewTimestampFromTime(now)
	var scratch []byte
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		resource := rl.Resource()
		svc := serviceName(resource)
		scratch = appendMap(scratch[:0], resource.Attributes())
		resAttrs := string(scratch)
		resTooBig := len(resAttrs) > limit
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scope := sl.Scope()
			scratch = appendMap(scratch[:0], scope.Attributes())
			scopeAttrs := string(scratch)
			recs := sl.LogRecords()
			for k := 0; k < recs.Len(); k++ {
				lr := recs.At(k)
				if resTooBig || len(scopeAttrs) > limit {
					res.reject("resource_logs[%d].scope_logs[%d]: resource or scope attributes are over the %d-byte limit", i, j, limit)
					continue
				}
				body := lr.Body().AsString()
				scratch = appendMap(scratch[:0], lr.Attributes())
				attrs := string(scratch)
				if n := max(len(body), len(attrs), len(lr.SeverityText()), len(lr.EventName())); n > limit {
					res.reject("resource_logs[%d].scope_logs[%d].log_records[%d]: a value is %d bytes, over the %d-byte limit", i, j, k, n, limit)
					continue
				}
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				if ts == 0 {
					ts = nowTS
				}
				c := b.Cols
				c[LogTimestamp].Times = append(c[LogTimestamp].Times, micros(ts))
				c[LogTraceID].Strings = append(c[LogTraceID].Strings, lr.TraceID().String())
				c[LogSpanID].Strings = append(c[LogSpanID].Strings, lr.SpanID().String())
				c[LogTraceFlags].Ints = append(c[LogTraceFlags].Ints, int64(lr.Flags()))
				c[LogSeverityText].Strings = append(c[LogSeverityText].Strings, lr.SeverityText())
				c[LogSeverityNumber].Ints = append(c[LogSeverityNumber].Ints, int64(lr.SeverityNumber()))
				c[LogServiceName].Strings = append(c[LogServiceName].Strings, svc)
				c[LogBody].Strings = append(c[LogBody].Strings, body)
				c[LogResourceSchemaURL].Strings = append(c[LogResourceSchemaURL].Strings, rl.SchemaUrl())
				c[LogResourceAttributes].Strings = append(c[LogResourceAttributes].Strings, resAttrs)
				c[LogScopeSchemaURL].Strings = append(c[LogScopeSchemaURL].Strings, sl.SchemaUrl())
				c[LogScopeName].Strings = append(c[LogScopeName].Strings, scope.Name())
				c[LogScopeVersion].Strings = append(c[LogScopeVersion].Strings, scope.Version())
				c[LogScopeAttributes].Strings = append(c[LogScopeAttributes].Strings, scopeAttrs)
				c[LogAttributes].Strings = append(c[LogAttributes].Strings, attrs)
				c[LogEventName].Strings = append(c[LogEventName].Strings, lr.EventName())
				appendPromoted(b, logNumCols, b.N, opt.Promoted, lr.Attributes(), resource.Attributes())
				res.Bytes += rowBytes(b, b.N) - int64(len(resAttrs)) - int64(len(scopeAttrs))
				b.N++
				res.Rows++
			}
			res.Bytes += int64(len(scopeAttrs))
		}
		res.Bytes += int64(len(resAttrs))
	}
	padNulls(b, b.N)
	return res
}
