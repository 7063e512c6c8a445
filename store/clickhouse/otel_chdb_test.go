package clickhouse

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/chdbtest"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

var (
	otelTraceA = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	otelTraceB = pcommon.TraceID{0xb, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	otelRoot   = pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1}
	otelChild  = pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2}
	otelCron   = pcommon.SpanID{3, 3, 3, 3, 3, 3, 3, 3}
	otelT0     = time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
)

func pts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// otelSample is a trace over two services (a root, a failing child with an event and a link),
// a one-span trace, three log records (two on the first trace's spans) and a data point of
// each metric type.
func otelSample() (ptrace.Traces, plog.Logs, pmetric.Metrics) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "frontend")
	rs.Resource().Attributes().PutStr("host.name", "web-1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("net/http")
	ss.Scope().SetVersion("1.0")
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(otelTraceA)
	root.SetSpanID(otelRoot)
	root.SetName("GET /checkout")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(pts(otelT0))
	root.SetEndTimestamp(pts(otelT0.Add(50 * time.Millisecond)))
	root.Status().SetCode(ptrace.StatusCodeOk)
	a := root.Attributes()
	a.PutStr("http.route", "/checkout")
	a.PutInt("http.status_code", 200)
	a.PutDouble("ratio", 0.5)
	a.PutDouble("tiny", 1e-7)
	a.PutBool("cached", false)
	a.PutEmptySlice("tags").FromRaw([]any{"a", int64(2)})

	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("service.name", "payments")
	ss2 := rs2.ScopeSpans().AppendEmpty()
	child := ss2.Spans().AppendEmpty()
	child.SetTraceID(otelTraceA)
	child.SetSpanID(otelChild)
	child.SetParentSpanID(otelRoot)
	child.SetName("charge")
	child.SetKind(ptrace.SpanKindClient)
	child.TraceState().FromRaw("vendor=1")
	child.SetStartTimestamp(pts(otelT0.Add(10 * time.Millisecond)))
	child.SetEndTimestamp(pts(otelT0.Add(30 * time.Millisecond)))
	child.Status().SetCode(ptrace.StatusCodeError)
	child.Status().SetMessage("card declined")
	child.Attributes().PutStr("payment.provider", "acme")
	ev := child.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pts(otelT0.Add(15*time.Millisecond + 789)))
	ev.Attributes().PutStr("exception.type", "CardError")
	ln := child.Links().AppendEmpty()
	ln.SetTraceID(otelTraceB)
	ln.SetSpanID(otelCron)
	ln.Attributes().PutInt("n", 1)
	cron := ss2.Spans().AppendEmpty()
	cron.SetTraceID(otelTraceB)
	cron.SetSpanID(otelCron)
	cron.SetName("cron")
	cron.SetKind(ptrace.SpanKindInternal)
	cron.SetStartTimestamp(pts(otelT0.Add(2 * time.Second)))
	cron.SetEndTimestamp(pts(otelT0.Add(3 * time.Second)))

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payments")
	rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("slog")
	sl.Scope().Attributes().PutStr("scope.k", "v")
	l1 := sl.LogRecords().AppendEmpty()
	l1.SetTimestamp(pts(otelT0.Add(20 * time.Millisecond)))
	l1.SetTraceID(otelTraceA)
	l1.SetSpanID(otelChild)
	l1.SetSeverityNumber(plog.SeverityNumberError)
	l1.SetSeverityText("ERROR")
	l1.Body().SetStr("Payment failed for order 42")
	l1.Attributes().PutStr("order.id", "42")
	l1.SetEventName("payment.failed")
	l1.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	l2 := sl.LogRecords().AppendEmpty()
	l2.SetTimestamp(pts(otelT0.Add(time.Millisecond)))
	l2.SetTraceID(otelTraceA)
	l2.SetSpanID(otelRoot)
	l2.SetSeverityNumber(plog.SeverityNumberInfo)
	l2.Body().SetStr("checkout started")
	l3 := sl.LogRecords().AppendEmpty()
	l3.SetObservedTimestamp(pts(otelT0.Add(5 * time.Millisecond)))
	l3.SetSeverityNumber(plog.SeverityNumberWarn)
	l3.Body().SetStr("cache miss")

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "payments")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("meter")
	g := sm.Metrics().AppendEmpty()
	g.SetName("queue.depth")
	gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gp.SetTimestamp(pts(otelT0))
	gp.SetIntValue(7)
	gp.Attributes().PutStr("queue", "q1")
	ex := gp.Exemplars().AppendEmpty()
	ex.SetTimestamp(pts(otelT0))
	ex.SetDoubleValue(7.5)
	ex.SetTraceID(otelTraceA)
	ex.SetSpanID(otelRoot)
	s := sm.Metrics().AppendEmpty()
	s.SetName("requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sp := sum.DataPoints().AppendEmpty()
	sp.SetStartTimestamp(pts(otelT0.Add(-time.Minute)))
	sp.SetTimestamp(pts(otelT0))
	sp.SetDoubleValue(100)
	h := sm.Metrics().AppendEmpty()
	h.SetName("latency")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp := hist.DataPoints().AppendEmpty()
	hp.SetTimestamp(pts(otelT0))
	hp.SetCount(3)
	hp.SetSum(60)
	hp.SetMin(5)
	hp.SetMax(40)
	hp.ExplicitBounds().FromRaw([]float64{10, 50})
	hp.BucketCounts().FromRaw([]uint64{1, 1, 1})
	e := sm.Metrics().AppendEmpty()
	e.SetName("latency.exp")
	ep := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetTimestamp(pts(otelT0))
	ep.SetScale(2)
	ep.SetZeroCount(1)
	ep.SetCount(4)
	ep.SetSum(10)
	ep.Positive().SetOffset(1)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	q := sm.Metrics().AppendEmpty()
	q.SetName("rpc")
	qp := q.SetEmptySummary().DataPoints().AppendEmpty()
	qp.SetTimestamp(pts(otelT0))
	qp.SetCount(2)
	qp.SetSum(3)
	qv := qp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.5)
	qv.SetValue(1)
	qv = qp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.99)
	qv.SetValue(2)
	return td, ld, md
}

