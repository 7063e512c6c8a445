package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// BenchmarkGetTrace measures GetTrace for a 1,000-span trace with 5,000 logs in a store of
// OLAPGATE_BENCH_SPANS background spans (default 1M; the target is 10M, p99 < 50 ms)
// written in time order over a day, 10 spans and 5 logs per background trace. It reports p50
// and p99 of the GetTrace calls.
//
// Loading 10M spans takes minutes, and the testing package calls a benchmark more than once
// (b.N = 1 first). With OLAPGATE_BENCH_DIR set, the store is a data directory under it, one
// per size (and index choice), loaded once and reopened by later runs; that is also the
// production layout (the in-memory store keeps DuckDB's row groups uncompressed).
// OLAPGATE_BENCH_PHASES=1 times the statements of a GetTrace one by one, and
// OLAPGATE_BENCH_EXPLAIN=1 logs EXPLAIN ANALYZE of them (run with -test.v to see all of it).
func BenchmarkGetTrace(b *testing.B) {
	total := 1_000_000
	if v := os.Getenv("OLAPGATE_BENCH_SPANS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		total = n
	}
	ctx := context.Background()
	noIndex := os.Getenv("OLAPGATE_BENCH_NOINDEX") != ""
	st, loaded := openBenchStore(b, total, noIndex)
	ds := otelrows.Datasets()
	for _, d := range ds {
		if err := st.EnsureDataset(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	spansDS, idDS, logsDS := ds[0], ds[1], ds[2]
	if !noIndex {
		if err := st.EnsureIndex(ctx, idDS.Name, "TraceId"); err != nil {
			b.Fatal(err)
		}
	}
	target := fmt.Sprintf("%032x", 0xfeedbeef)
	if !loaded {
		loadGetTraceData(b, st, total, spansDS, idDS, logsDS, target)
	}
	if os.Getenv("OLAPGATE_BENCH_PHASES") != "" || os.Getenv("OLAPGATE_BENCH_EXPLAIN") != "" {
		getTracePhases(b, st, target)
	}
	svc := telemetry.New(st, telemetry.Config{})
	req := &olapgatev1.GetTraceRequest{TraceId: target}
	if f := os.Getenv("OLAPGATE_BENCH_DUMP"); f != "" {
		// The whole answer, to compare implementations.
		got, err := svc.GetTrace(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(protojson.Format(got)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		got, err := svc.GetTrace(ctx, req)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Spans) != 1000 || got.LogCount != 5000 {
			b.Fatalf("spans %d logs %d", len(got.Spans), got.LogCount)
		}
	}
	b.StopTimer()
	// CPU time of the whole process (DuckDB's threads too) per call: on a shared machine it
	// varies less than latency does.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openBenchStore opens BenchmarkGetTrace's store: in memory, or with OLAPGATE_BENCH_DIR a data
// directory for this size that loaded reports as already holding the data.
func openBenchStore(b *testing.B, total int, noIndex bool) (st *embedded.Store, loaded bool) {
	root := os.Getenv("OLAPGATE_BENCH_DIR")
	if root == "" {
		return openStore(b), false
	}
	name := fmt.Sprintf("gettrace-%d", total)
	if noIndex {
		name += "-noindex"
	}
	dir := filepath.Join(root, name)
	marker := filepath.Join(dir, "loaded")
	if _, err := os.Stat(marker); err != nil {
		// Absent or half-loaded (an interrupted run): start over.
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	} else {
		loaded = true
	}
	st, err := embedded.Open(context.Background(), embedded.Config{Dir: dir})
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
		if !loaded && !b.Failed() {
			// Every write was acknowledged, so durable: later runs may reuse the directory.
			if err := os.WriteFile(marker, []byte(strconv.Itoa(total)+"\n"), 0o644); err != nil {
				b.Errorf("mark loaded: %v", err)
			}
		}
	})
	return st, loaded
}

// loadGetTraceData writes BenchmarkGetTrace's spans, lookup rows and logs.
func loadGetTraceData(b *testing.B, st store.Store, total int, spansDS, idDS, logsDS *dataset.Dataset, target string) {
	ctx := context.Background()
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	step := 24 * time.Hour / time.Duration(total)
	load := time.Now()
	const batch = 100_000
	for done := 0; done < total; done += batch {
		n := min(batch, total-done)
		spans := store.NewBatch(spansDS, n)
		logs := store.NewBatch(logsDS, n/2)
		for i := done; i < done+n; i++ {
			at := day.Add(time.Duration(i) * step)
			traceID := fmt.Sprintf("%032x", i/10+1)
			spanID := fmt.Sprintf("%016x", i+1)
			parent := ""
			if i%10 != 0 {
				parent = fmt.Sprintf("%016x", i/10*10+1)
			}
			addSpan(spans, at, traceID, spanID, parent, i)
			if i%2 == 0 {
				addLog(logs, at, traceID, spanID, i)
			}
		}
		if i := done + n/2; i >= total/2 && i-n < total/2 || done == 0 && total <= batch {
			// The target trace sits in the middle of the day.
			mid := day.Add(12 * time.Hour)
			for s := 0; s < 1000; s++ {
				parent := ""
				if s > 0 {
					parent = fmt.Sprintf("%016x", 0xa000000+s/10)
				}
				addSpan(spans, mid.Add(time.Duration(s)*time.Millisecond), target, fmt.Sprintf("%016x", 0xa000000+s), parent, s)
			}
			for l := 0; l < 5000; l++ {
				addLog(logs, mid.Add(time.Duration(l)*200*time.Microsecond), target, fmt.Sprintf("%016x", 0xa000000+l%1000), l)
			}
		}
		ids := otelrows.TraceIDTimes(idDS, spans)
		for _, w := range []*store.Batch{spans, ids, logs} {
			if _, err := st.Write(ctx, w); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("loaded %d spans in %s", total, time.Since(load).Round(time.Millisecond))
}

// getTracePhases times (OLAPGATE_BENCH_PHASES) or explains (OLAPGATE_BENCH_EXPLAIN) the
// statements of one GetTrace of target, as the service builds them.
func getTracePhases(b *testing.B, st store.Store, target string) {
	ctx := context.Background()
	explain := os.Getenv("OLAPGATE_BENCH_EXPLAIN") != ""
	stmts, err := telemetry.New(st, telemetry.Config{}).TraceStatements(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range stmts {
		for r := 0; r < 3; r++ {
			if explain {
				res, err := st.Query(ctx, store.Statement{SQL: "EXPLAIN ANALYZE " + s.SQL, Args: s.Args,
					Output: []store.ResultColumn{{Name: "key", Type: store.TypeString}, {Name: "value", Type: store.TypeString}}})
				if err != nil {
					b.Fatal(err)
				}
				if r == 2 {
					for _, row := range res.Rows {
						b.Logf("%s\n%s", s.SQL, row[1])
					}
				}
				continue
			}
			start := time.Now()
			res, err := st.Query(ctx, s)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%8s %5d rows: %.90s", time.Since(start).Round(time.Microsecond), len(res.Rows), s.SQL)
		}
	}
}

func addSpan(b *store.Batch, at time.Time, traceID, spanID, parent string, i int) {
	c := b.Cols
	str := func(col int, s string) { c[col].Strings = append(c[col].Strings, s) }
	c[otelrows.SpanTimestamp].Times = append(c[otelrows.SpanTimestamp].Times, at.UnixMicro())
	str(otelrows.SpanTraceID, traceID)
	str(otelrows.SpanSpanID, spanID)
	str(otelrows.SpanParentSpanID, parent)
	str(otelrows.SpanTraceState, "")
	str(otelrows.SpanName, "op"+strconv.Itoa(i%50))
	str(otelrows.SpanKind, "Server")
	str(otelrows.SpanServiceName, "svc"+strconv.Itoa(i%7))
	str(otelrows.SpanResourceAttributes, `{"service.name":"svc`+strconv.Itoa(i%7)+`","host.name":"host-1","telemetry.sdk.language":"go"}`)
	str(otelrows.SpanScopeName, "lib")
	str(otelrows.SpanScopeVersion, "1.0")
	str(otelrows.SpanAttributes, `{"http.route":"/api/v1/items/{id}","http.status_code":200,"user.id":"u`+strconv.Itoa(i%1000)+`"}`)
	str(otelrows.SpanStatusCode, "Unset")
	str(otelrows.SpanStatusMessage, "")
	str(otelrows.SpanEvents, "[]")
	str(otelrows.SpanLinks, "[]")
	d := otelrows.SpanDuration(b.Dataset)
	c[d].Ints = append(c[d].Ints, int64(1000+i%5000)*1000)
	b.N++
}

func addLog(b *store.Batch, at time.Time, traceID, spanID string, i int) {
	c := b.Cols
	for j, col := range b.Dataset.Columns() {
		switch col.Type {
		case dataset.String:
			c[j].Strings = append(c[j].Strings, "")
		case dataset.Int:
			c[j].Ints = append(c[j].Ints, 0)
		case dataset.Timestamp:
			c[j].Times = append(c[j].Times, at.UnixMicro())
		}
	}
	n := b.N
	c[otelrows.LogTraceID].Strings[n] = traceID
	c[otelrows.LogSpanID].Strings[n] = spanID
	c[otelrows.LogSeverityNumber].Ints[n] = 9
	c[otelrows.LogSeverityText].Strings[n] = "INFO"
	c[otelrows.LogServiceName].Strings[n] = "svc" + strconv.Itoa(i%7)
	c[otelrows.LogBody].Strings[n] = "handled request " + strconv.Itoa(i)
	c[otelrows.LogAttributes].Strings[n] = `{"user.id":"u` + strconv.Itoa(i%1000) + `"}`
	c[otelrows.LogResourceAttributes].Strings[n] = `{"service.name":"svc` + strconv.Itoa(i%7) + `"}`
	b.N++
}

// BenchmarkExportTraces measures the receive path (conversion, batching, commit to the real
// store) without the network: concurrent exports of 512-span requests, as SDK batch
// processors send them. It reports spans stored per second.
func BenchmarkExportTraces(b *testing.B) {
	st := openStore(b)
	c := startCollector(b, st, func(c *Config) { c.GRPCAddr, c.HTTPAddr = Off, Off })
	td := traces(512, 0)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		sp := spans.At(i)
		sp.Attributes().PutStr("http.route", "/api/v1/items/{id}")
		sp.Attributes().PutInt("http.status_code", 200)
		sp.Attributes().PutStr("user.id", "u"+strconv.Itoa(i))
	}
	ctx := context.Background()
	start := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.exportTraces(ctx, td); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*512)/time.Since(start).Seconds(), "spans/s")
}
