package chsink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// otelData is resources × perResource spans (with attributes, an event and a link each),
// as many log records, and a data point of every metric type per resource.
func otelData(resources, perResource int) (ptrace.Traces, plog.Logs, pmetric.Metrics) {
	t0 := time.Unix(1_765_000_000, 0)
	ts := func(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }
	td, ld, md := ptrace.NewTraces(), plog.NewLogs(), pmetric.NewMetrics()
	for r := 0; r < resources; r++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		logs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := 0; i < perResource; i++ {
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			tid[0], tid[1], tid[15], sid[0], sid[1], sid[7] = byte(r), byte(i), 1, byte(r), byte(i), 1
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(sid)
			sp.SetName("op")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(ts(time.Duration(i) * time.Millisecond))
			sp.SetEndTimestamp(ts(time.Duration(i+3) * time.Millisecond))
			sp.Attributes().PutInt("i", int64(i))
			sp.Attributes().PutDouble("ratio", 0.25)
			ev := sp.Events().AppendEmpty()
			ev.SetName("ev")
			ev.SetTimestamp(ts(time.Duration(i) * time.Millisecond))
			ev.Attributes().PutStr("k", "v")
			ln := sp.Links().AppendEmpty()
			ln.SetTraceID(tid)
			ln.SetSpanID(sid)
			lr := logs.AppendEmpty()
			lr.SetTimestamp(ts(time.Duration(i) * time.Millisecond))
			lr.SetTraceID(tid)
			lr.SetSpanID(sid)
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(fmt.Sprintf("log %d", i))
			lr.Attributes().PutBool("ok", true)
		}
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		g := ms.AppendEmpty()
		g.SetName("g")
		gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
		gp.SetTimestamp(ts(0))
		gp.SetDoubleValue(1.5)
		s := ms.AppendEmpty()
		s.SetName("s")
		s.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sp := s.Sum().DataPoints().AppendEmpty()
		sp.SetTimestamp(ts(0))
		sp.SetIntValue(3)
		h := ms.AppendEmpty()
		h.SetName("h")
		h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		hp := h.Histogram().DataPoints().AppendEmpty()
		hp.SetTimestamp(ts(0))
		hp.SetCount(2)
		hp.SetSum(3)
		hp.BucketCounts().FromRaw([]uint64{1, 1})
		hp.ExplicitBounds().FromRaw([]float64{1})
		e := ms.AppendEmpty()
		e.SetName("e")
		e.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		ep := e.ExponentialHistogram().DataPoints().AppendEmpty()
		ep.SetTimestamp(ts(0))
		ep.SetCount(1)
		ep.Positive().BucketCounts().FromRaw([]uint64{1})
		q := ms.AppendEmpty()
		q.SetName("q")
		qp := q.SetEmptySummary().DataPoints().AppendEmpty()
		qp.SetTimestamp(ts(0))
		qp.SetCount(1)
		qv := qp.QuantileValues().AppendEmpty()
		qv.SetQuantile(0.5)
		qv.SetValue(1)
	}
	return td, ld, md
}