// otelBatches converts the sample as the collector does (metrics kept as sent).
func otelBatches(t *testing.T) (spans, logs, metrics *store.Batch) {
	t.Helper()
	td, ld, md := otelSample()
	spans = store.NewBatch(otelrows.TracesDataset(), 4)
	logs = store.NewBatch(otelrows.LogsDataset(), 4)
	metrics = store.NewBatch(otelrows.MetricsDataset(), 8)
	for _, r := range []otelrows.Result{
		otelrows.AppendTraces(spans, td, otelrows.Options{}),
		otelrows.AppendLogs(logs, ld, otelrows.Options{}),
		otelrows.AppendMetrics(metrics, md, otelrows.Options{}),
	} {
		if r.Rejected > 0 {
			t.Fatalf("sample rejected: %s", r.Reason)
		}
	}
	return spans, logs, metrics
}

func otelSampleBlocks(t *testing.T, s OTelSchema) []OTelBlock {
	t.Helper()
	spans, logs, metrics := otelBatches(t)
	var out []OTelBlock
	for _, b := range []*store.Batch{spans, otelrows.TraceIDTimes(otelrows.TraceIDTsDataset(), spans), logs, metrics} {
		blocks, err := s.OTelBlocks(b)
		if err != nil {
			t.Fatalf("%s: %v", b.Dataset.Name, err)
		}
		out = append(out, blocks...)
	}
	return out
}

