package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/olapgate/olapgate/collector/otelrows"
)

// traces builds a request with n valid spans; each gets an attribute of attrBytes bytes.
func traces(n, attrBytes int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < n; i++ {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i + 1)})
		sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)})
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Unix(1_800_000_000, 0)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Unix(1_800_000_001, 0)))
		if attrBytes > 0 {
			sp.Attributes().PutStr("big", strings.Repeat("x", attrBytes))
		}
	}
	return td
}

func protoBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// serve runs one request through the OTLP/HTTP handler.
func serve(h http.Handler, method, path, contentType, encoding string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorStatus decodes the google.rpc.Status body of an error answer.
func errorStatus(t testing.TB, rec *httptest.ResponseRecorder) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if strings.HasPrefix(rec.Header().Get("Content-Type"), contentJSON) {
		err = protojson.Unmarshal(rec.Body.Bytes(), st)
	} else {
		err = proto.Unmarshal(rec.Body.Bytes(), st)
	}
	if err != nil {
		t.Fatalf("error body %q is not a google.rpc.Status: %v", rec.Body.String(), err)
	}
	return st
}

// wrongLengthTraceID is a request whose only span has a 5-byte trace id (OTLP wants 16).
func wrongLengthTraceID() []byte {
	var span []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, []byte{1, 2, 3, 4, 5})
	var scope []byte
	scope = protowire.AppendTag(scope, 2, protowire.BytesType)
	scope = protowire.AppendBytes(scope, span)
	var rs []byte
	rs = protowire.AppendTag(rs, 2, protowire.BytesType)
	rs = protowire.AppendBytes(rs, scope)
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	return protowire.AppendBytes(req, rs)
}

