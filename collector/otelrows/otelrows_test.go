package otelrows

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

var (
	tid1 = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid1 = pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1}
	sid2 = pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2}
	t0   = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
)

// checkLayout verifies that every column holds exactly N values (and N null flags when it has a
// mask), as the store requires.
func checkLayout(t *testing.T, b *store.Batch) {
	t.Helper()
	for i, c := range b.Dataset.Columns() {
		col := b.Cols[i]
		n := len(col.Strings) + len(col.Ints) + len(col.Floats) + len(col.Bools) + len(col.Times)
		if n != b.N {
			t.Errorf("column %s: %d values for %d rows", c.Name, n, b.N)
		}
		if col.Null != nil && len(col.Null) != b.N {
			t.Errorf("column %s: %d null flags for %d rows", c.Name, len(col.Null), b.N)
		}
	}
}

func TestDatasetsFollowExporterNames(t *testing.T) {
	want := map[string][]string{
		TracesTable: {"Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
			"ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "StatusCode", "StatusMessage", "Events", "Links", "Duration"},
		TraceIDTsTable: {"Start", "TraceId", "End"},
		LogsTable: {"Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber", "ServiceName", "Body",
			"ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes", "EventName"},
	}
	for _, d := range Datasets() {
		cols := d.Columns()
		if w, ok := want[d.Name]; ok {
			var got []string
			for _, c := range cols {
				got = append(got, c.Name)
			}
			if strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("%s columns:\n got %v\nwant %v", d.Name, got, w)
			}
		}
		if d.Backend != dataset.BackendEmbedded {
			t.Errorf("%s: backend %s", d.Name, d.Backend)
		}
	}
}

func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutInt("pid", 42)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib")
	ss.Scope().SetVersion("1.2")
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(tid1)
	root.SetSpanID(sid1)
	root.SetName("GET /cart")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(1500 * time.Microsecond)))
	root.Attributes().PutStr("http.route", "/cart")
	root.Attributes().PutInt("http.status_code", 500)
	root.Attributes().PutDouble("ratio", math.NaN())
	root.Attributes().PutEmptyBytes("raw").FromRaw([]byte{0xff, 0})
	sl := root.Attributes().PutEmptySlice("list")
	sl.AppendEmpty().SetStr("a\"b\\c\n\x01")
	sl.AppendEmpty().SetBool(true)
	root.Attributes().PutStr("bad utf8", "x\xffy")
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("boom")
	ev := root.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Microsecond)))
	ev.Attributes().PutStr("exception.type", "E")
	ln := root.Links().AppendEmpty()
	ln.SetTraceID(tid1)
	ln.SetSpanID(sid2)
	child := ss.Spans().AppendEmpty()
	child.SetTraceID(tid1)
	child.SetSpanID(sid2)
	child.SetParentSpanID(sid1)
	child.SetName("db")
	child.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Millisecond)))
	child.SetEndTimestamp(pcommon.NewTimestampFromTime(t0)) // ends before it starts: duration 0
	bad := ss.Spans().AppendEmpty()
	bad.SetSpanID(sid2) // no trace id
	return td
}