// TestOTelBlocksEncode lays out the sample as insert blocks and checks them in-process: the
// tables and row counts, every column as long as the block, and the native encoding decoding
// back (into columns built the same way) to the same bytes.
func TestOTelBlocksEncode(t *testing.T) {
	s := OTelSchema{}.withDefaults("default")
	blocks := otelSampleBlocks(t, s)
	got := map[string]int{}
	for _, b := range blocks {
		got[b.Table] = b.Rows()
		for _, c := range b.Input {
			if c.Data.Rows() != b.Rows() {
				t.Errorf("%s.%s: %d rows, the block %d", b.Table, c.Name, c.Data.Rows(), b.Rows())
			}
		}
	}
	want := map[string]int{"otel_traces": 3, "otel_logs": 3, "otel_metrics_gauge": 1, "otel_metrics_sum": 1,
		"otel_metrics_histogram": 1, "otel_metrics_exponential_histogram": 1, "otel_metrics_summary": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("blocks: %v, want %v (the trace id lookup table is the view's)", got, want)
	}
	again := otelSampleBlocks(t, s)
	for bi, b := range blocks {
		for ci, c := range b.Input {
			var buf proto.Buffer
			// As ch-go's block encoder does: LowCardinality columns build their dictionary.
			if p, ok := c.Data.(proto.Preparable); ok {
				if err := p.Prepare(); err != nil {
					t.Fatal(err)
				}
			}
			if se, ok := c.Data.(proto.StateEncoder); ok {
				se.EncodeState(&buf)
			}
			c.Data.EncodeColumn(&buf)
			into := again[bi].Input[ci].Data.(proto.Column)
			into.Reset()
			r := proto.NewReader(bytes.NewReader(buf.Buf))
			if sd, ok := into.(proto.StateDecoder); ok {
				if err := sd.DecodeState(r); err != nil {
					t.Fatalf("%s.%s: decode state: %v", b.Table, c.Name, err)
				}
			}
			if err := into.DecodeColumn(r, b.Rows()); err != nil {
				t.Fatalf("%s.%s (%s): decode: %v", b.Table, c.Name, c.Data.Type(), err)
			}
			var re proto.Buffer
			if p, ok := into.(proto.Preparable); ok {
				if err := p.Prepare(); err != nil {
					t.Fatal(err)
				}
			}
			if se, ok := into.(proto.StateEncoder); ok {
				se.EncodeState(&re)
			}
			into.EncodeColumn(&re)
			if !bytes.Equal(re.Buf, buf.Buf) {
				t.Errorf("%s.%s: re-encoded block differs", b.Table, c.Name)
			}
		}
	}
	spans, logs, _ := otelBatches(t)
	spans2, _, _ := otelBatches(t)
	if batchToken(spans) != batchToken(spans2) || batchToken(spans) == batchToken(logs) {
		t.Error("insert tokens: the same batch must give the same token (retries deduplicate), different batches different ones")
	}
	part := sliceBatch(spans, 1, 3)
	if pb, err := s.OTelBlocks(part); err != nil || pb[0].Rows() != 2 || part.Cols[otelrows.SpanName].Strings[0] != "charge" || batchToken(part) == batchToken(spans) {
		t.Errorf("rows 1-2 of the spans: %v %v", pb, err)
	}
	spans2.Cols[otelrows.SpanName].Strings[0] += "x"
	if batchToken(spans) == batchToken(spans2) {
		t.Error("insert token ignores a span name")
	}
}

func TestParseAttrs(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "x \"q\"")
	m.PutInt("i", -3)
	m.PutDouble("d", 2.5)
	m.PutDouble("whole", 3)
	m.PutDouble("big", 1e21)
	m.PutDouble("small", 1e-7)
	m.PutDouble("mid", 1e20)
	m.PutBool("b", true)
	m.PutEmptyBytes("raw").FromRaw([]byte{1, 2})
	m.PutEmpty("nil")
	m.PutEmptyMap("m").PutStr("k", "v")
	m.PutEmptySlice("l").FromRaw([]any{"a", int64(1)})
	b := store.NewBatch(otelrows.LogsDataset(), 1)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	m.CopyTo(lr.Attributes())
	otelrows.AppendLogs(b, ld, otelrows.Options{})
	got, err := parseAttrs(nil, b.Cols[otelrows.LogAttributes].Strings[0])
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	m.Range(func(k string, v pcommon.Value) bool {
		want := v.AsString()
		if i >= len(got) || got[i].Key != k || got[i].Value != want {
			t.Errorf("pair %d: got %v, want %s=%q (pdata AsString, the exporter's value)", i, got[min(i, len(got)-1)], k, want)
		}
		i++
		return true
	})
	if _, err := parseAttrs(nil, "[1]"); err == nil {
		t.Error("parseAttrs of an array: no error")
	}
}

// chdbTelemetryStore runs the telemetry service's statements on a chdb session.
type chdbTelemetryStore struct {
	sess *chdbtest.Session
	db   string
}

func (c *chdbTelemetryStore) TelemetryTables() (string, string, string) {
	s := OTelSchema{Database: c.db}.withDefaults("default")
	return s.table(s.TracesTable), s.table(s.traceIDTsTable()), s.table(s.LogsTable)
}