func TestHTTPBadInput(t *testing.T) {
	fs := newFakeStore()
	c := startCollector(t, fs, func(c *Config) {
		c.GRPCAddr, c.HTTPAddr = Off, Off
		c.MaxRequestBytes = 64 << 10
		c.MaxFieldBytes = 1000
	})
	h := c.HTTPHandler()
	valid := protoBody(t, traces(2, 0))
	zeroIDs := traces(2, 0)
	zeroIDs.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
	zeroIDs.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).SetSpanID(pcommon.SpanID{})
	bomb := gzipped(bytes.Repeat([]byte{0}, 1<<20))

	cases := []struct {
		name, method, ctype, enc string
		body                     []byte
		code                     int
		msg                      string
	}{
		{"GET", http.MethodGet, contentProto, "", nil, http.StatusMethodNotAllowed, "takes POST"},
		{"text content type", http.MethodPost, "text/plain", "", valid, http.StatusUnsupportedMediaType, `Content-Type "text/plain"`},
		{"no content type", http.MethodPost, "", "", valid, http.StatusUnsupportedMediaType, "Content-Type"},
		{"truncated protobuf", http.MethodPost, contentProto, "", valid[:len(valid)-7], http.StatusBadRequest, "decode OTLP traces request (protobuf)"},
		{"protobuf sent as JSON", http.MethodPost, contentJSON, "", valid, http.StatusBadRequest, "decode OTLP traces request (JSON)"},
		{"bad JSON", http.MethodPost, contentJSON, "", []byte(`{"resourceSpans":[{`), http.StatusBadRequest, "(JSON)"},
		{"JSON trace id not hex", http.MethodPost, contentJSON, "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0102030405060708"}]}]}]}`),
			http.StatusBadRequest, "decode OTLP traces request (JSON)"},
		{"5-byte trace id", http.MethodPost, contentProto, "", wrongLengthTraceID(), http.StatusBadRequest, "decode OTLP traces request (protobuf)"},
		{"all ids zero", http.MethodPost, contentProto, "", protoBody(t, zeroIDs), http.StatusBadRequest, "every span was rejected: 2 spans rejected"},
		{"too big", http.MethodPost, contentProto, "", protoBody(t, traces(1, 70<<10)), http.StatusRequestEntityTooLarge, "over 65536 bytes"},
		{"gzip bomb", http.MethodPost, contentProto, "gzip", bomb, http.StatusRequestEntityTooLarge, "inflates to more than"},
		{"not gzip", http.MethodPost, contentProto, "gzip", valid, http.StatusBadRequest, "read gzip body"},
		{"truncated gzip", http.MethodPost, contentProto, "gzip", gzipped(valid)[:30], http.StatusBadRequest, "read body"},
		{"unknown encoding", http.MethodPost, contentProto, "br", valid, http.StatusUnsupportedMediaType, `Content-Encoding "br"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.method, otelrowsPath(), tc.ctype, tc.enc, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body.String())
			}
			if st := errorStatus(t, rec); !strings.Contains(st.GetMessage(), tc.msg) {
				t.Errorf("message %q, want it to contain %q", st.GetMessage(), tc.msg)
			}
		})
	}

	t.Run("empty request is a success", func(t *testing.T) {
		if rec := serve(h, http.MethodPost, TracesPath, contentProto, "", nil); rec.Code != http.StatusOK {
			t.Errorf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
	t.Run("huge attribute is a partial success", func(t *testing.T) {
		td := traces(2, 0)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutStr("huge", strings.Repeat("y", 5000))
		rec := serve(h, http.MethodPost, TracesPath, contentJSON, "", mustJSONBody(t, td))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		resp := ptraceotlp.NewExportResponse()
		if err := resp.UnmarshalJSON(rec.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
		if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || !strings.Contains(ps.ErrorMessage(), "over the 1000-byte limit") {
			t.Errorf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
		}
	})
	if s := c.Stats(); s.Traces.Stored != 1 || s.Traces.Rejected != 3 {
		t.Errorf("stats %+v", s.Traces)
	}
	if n := fs.count(otelrows.TracesTable); n != 1 {
		t.Errorf("stored %d spans, want 1", n)
	}
}

func otelrowsPath() string { return TracesPath }

func mustJSONBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGRPCPartialSuccess: OTLP/gRPC answers an export with some invalid spans with the count
// and reason, and one with none valid with INVALID_ARGUMENT.
func TestGRPCPartialSuccess(t *testing.T) {
	fs := newFakeStore()
	c := startCollector(t, fs, func(c *Config) { c.HTTPAddr = Off })
	cc, err := grpc.NewClient(c.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := ptraceotlp.NewGRPCClient(cc)
	td := traces(3, 0)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2).SetTraceID(pcommon.TraceID{})
	resp, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td))
	if err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || !strings.Contains(ps.ErrorMessage(), "spans[2]: trace_id is all zeros") {
		t.Errorf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
	}
	bad := traces(1, 0)
	bad.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID(pcommon.SpanID{})
	if _, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(bad)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("all invalid: %v", err)
	}
	if n := fs.count(otelrows.TracesTable); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
	if n := fs.count(otelrows.TraceIDTsTable); n != 2 {
		t.Errorf("trace id lookup rows %d, want 2", n)
	}
}