// TestOTelTables writes spans, logs and metrics through olapgate's ClickHouse store
// (store/clickhouse OTelTables: the exporter's DDL, ch-go columnar inserts over its pool)
// into the sink: every table's rows arrive, exactly, split into INSERTs of InsertRows.
func TestOTelTables(t *testing.T) {
	const resources, perResource = 3, 40 // 120 spans and log records, 3 points per metric type
	var mu sync.Mutex
	traceIDs := map[string]bool{}
	sink, addr := start(t, Config{OnBlock: func(b Block) error {
		if b.Table != "default.otel_traces" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		col := b.Columns[1]
		if col.Name != "TraceId" {
			return fmt.Errorf("second column %s", col.Name)
		}
		for i := 0; i < b.Rows; i++ {
			traceIDs[col.Data.(proto.ColumnOf[string]).Row(i)] = true
		}
		return nil
	}}, false)

	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := clickhouse.Open(c, clickhouse.Config{Addr: addr, InsertRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	tables, err := st.OTelTables(clickhouse.OTelSchema{TTL: 72 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range otelrows.Datasets() {
		if err := tables.EnsureDataset(c, d); err != nil {
			t.Fatal(err)
		}
	}

	td, ld, md := otelData(resources, perResource)
	spans := store.NewBatch(otelrows.TracesDataset(), 0)
	logs := store.NewBatch(otelrows.LogsDataset(), 0)
	metrics := store.NewBatch(otelrows.MetricsDataset(), 0)
	for _, r := range []otelrows.Result{
		otelrows.AppendTraces(spans, td, otelrows.Options{}),
		otelrows.AppendLogs(logs, ld, otelrows.Options{}),
		otelrows.AppendMetrics(metrics, md, otelrows.Options{}),
	} {
		if r.Rejected > 0 {
			t.Fatalf("rejected: %s", r.Reason)
		}
	}
	for _, b := range []*store.Batch{spans, otelrows.TraceIDTimes(otelrows.TraceIDTsDataset(), spans), logs, metrics} {
		if _, err := tables.Write(c, b); err != nil {
			t.Fatalf("write %s: %v", b.Dataset.Name, err)
		}
	}

	want := map[string]int64{
		"default.otel_traces": resources * perResource, "default.otel_logs": resources * perResource,
		"default.otel_metrics_gauge": resources, "default.otel_metrics_sum": resources,
		"default.otel_metrics_histogram": resources, "default.otel_metrics_exponential_histogram": resources,
		"default.otel_metrics_summary":    resources,
		"default.otel_traces_trace_id_ts": 0, // filled by the materialized view, which the sink does not run
	}
	got := map[string]int64{}
	for _, s := range sink.Stats() {
		got[s.Table] = s.Rows
	}
	for table, n := range want {
		if got[table] != n {
			t.Errorf("%s: %d rows, want %d", table, got[table], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	for _, s := range sink.Stats() {
		if s.Table == "default.otel_traces" && (s.Blocks != 3 || s.Inserts != 3) {
			t.Errorf("otel_traces: %d blocks in %d inserts, want 3 of 50, 50 and 20 rows", s.Blocks, s.Inserts)
		}
	}
	if len(traceIDs) != resources*perResource {
		t.Errorf("%d distinct trace ids, want %d", len(traceIDs), resources*perResource)
	}
}

// TestStoreCompression: the store's compression setting reaches the wire (the INSERT's
// compression flag, as the sink reads it), and the blocks arrive whole with each.
func TestStoreCompression(t *testing.T) {
	for _, tc := range []struct {
		setting    string
		compressed bool
	}{{"", true}, {clickhouse.CompressionLZ4, true}, {clickhouse.CompressionZSTD, true}, {clickhouse.CompressionNone, false}} {
		t.Run("compression="+tc.setting, func(t *testing.T) {
			var mu sync.Mutex
			var flags []bool
			sink, addr := start(t, Config{OnQuery: func(q Query) {
				if strings.HasPrefix(q.Body, "INSERT") {
					mu.Lock()
					flags = append(flags, q.Compressed)
					mu.Unlock()
				}
			}}, false)
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := clickhouse.Open(c, clickhouse.Config{Addr: addr, Compression: tc.setting})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			tables, err := st.OTelTables(clickhouse.OTelSchema{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tables.EnsureDataset(c, otelrows.TracesDataset()); err != nil {
				t.Fatal(err)
			}
			td, _, _ := otelData(2, 30)
			spans := store.NewBatch(otelrows.TracesDataset(), 0)
			otelrows.AppendTraces(spans, td, otelrows.Options{})
			if _, err := tables.Write(c, spans); err != nil {
				t.Fatal(err)
			}
			var rows int64
			for _, s := range sink.Stats() {
				if s.Table == "default.otel_traces" {
					rows = s.Rows
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if rows != 60 || len(flags) != 1 || flags[0] != tc.compressed {
				t.Errorf("%d rows, INSERT compression flags %v; want 60 rows, one INSERT compressed=%v", rows, flags, tc.compressed)
			}
		})
	}
}

// TestClickHouseExporterSchema: the statements of the OpenTelemetry Collector's ClickHouse
// exporter (testdata/clickhouseexporter: its DDL for traces, logs and metrics, DESCRIBE of the
// logs table, its INSERTs as clickhouse-go sends them) are all answered: the tables are
// created, DESCRIBE lists the logs table's EventName (so the exporter inserts it), and each
// INSERT gets a header of the columns it names.
func TestClickHouseExporterSchema(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "clickhouseexporter", "v0.141.0.sql"))
	if err != nil {
		t.Fatal(err)
	}
	s, addr := start(t, Config{}, false)
	c := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
	inserts := 0
	for _, stmt := range strings.Split(string(text), "\n;;\n") {
		if !strings.HasPrefix(stmt, "INSERT") {
			if err := c.Do(ctx(t), ch.Query{Body: stmt}); err != nil {
				t.Fatalf("%.60s: %v", stmt, err)
			}
			continue
		}
		inserts++
		named := strings.Count(stmt[strings.Index(stmt, "("):], ",") + 1
		header := rawInsertHeader(t, addr, stmt)
		if got := len(strings.Split(header, "; ")); got != named {
			t.Errorf("%.50s: header of %d columns for %d named: %s", stmt, got, named, header)
		}
	}
	if inserts != 7 {
		t.Errorf("%d INSERTs in the testdata, want 7", inserts)
	}
	var name proto.ColStr
	var names []string
	result := proto.Results{{Name: "name", Data: &name}}
	for _, col := range describeColumns[1:] {
		result = append(result, proto.ResultColumn{Name: col, Data: new(proto.ColStr)})
	}
	err = c.Do(ctx(t), ch.Query{Body: `DESC TABLE "default"."otel_logs"`, Result: result, OnResult: func(context.Context, proto.Block) error {
		for i := 0; i < name.Rows(); i++ {
			names = append(names, name.Row(i))
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 17 || names[0] != "Timestamp" || names[16] != "EventName" {
		t.Errorf("DESC otel_logs: %q", names)
	}
	var tables []string
	for _, st := range s.Stats() {
		tables = append(tables, st.Table)
	}
	want := "default.otel_logs default.otel_metrics_exponential_histogram default.otel_metrics_gauge default.otel_metrics_histogram " +
		"default.otel_metrics_sum default.otel_metrics_summary default.otel_traces default.otel_traces_trace_id_ts"
	if strings.Join(tables, " ") != want {
		t.Errorf("tables %q", tables)
	}
}