func (c *chdbTelemetryStore) Query(_ context.Context, st store.Statement) (*store.Result, error) {
	res, err := c.sess.Run(st.SQL)
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, fmt.Errorf("%s: %w", st.SQL, res[0].Err)
	}
	// The result types must be ones ch-go infers and Store.Query reads, as on a server.
	for _, col := range res[0].Columns {
		auto := new(proto.ColAuto)
		if err := auto.Infer(proto.ColumnType(col.Type)); err != nil {
			return nil, fmt.Errorf("%s: column %s: ch-go cannot read %s: %w", st.SQL, col.Name, col.Type, err)
		}
		if !readable(auto.Data) {
			return nil, fmt.Errorf("%s: column %s: Store.Query does not read %s", st.SQL, col.Name, col.Type)
		}
	}
	rows, err := res[0].Values()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.SQL, err)
	}
	out := &store.Result{Columns: st.Output}
	for _, row := range rows {
		for j := range row {
			if row[j], err = ConvertValue(row[j], st.Output[j].Type); err != nil {
				return nil, fmt.Errorf("%s: column %s: %w", st.SQL, st.Output[j].Name, err)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// readable reports whether columnValue reads the column's type: on an empty column it either
// says the type is not one it reads, or reaches the row (and panics on the missing row).
func readable(c proto.ColResult) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = true
		}
	}()
	_, err := columnValue(c, 0)
	return err == nil
}

func (c *chdbTelemetryStore) EnsureDataset(context.Context, *dataset.Dataset) error { return nil }
func (c *chdbTelemetryStore) Write(context.Context, *store.Batch) (store.WriteResult, error) {
	return store.WriteResult{}, store.ErrNotWritable
}
func (c *chdbTelemetryStore) Dialect() string { return "clickhouse" }
func (c *chdbTelemetryStore) Close() error    { return nil }

