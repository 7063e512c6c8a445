package otelrows

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/store"
)

// benchTraces is a 512-span export shaped like telemetrygen's: two spans per trace, two
// attributes each, no events or links.
func benchTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("telemetrygen")
	at := pcommon.NewTimestampFromTime(time.Unix(1_800_000_000, 0))
	for i := 0; i < 512; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(i >> 9), byte(i / 2)})
		sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, byte(i >> 8), byte(i)})
		if i%2 == 1 {
			sp.SetParentSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, byte((i - 1) >> 8), byte(i - 1)})
		}
		sp.SetName("okey-dokey-0")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(at)
		sp.SetEndTimestamp(at + 123_000)
		sp.Attributes().PutStr("network.peer.address", "1.2.3.4")
		sp.Attributes().PutStr("peer.service", "telemetrygen-client")
	}
	return td
}

func benchLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "telemetrygen")
	sl := rl.ScopeLogs().AppendEmpty()
	at := pcommon.NewTimestampFromTime(time.Unix(1_800_000_000, 0))
	for i := 0; i < 512; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(at)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("Info")
		lr.Body().SetStr("the message")
		lr.Attributes().PutStr("app", "server")
	}
	return ld
}

func BenchmarkAppendTraces(b *testing.B) {
	td, ds := benchTraces(), TracesDataset()
	b.ReportAllocs()
	for b.Loop() {
		bt := store.NewBatch(ds, 512)
		if r := AppendTraces(bt, td, Options{}); r.Rows != 512 {
			b.Fatal(r)
		}
	}
}

func BenchmarkAppendLogs(b *testing.B) {
	ld, ds := benchLogs(), LogsDataset()
	b.ReportAllocs()
	for b.Loop() {
		bt := store.NewBatch(ds, 512)
		if r := AppendLogs(bt, ld, Options{}); r.Rows != 512 {
			b.Fatal(r)
		}
	}
}