func TestAppendTraces(t *testing.T) {
	d := TracesDataset()
	b := store.NewBatch(d, 4)
	res := AppendTraces(b, sampleTraces(), Options{})
	checkLayout(t, b)
	if res.Rows != 2 || b.N != 2 || res.Rejected != 1 || !strings.Contains(res.Reason, "spans[2]: trace_id is all zeros") {
		t.Fatalf("result %+v, N %d", res, b.N)
	}
	if res.Bytes <= 0 {
		t.Errorf("bytes %d", res.Bytes)
	}
	c := b.Cols
	if got := c[SpanTraceID].Strings[0]; got != "0102030405060708090a0b0c0d0e0f10" {
		t.Errorf("TraceId %s", got)
	}
	if c[SpanParentSpanID].Strings[0] != "" || c[SpanParentSpanID].Strings[1] != "0101010101010101" {
		t.Errorf("ParentSpanId %q", c[SpanParentSpanID].Strings)
	}
	if c[SpanTimestamp].Times[0] != t0.UnixMicro() {
		t.Errorf("Timestamp %d, want %d", c[SpanTimestamp].Times[0], t0.UnixMicro())
	}
	if dur := c[SpanDuration(d)].Ints; dur[0] != 1500_000 || dur[1] != 0 {
		t.Errorf("Duration %v", dur)
	}
	if c[SpanKind].Strings[0] != "Server" || c[SpanStatusCode].Strings[0] != "Error" || c[SpanStatusCode].Strings[1] != "Unset" {
		t.Errorf("kind/status %s %v", c[SpanKind].Strings[0], c[SpanStatusCode].Strings)
	}
	if c[SpanServiceName].Strings[0] != "checkout" || c[SpanScopeName].Strings[0] != "lib" {
		t.Errorf("service/scope %s %s", c[SpanServiceName].Strings[0], c[SpanScopeName].Strings[0])
	}
	for _, col := range []int{SpanResourceAttributes, SpanAttributes, SpanEvents, SpanLinks} {
		for i := 0; i < b.N; i++ {
			if !json.Valid([]byte(c[col].Strings[i])) {
				t.Errorf("column %s row %d: invalid JSON %s", d.Columns()[col].Name, i, c[col].Strings[i])
			}
		}
	}
	var attrs map[string]any
	if err := json.Unmarshal([]byte(c[SpanAttributes].Strings[0]), &attrs); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"http.route": "/cart", "http.status_code": 500.0, "ratio": "NaN", "raw": "/wA=",
		"list": []any{"a\"b\\c\n\x01", true}, "bad utf8": "x\ufffdy",
	}
	for k, v := range want {
		if g, _ := json.Marshal(attrs[k]); string(g) != mustJSON(v) {
			t.Errorf("attribute %s = %s, want %s", k, g, mustJSON(v))
		}
	}
	var events []map[string]any
	if err := json.Unmarshal([]byte(c[SpanEvents].Strings[0]), &events); err != nil || len(events) != 1 {
		t.Fatalf("events %s: %v", c[SpanEvents].Strings[0], err)
	}
	if events[0]["Name"] != "exception" || events[0]["Timestamp"] != "2026-11-22T10:00:00.123457789Z" {
		t.Errorf("event %v", events[0])
	}
	if !strings.Contains(c[SpanLinks].Strings[0], `"SpanId":"0202020202020202"`) {
		t.Errorf("links %s", c[SpanLinks].Strings[0])
	}

	ids := TraceIDTimes(TraceIDTsDataset(), b)
	checkLayout(t, ids)
	if ids.N != 1 || ids.Cols[TraceIDTsStart].Times[0] != t0.UnixMicro() || ids.Cols[TraceIDTsEnd].Times[0] != t0.Add(time.Millisecond).UnixMicro() {
		t.Errorf("trace id lookup rows: N %d %v", ids.N, ids.Cols)
	}
}