// orderedJSON is a JSON object with its keys in order.
type orderedJSON []proto.KV[string, string]

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		v, _ := json.Marshal(kv.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func chdbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000000") }

// jsonCell is row i of an insert column as JSONEachRow writes it, from the column's own values.
func jsonCell(t *testing.T, col proto.ColInput, i int) any {
	switch c := col.(type) {
	case *proto.ColDateTime64:
		return chdbTime(time.Unix(0, int64(c.Data[i])))
	case *proto.ColStr:
		return c.Row(i)
	case *proto.ColLowCardinality[string]:
		return c.Row(i)
	case *proto.ColMap[string, string]:
		return orderedJSON(c.RowKV(i))
	case *proto.ColUInt64:
		return c.Row(i)
	case *proto.ColUInt32:
		return c.Row(i)
	case *proto.ColUInt8:
		return c.Row(i)
	case *proto.ColInt32:
		return c.Row(i)
	case *proto.ColFloat64:
		return c.Row(i)
	case *proto.ColBool:
		return c.Row(i)
	case *proto.ColArr[time.Time]:
		out := []string{}
		for _, v := range c.Row(i) {
			out = append(out, chdbTime(v))
		}
		return out
	case *proto.ColArr[string]:
		return append([]string{}, c.Row(i)...)
	case *proto.ColArr[uint64]:
		return append([]uint64{}, c.Row(i)...)
	case *proto.ColArr[float64]:
		return append([]float64{}, c.Row(i)...)
	case *proto.ColArr[map[string]string]:
		m := c.Data.(*proto.ColMap[string, string])
		lo := 0
		if i > 0 {
			lo = int(c.Offsets[i-1])
		}
		out := []orderedJSON{}
		for j := lo; j < int(c.Offsets[i]); j++ {
			out = append(out, orderedJSON(m.RowKV(j)))
		}
		return out
	}
	t.Fatalf("column type %s (%T) has no JSON cell", col.Type(), col)
	return nil
}

// insertJSONEachRow is the block as INSERT ... FORMAT JSONEachRow, the values read back from
// its ch-go columns.
func insertJSONEachRow(t *testing.T, table string, b OTelBlock) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + table + " SETTINGS session_timezone = 'UTC' FORMAT JSONEachRow\n")
	for i := 0; i < b.Rows(); i++ {
		row := map[string]any{}
		for _, c := range b.Input {
			row[c.Name] = jsonCell(t, c.Data, i)
		}
		line, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// nativeInsert is the block as ch-go encodes it for the wire (a raw Native block: column
// names, types, LowCardinality dictionaries, data), inserted through the format table function.
func nativeInsert(t *testing.T, table string, b OTelBlock) string {
	t.Helper()
	var buf proto.Buffer
	// 54451: a protocol revision before per-column custom serialization flags, whose blocks
	// are the Native file format.
	if err := (proto.Block{Columns: len(b.Input), Rows: b.Rows()}).EncodeRawBlock(&buf, 54451, b.Input); err != nil {
		t.Fatalf("encode %s: %v", table, err)
	}
	return "INSERT INTO " + table + " (" + columnList(b.Input) + ") SELECT * FROM format(Native, base64Decode('" +
		base64.StdEncoding.EncodeToString(buf.Buf) + "'))"
}

// TestOTelBlocksOnChdb writes the sample into tables created by the exporter's own DDL: the
// blocks' column names and types are the tables' insertable columns, in order; the blocks as
// ch-go encodes them (Native) are accepted and store the same rows as JSONEachRow made from
// the columns' values; the exporter's view fills the trace-id lookup table; and the
// telemetry service's ClickHouse SQL reads the trace, searches and logs back.
func TestOTelBlocksOnChdb(t *testing.T) {
	sess, run := chdbSession(t)
	// No TTL: the sample's rows are older than any TTL would keep.
	run(exporterDDL(t, "ref", false)...)
	run(exporterDDL(t, "json", false)...)
	s := OTelSchema{Database: "ref"}.withDefaults("default")
	js := OTelSchema{Database: "json"}.withDefaults("default")
	tables := OTelTables{schema: s}
	jsonBlocks := otelSampleBlocks(t, s)
	for i, b := range otelSampleBlocks(t, s) {
		res := run("SELECT name, type FROM system.columns WHERE database = 'ref' AND table = " + chsql.String(b.Table) +
			" AND default_kind = '' ORDER BY position")
		var want, got []string
		for _, r := range res[0].Rows {
			want = append(want, fmt.Sprint(r[0], " ", r[1]))
		}
		for _, c := range b.Input {
			got = append(got, c.Name+" "+string(c.Data.Type()))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the block's columns\n  %s\nthe table's\n  %s", b.Table, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if sql := tables.InsertSQL(b); !strings.HasPrefix(sql, "INSERT INTO `ref`.`"+b.Table+"` (`") {
			t.Errorf("insert SQL %q", sql)
		}
		run(nativeInsert(t, s.table(b.Table), b))
		run(insertJSONEachRow(t, js.table(jsonBlocks[i].Table), jsonBlocks[i]))
	}
	for _, table := range append([]string{s.TracesTable, s.traceIDTsTable(), s.LogsTable}, s.metricTables()...) {
		var rows [2][]string
		for i, db := range []string{"ref", "json"} {
			for _, r := range run("SELECT * FROM " + chsql.Ident(db) + "." + chsql.Ident(table))[0].Rows {
				rows[i] = append(rows[i], fmt.Sprint(r))
			}
			sort.Strings(rows[i])
		}
		if len(rows[0]) == 0 || !reflect.DeepEqual(rows[0], rows[1]) {
			t.Errorf("%s: inserted as ch-go encodes it\n  %s\nfrom the values as JSONEachRow\n  %s", table, strings.Join(rows[0], "\n  "), strings.Join(rows[1], "\n  "))
		}
	}

	res := run(
		"SELECT TraceId, toString(Start), toString(End) FROM ref.otel_traces_trace_id_ts ORDER BY TraceId",
		"SELECT toString(Timestamp), Duration, SpanAttributes, `Events.Timestamp`, `Links.Attributes` FROM ref.otel_traces WHERE SpanName = 'charge'",
		"SELECT toString(TimestampTime), TraceFlags, SeverityNumber, ResourceSchemaUrl, ScopeAttributes FROM ref.otel_logs WHERE EventName = 'payment.failed'",
		"SELECT Value, `Exemplars.TraceId`, `Exemplars.Value` FROM ref.otel_metrics_gauge",
		"SELECT Value, AggregationTemporality, IsMonotonic, toString(StartTimeUnix) FROM ref.otel_metrics_sum",
		"SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max FROM ref.otel_metrics_histogram",
		"SELECT Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, NegativeBucketCounts FROM ref.otel_metrics_exponential_histogram",
		"SELECT Count, `ValueAtQuantiles.Quantile`, `ValueAtQuantiles.Value` FROM ref.otel_metrics_summary",
	)
	for i, want := range []string{
		"[[0102030405060708090a0b0c0d0e0f10 2026-11-22 10:00:00 2026-11-22 10:00:00] [0b02030405060708090a0b0c0d0e0f10 2026-11-22 10:00:02 2026-11-22 10:00:02]]",
		"[[2026-11-22 10:00:00.133456000 20000000 map[payment.provider:acme] [2026-11-22 10:00:00.138456789] [map[n:1]]]]",
		"[[2026-11-22 10:00:00 1 17 https://opentelemetry.io/schemas/1.26.0 map[scope.k:v]]]",
		"[[7 [0102030405060708090a0b0c0d0e0f10] [7.5]]]",
		"[[100 2 true 2026-11-22 09:59:00.123456000]]",
		"[[3 60 [1 1 1] [10 50] 5 40]]",
		"[[2 1 1 [1 2] []]]",
		"[[2 [0.5 0.99] [1 2]]]",
	} {
		if got := fmt.Sprint(res[i].Rows); got != want {
			t.Errorf("read back %d:\n got %s\nwant %s", i, got, want)
		}
	}

	svc := telemetry.New(&chdbTelemetryStore{sess: sess, db: "ref"}, telemetry.Config{})
	ctx := context.Background()
	tr, err := svc.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: otelTraceA.String()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.SpanCount != 2 || tr.ErrorCount != 1 || tr.LogCount != 2 || tr.DurationNanos != int64(50*time.Millisecond) || len(tr.Logs) != 0 {
		t.Errorf("trace: %d spans, %d errors, %d logs (%d unattached), %d ns", tr.SpanCount, tr.ErrorCount, tr.LogCount, len(tr.Logs), tr.DurationNanos)
	}
	if len(tr.Spans) == 2 {
		r, c := tr.Spans[0], tr.Spans[1]
		if r.Name != "GET /checkout" || r.Kind != "Server" || r.StatusCode != "Ok" || r.ServiceName != "frontend" || c.Depth != 1 ||
			r.Attributes.AsMap()["http.status_code"] != "200" || r.Attributes.AsMap()["tiny"] != "1e-7" || r.Attributes.AsMap()["tags"] != `["a",2]` ||
			r.ResourceAttributes.AsMap()["host.name"] != "web-1" || !r.StartTime.AsTime().Equal(otelT0) || r.DurationNanos != int64(50*time.Millisecond) {
			t.Errorf("root span %v", r)
		}
		if c.Name != "charge" || c.Kind != "Client" || c.StatusMessage != "card declined" || c.TraceState != "vendor=1" || len(c.Events) != 1 || len(c.Links) != 1 ||
			!c.Events[0].Time.AsTime().Equal(otelT0.Add(15*time.Millisecond+789)) || c.Events[0].Attributes.AsMap()["exception.type"] != "CardError" ||
			c.Links[0].TraceId != otelTraceB.String() || c.Links[0].SpanId != otelCron.String() || len(c.Logs) != 1 || c.Logs[0].Body != "Payment failed for order 42" ||
			c.Logs[0].EventName != "payment.failed" || c.Logs[0].SeverityNumber != 17 {
			t.Errorf("child span %v", c)
		}
		if len(r.Logs) != 1 || r.Logs[0].Body != "checkout started" {
			t.Errorf("root span logs %v", r.Logs)
		}
	} else {
		t.Errorf("spans %v", tr.Spans)
	}

	window := &olapgatev1.TimeRange{Start: otelT0.Add(-time.Minute).Format(time.RFC3339Nano), End: otelT0.Add(time.Minute).Format(time.RFC3339Nano)}
	for _, c := range []struct {
		req  *olapgatev1.SearchTracesRequest
		want string
	}{
		{&olapgatev1.SearchTracesRequest{TimeRange: window}, "0b02030405060708090a0b0c0d0e0f10 payments cron 1 0 0; 0102030405060708090a0b0c0d0e0f10 frontend GET /checkout 2 1 2"},
		{&olapgatev1.SearchTracesRequest{TimeRange: window, ErrorsOnly: true}, "0102030405060708090a0b0c0d0e0f10 frontend GET /checkout 2 1 2"},
		{&olapgatev1.SearchTracesRequest{TimeRange: window, ServiceName: "payments", MinDurationNanos: int64(time.Second)}, "0b02030405060708090a0b0c0d0e0f10 payments cron 1 0 0"},
		{&olapgatev1.SearchTracesRequest{TimeRange: window, Attributes: []*olapgatev1.AttributeFilter{{Key: "host.name", Value: "web-1"}}}, "0102030405060708090a0b0c0d0e0f10 frontend GET /checkout 2 1 2"},
		{&olapgatev1.SearchTracesRequest{TimeRange: window, Attributes: []*olapgatev1.AttributeFilter{{Key: "http.status_code", Value: "200"}}}, "0102030405060708090a0b0c0d0e0f10 frontend GET /checkout 2 1 2"},
		{&olapgatev1.SearchTracesRequest{TimeRange: window, Attributes: []*olapgatev1.AttributeFilter{{Key: "missing", Value: ""}}}, ""},
	} {
		res, err := svc.SearchTraces(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range res.Traces {
			got = append(got, fmt.Sprintf("%s %s %s %d %d %d", s.TraceId, s.RootServiceName, s.RootSpanName, s.SpanCount, s.ErrorCount, s.LogCount))
		}
		want := c.want
		if strings.Join(got, "; ") != want {
			t.Errorf("search %v:\n got %s\nwant %s", c.req, strings.Join(got, "; "), want)
		}
	}
	if res, err := svc.SearchTraces(ctx, &olapgatev1.SearchTracesRequest{TimeRange: window, ServiceName: "frontend"}); err != nil || len(res.Traces) != 1 ||
		res.Traces[0].DurationNanos != int64(50*time.Millisecond) || strings.Join(res.Traces[0].Services, ",") != "frontend,payments" {
		t.Errorf("trace summary: %v %v", res, err)
	}

	for _, c := range []struct {
		req  *olapgatev1.SearchLogsRequest
		want string
	}{
		{&olapgatev1.SearchLogsRequest{TimeRange: window}, "Payment failed for order 42|cache miss|checkout started"},
		{&olapgatev1.SearchLogsRequest{TimeRange: window, BodyContains: "PAYMENT"}, "Payment failed for order 42"},
		{&olapgatev1.SearchLogsRequest{TimeRange: window, MinSeverityNumber: 13}, "Payment failed for order 42|cache miss"},
		{&olapgatev1.SearchLogsRequest{TimeRange: window, Attributes: []*olapgatev1.AttributeFilter{{Key: "order.id", Value: "42"}}}, "Payment failed for order 42"},
		{&olapgatev1.SearchLogsRequest{TimeRange: window, TraceId: otelTraceA.String()}, "Payment failed for order 42|checkout started"},
		{&olapgatev1.SearchLogsRequest{SurroundingTraceId: otelTraceA.String(), WindowMs: 1000}, "Payment failed for order 42|cache miss|checkout started"},
		{&olapgatev1.SearchLogsRequest{TimeRange: window, ServiceName: "frontend"}, ""},
	} {
		res, err := svc.SearchLogs(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range res.Logs {
			got = append(got, l.Body)
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("logs %v:\n got %s\nwant %s", c.req, strings.Join(got, "|"), c.want)
		}
	}
	if res, err := svc.SearchLogs(ctx, &olapgatev1.SearchLogsRequest{TimeRange: window, BodyContains: "payment"}); err != nil || len(res.Logs) != 1 ||
		res.Logs[0].TraceId != otelTraceA.String() || res.Logs[0].SpanId != otelChild.String() || res.Logs[0].ScopeName != "slog" ||
		res.Logs[0].ResourceAttributes.AsMap()["service.name"] != "payments" || res.Logs[0].TraceFlags != 1 {
		t.Errorf("log record: %v %v", res, err)
	}
	if _, err := svc.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: strings.Repeat("ab", 16)}); err == nil {
		t.Error("GetTrace of an unknown trace: no error")
	}
}

func TestFormatDouble(t *testing.T) {
	for _, f := range []float64{0, 1, -2.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		v := pcommon.NewValueDouble(f)
		if got := formatDouble(f); got != v.AsString() {
			t.Errorf("formatDouble(%v) = %s, pdata AsString %s", f, got, v.AsString())
		}
		if _, err := strconv.ParseFloat(formatDouble(f), 64); err != nil {
			t.Error(err)
		}
	}
}
