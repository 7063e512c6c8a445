package collector

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpora under testdata/fuzz")

// The fuzz targets drive the OTLP/HTTP handler with arbitrary bodies, as protobuf or JSON,
// raw or gzip-compressed, over a store that accepts everything: any input must get a
// well-formed answer (200 with an ExportResponse, or 400/413/415 with a google.rpc.Status) and
// never a panic.

func FuzzTracesHTTP(f *testing.F)  { fuzzOTLP(f, TracesPath) }
func FuzzLogsHTTP(f *testing.F)    { fuzzOTLP(f, LogsPath) }
func FuzzMetricsHTTP(f *testing.F) { fuzzOTLP(f, MetricsPath) }

type seed struct {
	body         []byte
	isJSON, gzip bool
}

// seeds are valid requests of each kind in both encodings, plus truncations, which the
// committed corpora (testdata/fuzz, written by go test -run TestFuzzSeeds -update) hold.
func seeds(path string) []seed {
	var pb, js []byte
	switch path {
	case TracesPath:
		td := traces(2, 10)
		sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
		sp.SetParentSpanID(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SpanID())
		sp.Events().AppendEmpty().SetName("ev")
		sp.Links().AppendEmpty().SetTraceID(sp.TraceID())
		req := ptraceotlp.NewExportRequestFromTraces(td)
		pb, _ = req.MarshalProto()
		js, _ = req.MarshalJSON()
	case LogsPath:
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "svc")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Unix(1_800_000_000, 0)))
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
		lr.Body().SetEmptyMap().PutStr("msg", "hello")
		lr.Attributes().PutEmptySlice("list").AppendEmpty().SetDouble(1.5)
		req := plogotlp.NewExportRequestFromLogs(ld)
		pb, _ = req.MarshalProto()
		js, _ = req.MarshalJSON()
	case MetricsPath:
		md := pmetric.NewMetrics()
		ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
		g := ms.AppendEmpty()
		g.SetName("g")
		g.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
		h := ms.AppendEmpty()
		h.SetName("h")
		hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
		hp.BucketCounts().FromRaw([]uint64{1, 2})
		hp.ExplicitBounds().FromRaw([]float64{1})
		s := ms.AppendEmpty()
		s.SetName("s")
		s.SetEmptySummary().DataPoints().AppendEmpty().QuantileValues().AppendEmpty().SetQuantile(0.5)
		req := pmetricotlp.NewExportRequestFromMetrics(md)
		pb, _ = req.MarshalProto()
		js, _ = req.MarshalJSON()
	}
	return []seed{
		{pb, false, false}, {js, true, false}, {gzipped(pb), false, true}, {gzipped(js), true, true},
		{pb[:len(pb)/2], false, false}, {js[:len(js)/2], true, false}, {nil, false, false}, {[]byte("{}"), true, false},
	}
}

func fuzzOTLP(f *testing.F, path string) {
	for _, s := range seeds(path) {
		f.Add(s.body, s.isJSON, s.gzip)
	}
	c := startCollector(f, newFakeStore(), func(c *Config) {
		c.GRPCAddr, c.HTTPAddr = Off, Off
		c.MaxRequestBytes = 1 << 20
		c.FlushInterval = time.Millisecond
	})
	h := c.HTTPHandler()
	f.Fuzz(func(t *testing.T, body []byte, isJSON, gz bool) {
		ct, enc := contentProto, ""
		if isJSON {
			ct = contentJSON
		}
		if gz {
			enc = "gzip"
		}
		rec := serve(h, http.MethodPost, path, ct, enc, body)
		switch rec.Code {
		case http.StatusOK:
			if rec.Header().Get("Content-Type") != ct {
				t.Fatalf("200 with Content-Type %q", rec.Header().Get("Content-Type"))
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if st := errorStatus(t, rec); st.GetMessage() == "" {
				t.Fatal("error without a message")
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
}

// TestFuzzSeeds writes the seed corpora with -update; without it, it checks they exist.
func TestFuzzSeeds(t *testing.T) {
	for name, path := range map[string]string{"FuzzTracesHTTP": TracesPath, "FuzzLogsHTTP": LogsPath, "FuzzMetricsHTTP": MetricsPath} {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*update {
			if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
				t.Errorf("%s: no seed corpus (run go test -run TestFuzzSeeds -update): %v", dir, err)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds(path) {
			text := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nbool(%t)\nbool(%t)\n", strconv.Quote(string(s.body)), s.isJSON, s.gzip)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