// TestBufferFull: while the store is stuck, requests beyond the byte bound are refused with
// 429 + Retry-After (HTTP) and RESOURCE_EXHAUSTED + RetryInfo (gRPC); the held request is
// answered once the store moves.
func TestBufferFull(t *testing.T) {
	fs := newFakeStore()
	fs.gate = make(chan struct{})
	c := startCollector(t, fs, func(c *Config) {
		c.MaxRequestBytes, c.MaxBufferBytes = 8<<10, 8<<10
		c.RetryAfter = 2500 * time.Millisecond
		c.FlushInterval = time.Millisecond
	})
	body := protoBody(t, traces(3, 1500)) // about 5 KiB of rows
	var wg sync.WaitGroup
	var first httpResult
	wg.Go(func() { first = post(t, "http://"+c.HTTPAddr()+TracesPath, contentProto, "", body) })
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().BufferedBytes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first request never buffered")
		}
		time.Sleep(time.Millisecond)
	}
	second := post(t, "http://"+c.HTTPAddr()+TracesPath, contentProto, "", body)
	if second.code != http.StatusTooManyRequests || second.retryAfter != "3" {
		t.Errorf("second request: %d Retry-After %q %s", second.code, second.retryAfter, second.body)
	}

	cc, err := grpc.NewClient(c.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = ptraceotlp.NewGRPCClient(cc).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(traces(3, 1500)))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("gRPC: %v", err)
	}
	var ri *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			ri = r
		}
	}
	if ri == nil || ri.GetRetryDelay().AsDuration() != 2500*time.Millisecond {
		t.Errorf("RetryInfo %v", ri)
	}

	close(fs.gate)
	wg.Wait()
	if first.code != http.StatusOK {
		t.Errorf("first request: %d %s", first.code, first.body)
	}
	if s := c.Stats(); s.Traces.Refused != 6 || s.Traces.Stored != 3 || s.BufferedBytes != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestShutdownFlushes: rows waiting for the flush interval are written by Shutdown, and their
// export is answered as a success; Shutdown twice is fine, and later exports are refused.
func TestShutdownFlushes(t *testing.T) {
	fs := newFakeStore()
	c, err := New(Config{GRPCAddr: Off, HTTPAddr: "127.0.0.1:0", FlushInterval: time.Hour, BatchRows: 1 << 20, Flush: FlushInterval}, fs, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var res httpResult
	wg.Go(func() { res = post(t, "http://"+c.HTTPAddr()+TracesPath, contentProto, "", protoBody(t, traces(4, 0))) })
	for c.Stats().BufferedBytes == 0 {
		time.Sleep(time.Millisecond)
	}
	if fs.count(otelrows.TracesTable) != 0 {
		t.Fatal("written before the flush interval")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()
	if res.code != http.StatusOK || fs.count(otelrows.TracesTable) != 4 {
		t.Errorf("export %d %s, stored %d", res.code, res.body, fs.count(otelrows.TracesTable))
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if _, err := c.exportTraces(ctx, traces(1, 0)); status.Code(err) != codes.Unavailable {
		t.Errorf("export after shutdown: %v", err)
	}
}

// TestFlushIdle: with the default Flush, a lone export is written at once, not after the
// flush interval, and its time is in the export-duration histogram.
func TestFlushIdle(t *testing.T) {
	fs := newFakeStore()
	c := startCollector(t, fs, func(c *Config) { c.GRPCAddr, c.HTTPAddr, c.FlushInterval = Off, Off, time.Hour })
	done := make(chan error, 1)
	go func() {
		_, err := c.exportTraces(context.Background(), traces(4, 0))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lone export waited for the flush interval")
	}
	if n := fs.count(otelrows.TracesTable); n != 4 {
		t.Errorf("stored %d spans, want 4", n)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.ExportDuration())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "signal" && l.GetValue() == "traces" {
					got = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if got != 1 {
		t.Errorf("export-duration samples %d, want 1", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{}, ""},
		{Config{GRPCAddr: Off, HTTPAddr: Off}, ""},
		{Config{GRPCAddr: "nohost"}, "grpcAddr"},
		{Config{GRPCAddr: "127.0.0.1:9", HTTPAddr: "127.0.0.1:9"}, "both"},
		{Config{MaxBufferBytes: 1 << 20}, "exceeds maxBufferBytes"},
		{Config{BatchRows: -1}, "batchRows"},
		{Config{FlushInterval: -time.Second}, "flushInterval"},
		{Config{Flush: "sometimes"}, "flush"},
		{Config{Flush: FlushInterval}, ""},
	} {
		err := tc.cfg.Validate()
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.err)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New without a store succeeded")
	}
	c, err := New(Config{}, newFakeStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown before start: %v", err)
	}
	_ = errors.New
}