func TestPromotedAttributes(t *testing.T) {
	keys := []string{"http.route", "pid", "absent"}
	if err := ValidatePromoted(keys); err != nil {
		t.Fatal(err)
	}
	d := TracesDataset(keys...)
	b := store.NewBatch(d, 2)
	res := AppendTraces(b, sampleTraces(), Options{Promoted: keys})
	checkLayout(t, b)
	if res.Rows != 2 {
		t.Fatalf("result %+v", res)
	}
	route, pid, absent := b.Cols[spanNumDims], b.Cols[spanNumDims+1], b.Cols[spanNumDims+2]
	if d.Columns()[spanNumDims].Name != "http_route" || route.Strings[0] != "/cart" || !route.IsNull(1) {
		t.Errorf("http_route %q null %v", route.Strings, route.Null)
	}
	if pid.Strings[0] != "42" || pid.Strings[1] != "42" || pid.IsNull(1) { // from the resource
		t.Errorf("pid %q", pid.Strings)
	}
	if !absent.IsNull(0) || !absent.IsNull(1) {
		t.Errorf("absent %v", absent.Null)
	}
	if dur := b.Cols[SpanDuration(d)].Ints; d.Columns()[SpanDuration(d)].Name != "Duration" || dur[0] != 1500_000 {
		t.Errorf("Duration %v", dur)
	}
	for _, bad := range [][]string{{"Body"}, {"a.b", "a_b"}, {""}, {"__x"}, {"SpanName"}} {
		if err := ValidatePromoted(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFieldLimitRejects(t *testing.T) {
	td := sampleTraces()
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutStr("huge", strings.Repeat("x", 2000))
	b := store.NewBatch(TracesDataset(), 4)
	res := AppendTraces(b, td, Options{MaxFieldBytes: 1000})
	checkLayout(t, b)
	if res.Rows != 1 || res.Rejected != 2 {
		t.Fatalf("result %+v", res)
	}
	if msg := res.Message("span"); !strings.HasPrefix(msg, "2 spans rejected; the first: ") {
		t.Errorf("message %q", msg)
	}
}

func TestAppendLogs(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	rl.SetSchemaUrl("https://schema/1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("slog")
	a := sl.LogRecords().AppendEmpty()
	a.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	a.SetTraceID(tid1)
	a.SetSpanID(sid1)
	a.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	a.SetSeverityNumber(plog.SeverityNumberError)
	a.SetSeverityText("ERROR")
	a.Body().SetStr("payment failed")
	a.Attributes().PutStr("user", "u1")
	bm := sl.LogRecords().AppendEmpty()
	bm.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
	bm.Body().SetEmptyMap().PutInt("k", 1)
	c := sl.LogRecords().AppendEmpty() // no times at all
	c.Body().SetStr("x")

	now := t0.Add(time.Hour)
	b := store.NewBatch(LogsDataset(), 3)
	res := AppendLogs(b, ld, Options{Now: now})
	checkLayout(t, b)
	if res.Rows != 3 || res.Rejected != 0 {
		t.Fatalf("result %+v", res)
	}
	col := b.Cols
	if col[LogTraceID].Strings[0] != tid1.String() || col[LogSpanID].Strings[0] != sid1.String() || col[LogTraceID].Strings[1] != "" {
		t.Errorf("ids %v %v", col[LogTraceID].Strings, col[LogSpanID].Strings)
	}
	if col[LogTraceFlags].Ints[0] != 1 || col[LogSeverityNumber].Ints[0] != 17 || col[LogServiceName].Strings[2] != "api" {
		t.Errorf("flags/severity/service %v %v %v", col[LogTraceFlags].Ints, col[LogSeverityNumber].Ints, col[LogServiceName].Strings)
	}
	if col[LogTimestamp].Times[1] != t0.Add(time.Second).UnixMicro() || col[LogTimestamp].Times[2] != now.UnixMicro() {
		t.Errorf("times %v", col[LogTimestamp].Times)
	}
	if col[LogBody].Strings[1] != `{"k":1}` {
		t.Errorf("map body %s", col[LogBody].Strings[1])
	}
	if col[LogResourceSchemaURL].Strings[0] != "https://schema/1" || col[LogScopeName].Strings[0] != "slog" {
		t.Errorf("schema/scope %v %v", col[LogResourceSchemaURL].Strings, col[LogScopeName].Strings)
	}
}

func TestAppendMetrics(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	sm := rm.ScopeMetrics().AppendEmpty()
	g := sm.Metrics().AppendEmpty()
	g.SetName("temp")
	gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	gp.SetIntValue(21)
	s := sm.Metrics().AppendEmpty()
	s.SetName("requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sp := sum.DataPoints().AppendEmpty()
	sp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Minute)))
	sp.SetDoubleValue(7.5)
	ex := sp.Exemplars().AppendEmpty()
	ex.SetTraceID(tid1)
	ex.SetDoubleValue(1)
	h := sm.Metrics().AppendEmpty()
	h.SetName("latency")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	hp.SetCount(3)
	hp.SetSum(0.6)
	hp.SetMin(0.1)
	hp.BucketCounts().FromRaw([]uint64{1, 2})
	hp.ExplicitBounds().FromRaw([]float64{0.25})
	e := sm.Metrics().AppendEmpty()
	e.SetName("exp")
	epnt := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	epnt.SetScale(2)
	epnt.Positive().BucketCounts().FromRaw([]uint64{4})
	sy := sm.Metrics().AppendEmpty()
	sy.SetName("summary")
	syp := sy.SetEmptySummary().DataPoints().AppendEmpty()
	q := syp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(3)

	b := store.NewBatch(MetricsDataset(), 5)
	res := AppendMetrics(b, md, Options{})
	checkLayout(t, b)
	if res.Rows != 5 || res.Rejected != 0 {
		t.Fatalf("result %+v", res)
	}
	c := b.Cols
	if got := strings.Join(c[MetricType].Strings, ","); got != "Gauge,Sum,Histogram,ExponentialHistogram,Summary" {
		t.Errorf("types %s", got)
	}
	if c[MetricValue].Floats[0] != 21 || c[MetricValue].Floats[1] != 7.5 || !c[MetricValue].IsNull(2) {
		t.Errorf("values %v null %v", c[MetricValue].Floats, c[MetricValue].Null)
	}
	if c[MetricIsMonotonic].IsNull(1) || !c[MetricIsMonotonic].Bools[1] || !c[MetricIsMonotonic].IsNull(0) {
		t.Errorf("monotonic %v null %v", c[MetricIsMonotonic].Bools, c[MetricIsMonotonic].Null)
	}
	if c[MetricBucketCounts].Strings[2] != "[1,2]" || c[MetricExplicitBounds].Strings[2] != "[0.25]" || c[MetricCount].Ints[2] != 3 {
		t.Errorf("histogram %q %q %v", c[MetricBucketCounts].Strings[2], c[MetricExplicitBounds].Strings[2], c[MetricCount].Ints)
	}
	if c[MetricMin].IsNull(2) || !c[MetricMax].IsNull(2) {
		t.Errorf("min/max nulls %v %v", c[MetricMin].Null, c[MetricMax].Null)
	}
	if c[MetricPositiveBucketCounts].Strings[3] != "[4]" || c[MetricScale].Ints[3] != 2 || !c[MetricScale].IsNull(2) {
		t.Errorf("exp histogram %v %v", c[MetricPositiveBucketCounts].Strings, c[MetricScale].Ints)
	}
	if c[MetricValueAtQuantiles].Strings[4] != `[{"Quantile":0.99,"Value":3}]` {
		t.Errorf("quantiles %s", c[MetricValueAtQuantiles].Strings[4])
	}
	if !strings.Contains(c[MetricExemplars].Strings[1], tid1.String()) || !c[MetricStartTimeUnix].IsNull(0) {
		t.Errorf("exemplars %s start nulls %v", c[MetricExemplars].Strings[1], c[MetricStartTimeUnix].Null)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "x\xffy", "héllo ☃", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if strings.ToValidUTF8(s, "\ufffd") != back && !strings.ContainsRune(s, '\ufffd') {
			// Each invalid byte becomes one U+FFFD, where ToValidUTF8 merges runs; compare loosely.
			if strings.ReplaceAll(back, "\ufffd", "") != strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\ufffd", "") {
				t.Fatalf("round trip %q -> %q", s, back)
			}
		}
	})
}

