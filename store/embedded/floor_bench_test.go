package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// BenchmarkDuckDBFloor is DuckDB's own cost of storing rows, with no Go in the way: rows
// already in DuckDB (a TEMP table the size of one commit) copied by INSERT … SELECT into a
// table of the dataset's layout, one transaction per commit, in a database file, DuckDB on one
// thread. The timed region ends with a CHECKPOINT, so WAL writes and checkpoint compression
// are counted. It bounds what any write path through DuckDB can reach per CPU-second: the
// store's own work (the appender's per-cell calls, deduplication) and decoding come on top.
// Two row shapes: the sample dataset's pageviews (the Kafka benchmark's 10-field events) and
// the collector's otel_traces (telemetrygen-shaped spans converted by otelrows).
//
//	go test -run '^$' -bench DuckDBFloor -benchtime 40x ./store/embedded/
func BenchmarkDuckDBFloor(b *testing.B) {
	shapes := []struct {
		name    string
		d       *dataset.Dataset
		fill    func(b *testing.B, d *dataset.Dataset, n int) *store.Batch
		commits []int
	}{
		{"pageviews", dataset.Sample(), func(_ *testing.B, d *dataset.Dataset, n int) *store.Batch { return genBatch(d, n, 0) },
			[]int{2_000, 10_000, 50_000}},
		{"otel_traces", otelrows.TracesDataset(), floorSpans, []int{512, 2_048, 50_000}},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			s := openStore(b, Config{Dir: b.TempDir(), Threads: 1})
			ensure(b, s, sh.d)
			ctx := context.Background()
			src := sh.commits[len(sh.commits)-1]
			if _, err := s.Write(ctx, sh.fill(b, sh.d, src)); err != nil {
				b.Fatal(err)
			}
			cn, err := s.db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer cn.Close()
			exec := func(q string) {
				if _, err := cn.ExecContext(ctx, q); err != nil {
					b.Fatalf("%s: %v", q, err)
				}
			}
			for _, rows := range sh.commits {
				b.Run(fmt.Sprintf("commit=%d", rows), func(b *testing.B) {
					exec(`DROP TABLE IF EXISTS floor`)
					exec(fmt.Sprintf(`CREATE TABLE floor AS SELECT * FROM %s LIMIT 0`, sh.d.Name))
					exec(`DROP TABLE IF EXISTS one`)
					exec(fmt.Sprintf(`CREATE TEMP TABLE one AS SELECT * FROM %s LIMIT %d`, sh.d.Name, rows))
					exec(`CHECKPOINT`)
					b.ResetTimer()
					start, cpu0 := time.Now(), cpuSeconds(b)
					for i := 0; i < b.N; i++ {
						exec(`BEGIN TRANSACTION`)
						exec(`INSERT INTO floor SELECT * FROM one`)
						exec(`COMMIT`)
					}
					exec(`CHECKPOINT`)
					spent := cpuSeconds(b) - cpu0
					total := float64(b.N * rows)
					b.ReportMetric(total/time.Since(start).Seconds(), "rows/s")
					b.ReportMetric(total/spent, "rows/cpu-s")
				})
			}
		})
	}
}

// floorSpans converts n telemetrygen-shaped spans (two per trace, two attributes each, as
// otelrows' own benchmark) with distinct ids into otel_traces rows.
func floorSpans(b *testing.B, d *dataset.Dataset, n int) *store.Batch {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("telemetrygen")
	at := pcommon.NewTimestampFromTime(baseTime)
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], uint64(i/2)+1)
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		if i%2 == 1 {
			var parent pcommon.SpanID
			binary.BigEndian.PutUint64(parent[:], uint64(i))
			sp.SetParentSpanID(parent)
		}
		sp.SetName("okey-dokey-0")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(at + pcommon.Timestamp(i)*1000)
		sp.SetEndTimestamp(at + pcommon.Timestamp(i)*1000 + 123_000)
		sp.Attributes().PutStr("network.peer.address", "1.2.3.4")
		sp.Attributes().PutStr("peer.service", "telemetrygen-client")
	}
	bt := store.NewBatch(d, n)
	if res := otelrows.AppendTraces(bt, td, otelrows.Options{}); res.Rows != n {
		b.Fatalf("converted %d spans of %d: %s", res.Rows, n, res.Message("span"))
	}
	return bt
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
