package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/olapgate/olapgate/collector/otelrows"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
)

// TestSDKOverGRPC: the OpenTelemetry Go SDK (otlptracegrpc with gzip, otlploggrpc through the
// otelslog bridge) sends nested spans and logs written under them; GetTrace returns the whole
// tree with each log on its span, and the searches find the trace and its logs.
func TestSDKOverGRPC(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st, func(c *Config) { c.PromotedAttributes = []string{"http.route", "deployment.environment"} })
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "shop"), attribute.String("deployment.environment", "test"))

	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.GRPCAddr()), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(res))
	lexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(c.GRPCAddr()), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)), sdklog.WithResource(res))
	logger := otelslog.NewLogger("shop", otelslog.WithLoggerProvider(lp))
	tracer := tp.Tracer("shop/checkout")

	rctx, root := tracer.Start(ctx, "checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.route", "/checkout")))
	logger.InfoContext(rctx, "start checkout", "user", "u1")
	cctx, charge := tracer.Start(rctx, "charge", trace.WithSpanKind(trace.SpanKindClient))
	time.Sleep(2 * time.Millisecond)
	logger.ErrorContext(cctx, "card DECLINED", "code", 51)
	charge.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	_, query := tracer.Start(cctx, "db.query")
	time.Sleep(time.Millisecond)
	query.End()
	charge.SetStatus(otelcodes.Error, "declined")
	charge.End()
	_, ship := tracer.Start(rctx, "ship")
	ship.End()
	root.End()
	logger.InfoContext(ctx, "unrelated, no span")
	traceID := root.SpanContext().TraceID().String()

	// Exports are answered once committed: after ForceFlush the rows are queryable.
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush traces: %v", err)
	}
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush logs: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	got, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: strings.ToUpper(traceID)})
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	var shape []string
	for _, sp := range got.Spans {
		shape = append(shape, strings.Repeat(" ", int(sp.Depth))+sp.Name)
	}
	if want := []string{"checkout", " charge", "  db.query", " ship"}; strings.Join(shape, "|") != strings.Join(want, "|") {
		t.Fatalf("tree %q, want %q", shape, want)
	}
	byName := map[string]*olapgatev1.Span{}
	for _, sp := range got.Spans {
		byName[sp.Name] = sp
		if sp.ServiceName != "shop" || sp.TraceId != traceID {
			t.Errorf("span %s: service %q trace %q", sp.Name, sp.ServiceName, sp.TraceId)
		}
	}
	if r := byName["checkout"]; r.Kind != "Server" || r.ParentSpanId != "" || r.Attributes.GetFields()["http.route"].GetStringValue() != "/checkout" ||
		r.ResourceAttributes.GetFields()["deployment.environment"].GetStringValue() != "test" {
		t.Errorf("root span %v", r)
	}
	ch := byName["charge"]
	if ch.StatusCode != "Error" || ch.StatusMessage != "declined" || ch.ParentSpanId != byName["checkout"].SpanId || ch.DurationNanos < int64(2*time.Millisecond) {
		t.Errorf("charge span %v", ch)
	}
	if len(ch.Events) != 1 || ch.Events[0].Name != "retry" || ch.Events[0].Attributes.GetFields()["attempt"].GetNumberValue() != 2 {
		t.Errorf("charge events %v", ch.Events)
	}
	if logs := byName["checkout"].Logs; len(logs) != 1 || logs[0].Body != "start checkout" || logs[0].Attributes.GetFields()["user"].GetStringValue() != "u1" {
		t.Errorf("checkout logs %v", logs)
	}
	if logs := ch.Logs; len(logs) != 1 || logs[0].Body != "card DECLINED" || logs[0].SeverityNumber != 17 || logs[0].SpanId != ch.SpanId {
		t.Errorf("charge logs %v", logs)
	}
	if len(got.Logs) != 0 || got.LogCount != 2 || got.SpanCount != 4 || got.ErrorCount != 1 || got.Truncated {
		t.Errorf("trace: unattached logs %v, counts logs %d spans %d errors %d truncated %v", got.Logs, got.LogCount, got.SpanCount, got.ErrorCount, got.Truncated)
	}

	// Promoted attributes are columns of their own, from the span or else its resource.
	promoted, err := st.Query(ctx, store.Statement{
		SQL:    `SELECT count(*) FILTER (WHERE "http_route" = '/checkout'), count(*) FILTER (WHERE "deployment_environment" = 'test') FROM ` + otelrows.TracesTable,
		Output: []store.ResultColumn{{Name: "route", Type: store.TypeInt64}, {Name: "env", Type: store.TypeInt64}},
	})
	if err != nil || promoted.Rows[0][0] != int64(1) || promoted.Rows[0][1] != int64(4) {
		t.Errorf("promoted columns: %v, %v", promoted, err)
	}

	// The HTTP contract through grpc-gateway, as the gateway mounts the service.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
	}))
	if err := olapgatev1.RegisterTelemetryServiceHandlerServer(ctx, mux, c.TelemetryServer()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/traces/"+traceID, nil))
	var httpTrace struct {
		TraceID string `json:"traceId"`
		Spans   []struct {
			Name  string `json:"name"`
			Depth int    `json:"depth"`
			Logs  []struct {
				Body   string `json:"body"`
				SpanID string `json:"spanId"`
			} `json:"logs"`
		} `json:"spans"`
		Logs []any `json:"logs"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &httpTrace); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/traces/{id}: %d %s: %v", rec.Code, rec.Body.String(), err)
	}
	if httpTrace.TraceID != traceID || len(httpTrace.Spans) != 4 || httpTrace.Spans[1].Name != "charge" || httpTrace.Spans[1].Depth != 1 ||
		len(httpTrace.Spans[1].Logs) != 1 || httpTrace.Logs == nil {
		t.Errorf("GET /v1/traces/{id}: %s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/traces:search", strings.NewReader(`{"serviceName":"shop","errorsOnly":true,"timeRange":{"start":"now-1h"}}`)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"rootSpanName":"checkout"`) {
		t.Errorf("POST /v1/traces:search: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/logs:search", strings.NewReader(`{"traceId":"`+traceID+`","minSeverityNumber":17}`)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"body":"card DECLINED"`) {
		t.Errorf("POST /v1/logs:search: %d %s", rec.Code, rec.Body.String())
	}

	all := &olapgatev1.TimeRange{Start: "now-1h", End: "now+1m"}
	found, err := c.Telemetry().SearchTraces(ctx, &olapgatev1.SearchTracesRequest{TimeRange: all, ServiceName: "shop", ErrorsOnly: true,
		Attributes: []*olapgatev1.AttributeFilter{{Key: "deployment.environment", Value: "test"}}})
	if err != nil {
		t.Fatalf("SearchTraces: %v", err)
	}
	if len(found.Traces) != 1 {
		t.Fatalf("SearchTraces found %d traces", len(found.Traces))
	}
	s := found.Traces[0]
	if s.TraceId != traceID || s.RootSpanName != "checkout" || s.RootServiceName != "shop" || s.SpanCount != 4 || s.ErrorCount != 1 || s.LogCount != 2 ||
		s.DurationNanos != got.DurationNanos || len(s.Services) != 1 {
		t.Errorf("summary %v (trace duration %d)", s, got.DurationNanos)
	}
	none, err := c.Telemetry().SearchTraces(ctx, &olapgatev1.SearchTracesRequest{TimeRange: all, MinDurationNanos: int64(time.Hour)})
	if err != nil || len(none.Traces) != 0 {
		t.Errorf("SearchTraces min 1h: %v, %v", none, err)
	}

	logs, err := c.Telemetry().SearchLogs(ctx, &olapgatev1.SearchLogsRequest{TimeRange: all, MinSeverityNumber: 17, BodyContains: "declined"})
	if err != nil || len(logs.Logs) != 1 || logs.Logs[0].TraceId != traceID || logs.Logs[0].SpanId != ch.SpanId {
		t.Fatalf("SearchLogs errors: %v, %v", logs, err)
	}
	around, err := c.Telemetry().SearchLogs(ctx, &olapgatev1.SearchLogsRequest{SurroundingTraceId: traceID})
	if err != nil || len(around.Logs) != 3 || around.Logs[0].Body != "unrelated, no span" || around.Logs[0].TraceId != "" {
		t.Fatalf("surrounding logs: %v, %v", around, err)
	}
	byAttr, err := c.Telemetry().SearchLogs(ctx, &olapgatev1.SearchLogsRequest{TimeRange: all, TraceId: traceID,
		Attributes: []*olapgatev1.AttributeFilter{{Key: "code", Value: "51"}}})
	if err != nil || len(byAttr.Logs) != 1 {
		t.Fatalf("SearchLogs by attribute: %v, %v", byAttr, err)
	}
}

// TestSDKOverHTTP: the SDK's OTLP/HTTP exporters (protobuf, gzip) reach the HTTP receiver;
// the span and the log written under it come back together.
func TestSDKOverHTTP(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st, func(c *Config) { c.GRPCAddr = Off })
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "cart"))
	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(c.HTTPAddr()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(c.HTTPAddr()), otlploghttp.WithInsecure(),
		otlploghttp.WithCompression(otlploghttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	logger := otelslog.NewLogger("cart", otelslog.WithLoggerProvider(lp))
	sctx, span := tp.Tracer("cart").Start(ctx, "add item")
	logger.WarnContext(sctx, "stock low", "sku", "A-1")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: span.SpanContext().TraceID().String()})
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	if len(got.Spans) != 1 || got.Spans[0].Name != "add item" || len(got.Spans[0].Logs) != 1 ||
		got.Spans[0].Logs[0].Body != "stock low" || got.Spans[0].Logs[0].SeverityText != "WARN" {
		t.Fatalf("trace %v", got)
	}
}

// TestHTTPJSON: OTLP/HTTP with JSON bodies (one gzip-compressed) for traces and logs, and
// protobuf metrics; the trace comes back whole with its log on its span.
func TestHTTPJSON(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st)
	ctx := context.Background()
	base := "http://" + c.HTTPAddr()
	now := time.Now().UTC().Truncate(time.Microsecond)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "web")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	tid := pcommon.TraceID{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	root, child := pcommon.SpanID{1, 0, 0, 0, 0, 0, 0, 1}, pcommon.SpanID{1, 0, 0, 0, 0, 0, 0, 2}
	for i, id := range []pcommon.SpanID{root, child} {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(id)
		if i == 1 {
			sp.SetParentSpanID(root)
		}
		sp.SetName([]string{"GET /", "render"}[i])
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(5 * time.Millisecond)))
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"traceId":"aa0102030405060708090a0b0c0d0e0f"`)) {
		t.Fatalf("JSON body does not carry hex ids: %s", body)
	}
	resp := post(t, base+TracesPath, "application/json", "", body)
	if resp.code != http.StatusOK || resp.contentType != contentJSON {
		t.Fatalf("traces: %d %s %s", resp.code, resp.contentType, resp.body)
	}

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "web")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Millisecond)))
	lr.SetTraceID(tid)
	lr.SetSpanID(child)
	lr.Body().SetStr("rendered")
	lbody, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(lbody)
	_ = zw.Close()
	if resp := post(t, base+LogsPath, "application/json; charset=utf-8", "gzip", gz.Bytes()); resp.code != http.StatusOK {
		t.Fatalf("logs: %d %s", resp.code, resp.body)
	}

	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("hits")
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
	dp.SetIntValue(3)
	mbody, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if resp := post(t, base+MetricsPath, contentProto, "", mbody); resp.code != http.StatusOK || resp.contentType != contentProto {
		t.Fatalf("metrics: %d %s", resp.code, resp.body)
	}

	got, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: tid.String()})
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	if len(got.Spans) != 2 || got.Spans[0].Name != "GET /" || got.Spans[1].Depth != 1 || len(got.Spans[1].Logs) != 1 || got.Spans[1].Logs[0].Body != "rendered" {
		t.Fatalf("trace %v", got)
	}
	if !got.Spans[0].StartTime.AsTime().Equal(now) {
		t.Errorf("start %s, want %s", got.Spans[0].StartTime.AsTime(), now)
	}
	res, err := st.Query(ctx, store.Statement{
		SQL:    `SELECT count(*), sum("Value") FROM ` + otelrows.MetricsTable + ` WHERE "MetricName" = 'hits' AND "MetricType" = 'Sum'`,
		Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}, {Name: "v", Type: store.TypeDouble}},
	})
	if err != nil || res.Rows[0][0] != int64(1) || res.Rows[0][1] != 3.0 {
		t.Fatalf("metrics rows: %v, %v", res, err)
	}
	// A counter of a process started after the collector: its cumulative points are stored as
	// deltas, so their SUM is the last cumulative value.
	procStart := time.Now()
	for i, v := range []int64{5, 9, 20} {
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("bytes")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(procStart))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(procStart.Add(time.Duration(i+1) * time.Second)))
		dp.SetIntValue(v)
		body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if resp := post(t, base+MetricsPath, contentJSON, "", body); resp.code != http.StatusOK {
			t.Fatalf("cumulative point %d: %d %s", i, resp.code, resp.body)
		}
	}
	res, err = st.Query(ctx, store.Statement{
		SQL:    `SELECT count(*), sum("Value"), min("AggregationTemporality") FROM ` + otelrows.MetricsTable + ` WHERE "MetricName" = 'bytes'`,
		Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}, {Name: "v", Type: store.TypeDouble}, {Name: "t", Type: store.TypeInt64}},
	})
	if err != nil || res.Rows[0][0] != int64(3) || res.Rows[0][1] != 20.0 || res.Rows[0][2] != int64(1) {
		t.Fatalf("cumulative as deltas: %v, %v", res, err)
	}
	if s := c.Stats(); s.Traces.Stored != 2 || s.Logs.Stored != 1 || s.Metrics.Stored != 4 || s.BufferedBytes != 0 {
		t.Errorf("stats %+v", s)
	}

	if _, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: "bb0102030405060708090a0b0c0d0e0f"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing trace: %v", err)
	}
	if _, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: "xyz"}); err == nil || !strings.Contains(err.Error(), "32 hexadecimal digits") {
		t.Errorf("bad trace id: %v", err)
	}
}

type httpResult struct {
	code        int
	contentType string
	retryAfter  string
	body        []byte
}

func post(t testing.TB, url, contentType, encoding string, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), out}
}