// cumulative builds one request: a monotonic cumulative sum and a cumulative histogram point
// of one series each, started at start, observed at at.
func cumulative(start, at time.Time, value float64, count uint64, buckets []uint64, sum float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	s := ms.AppendEmpty()
	s.SetName("requests")
	sm := s.SetEmptySum()
	sm.SetIsMonotonic(true)
	sm.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sm.DataPoints().AppendEmpty()
	dp.Attributes().PutStr("route", "/a")
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
	dp.SetDoubleValue(value)
	h := ms.AppendEmpty()
	h.SetName("latency")
	hm := h.SetEmptyHistogram()
	hm.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hp := hm.DataPoints().AppendEmpty()
	hp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	hp.SetTimestamp(pcommon.NewTimestampFromTime(at))
	hp.SetCount(count)
	hp.SetSum(sum)
	hp.SetMin(0.001)
	hp.BucketCounts().FromRaw(buckets)
	hp.ExplicitBounds().FromRaw([]float64{0.1})
	return md
}

func TestDeltas(t *testing.T) {
	d := NewDeltas()
	before := time.Now().Add(-time.Hour) // a process that started before olapgate
	after := time.Now().Add(time.Second) // one that started after
	type want struct {
		rows          int
		dropped       int64
		value         float64
		count         int64
		buckets       string
		sum           float64
		start         time.Time
		deltaTemporal bool
		minNull       bool
	}
	steps := []struct {
		name string
		md   pmetric.Metrics
		want want
	}{
		{"first point of an old process seeds only", cumulative(before, before.Add(time.Minute), 10, 5, []uint64{2, 3}, 1), want{dropped: 2}},
		{"increase", cumulative(before, before.Add(2*time.Minute), 16, 8, []uint64{3, 5}, 1.5),
			want{rows: 2, value: 6, count: 3, buckets: "[1,2]", sum: 0.5, start: before.Add(time.Minute), deltaTemporal: true, minNull: true}},
		{"retry of the same point", cumulative(before, before.Add(2*time.Minute), 16, 8, []uint64{3, 5}, 1.5), want{dropped: 2}},
		{"reset: value went down", cumulative(before, before.Add(3*time.Minute), 4, 2, []uint64{1, 1}, 0.2),
			want{rows: 2, value: 4, count: 2, buckets: "[1,1]", sum: 0.2, start: before, deltaTemporal: true, minNull: true}},
		{"reset: new start time", cumulative(before.Add(150*time.Second), before.Add(4*time.Minute), 7, 3, []uint64{1, 2}, 0.3),
			want{rows: 2, value: 7, count: 3, buckets: "[1,2]", sum: 0.3, start: before.Add(150 * time.Second), deltaTemporal: true, minNull: true}},
	}
	for _, st := range steps {
		b := store.NewBatch(MetricsDataset(), 2)
		res := AppendMetrics(b, st.md, Options{Deltas: d})
		checkLayout(t, b)
		if res.Rows != st.want.rows || res.Dropped != st.want.dropped || res.Rejected != 0 {
			t.Errorf("%s: result %+v, want %d rows %d dropped", st.name, res, st.want.rows, st.want.dropped)
			continue
		}
		if res.Rows == 0 {
			continue
		}
		c := b.Cols
		if c[MetricValue].Floats[0] != st.want.value || c[MetricCount].Ints[1] != st.want.count || c[MetricBucketCounts].Strings[1] != st.want.buckets ||
			math.Abs(c[MetricSum].Floats[1]-st.want.sum) > 1e-9 {
			t.Errorf("%s: value %v count %v buckets %v sum %v", st.name, c[MetricValue].Floats, c[MetricCount].Ints, c[MetricBucketCounts].Strings, c[MetricSum].Floats)
		}
		for i := 0; i < 2; i++ {
			if c[MetricStartTimeUnix].Times[i] != st.want.start.UnixMicro() || c[MetricAggregationTemporality].Ints[i] != 1 {
				t.Errorf("%s row %d: start %d want %d, temporality %d", st.name, i, c[MetricStartTimeUnix].Times[i], st.want.start.UnixMicro(), c[MetricAggregationTemporality].Ints[i])
			}
		}
		if c[MetricMin].IsNull(1) != st.want.minNull {
			t.Errorf("%s: min null %v", st.name, c[MetricMin].IsNull(1))
		}
	}

	// A process that started after the Deltas: its first point is all new.
	b := store.NewBatch(MetricsDataset(), 2)
	res := AppendMetrics(b, cumulative(after, after.Add(time.Minute), 10, 5, []uint64{2, 3}, 1), Options{Deltas: d})
	if res.Rows != 2 || b.Cols[MetricValue].Floats[0] != 10 {
		// Same series as above (same attributes): the start time changed, so it is a reset.
		t.Errorf("restarted process: %+v", res)
	}
	d2 := NewDeltas()
	b = store.NewBatch(MetricsDataset(), 2)
	res = AppendMetrics(b, cumulative(after, after.Add(time.Minute), 10, 5, []uint64{2, 3}, 1), Options{Deltas: d2})
	if res.Rows != 2 || b.Cols[MetricValue].Floats[0] != 10 || b.Cols[MetricStartTimeUnix].Times[0] != after.UnixMicro() {
		t.Errorf("fresh process: %+v %v", res, b.Cols[MetricValue].Floats)
	}
	d2.Forget(time.Now().Add(time.Hour))
	if d2.Len() != 0 {
		t.Errorf("Forget left %d series", d2.Len())
	}
	full := &Deltas{MaxSeries: 1, created: d2.created, series: map[string]*seriesState{}}
	b = store.NewBatch(MetricsDataset(), 2)
	res = AppendMetrics(b, cumulative(after, after.Add(time.Minute), 10, 5, []uint64{2, 3}, 1), Options{Deltas: full})
	if res.Rows != 2 || b.Cols[MetricAggregationTemporality].Ints[1] != 2 {
		t.Errorf("over MaxSeries the histogram is stored as sent: %+v %v", res, b.Cols[MetricAggregationTemporality].Ints)
	}
}
