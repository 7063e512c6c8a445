package clickhouse

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// TestScanAttrs: the scanner answers as encoding/json does where it answers, and leaves to it
// what it does not expect.
func TestScanAttrs(t *testing.T) {
	for _, tc := range []struct {
		text    string
		scanned bool // scanAttrs answers itself
	}{
		{`{"a":"x","b":-3,"c":2.5,"d":3,"e":1e+21,"f":1e-7,"g":true,"h":false,"i":null}`, true},
		{`{"m":{"k":"v","n":[1,{"x":"]"}]},"l":["a",1],"q":"say \"hi\"\n\u00e9","\u006b":"v"}`, true},
		{`{"big":123456789012345678901234567890,"neg":-0,"exp":5E3,"nan":"NaN"}`, true},
		{`{"dup":"1","dup":"2"}`, true},
		{`{ "a": 1 }`, false},                   // whitespace: encoding/json's
		{`{"a":01}`, false},                     // not JSON
		{`{"a":1.}`, false},                     // not JSON
		{`{"a":.5}`, false},                     // not JSON
		{`{"a":+1}`, false},                     // not JSON
		{`{"a":[1,}`, false},                    // not JSON
		{`{"a":"x"}trailing`, false},            // encoding/json stops at the object
		{"{\"a\":\"\xff\"}", false},             // invalid UTF-8: encoding/json replaces it
		{"{\"a\":\"tab\there\"}", false},        // raw control character
		{`{"a":"x"`, false},                     // cut short
		{`["a"]`, false},                        // not an object
		{`{"a":NaN}`, false},                    // not JSON
		{`{"a":{"b":1}x}`, false},               // not JSON
		{`{"a":"\ud83d\ude00","b":"\/"}`, true}, // escapes encoding/json decodes
	} {
		scanned, ok := scanAttrs(nil, tc.text)
		if ok != tc.scanned {
			t.Errorf("%s: scanned %v, want %v", tc.text, ok, tc.scanned)
		}
		want, werr := parseAttrsJSON(nil, tc.text)
		got, gerr := parseAttrs(nil, tc.text)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q, %v\nwant %q, %v", tc.text, got, gerr, want, werr)
		}
		if ok && (werr != nil || !reflect.DeepEqual(scanned, want)) {
			t.Errorf("%s: scanned %q, encoding/json says %q, %v", tc.text, scanned, want, werr)
		}
	}
}

// FuzzScanAttrs: wherever the scanner answers, encoding/json gives the same pairs.
func FuzzScanAttrs(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":-3,"c":2.5e-9,"g":true,"i":null,"m":{"k":[1,"]"]}}`, `{"q":"\"\u00e9\n"}`, `{"n":1e21}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		prefix := kvs{{Key: "keep", Value: "me"}}
		scanned, ok := scanAttrs(prefix, text)
		if !ok {
			if !reflect.DeepEqual(scanned, prefix) {
				t.Fatalf("scanAttrs refused %q but changed dst: %q", text, scanned)
			}
			return
		}
		want, err := parseAttrsJSON(prefix[:1:1], text)
		if err != nil || !reflect.DeepEqual(scanned, want) {
			t.Fatalf("%q: scanned %q, encoding/json %q, %v", text, scanned, want, err)
		}
	})
}

// telemetrygenTraces is 512 spans shaped as telemetrygen's (the OTLP benchmark's load): two
// resource attributes, three span attributes, no events or links.
func telemetrygenTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	rs.Resource().Attributes().PutStr("k8s.pod.ip", "10.0.0.1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	t0 := time.Unix(1_765_000_000, 0)
	for i := 0; i < 512; i++ {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		sp.SetSpanID(pcommon.SpanID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8})
		sp.SetName("okey-dokey-0")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Millisecond)))
		sp.Attributes().PutStr("net.sock.peer.addr", "1.2.3.4")
		sp.Attributes().PutStr("peer.service", "telemetrygen-client")
		sp.Attributes().PutInt("http.status_code", 200)
	}
	return td
}

// BenchmarkOTelBlocks lays out 512 telemetrygen-shaped spans as the otel_traces block.
func BenchmarkOTelBlocks(b *testing.B) {
	batch := store.NewBatch(otelrows.TracesDataset(), 512)
	otelrows.AppendTraces(batch, telemetrygenTraces(), otelrows.Options{})
	s := OTelSchema{}
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.OTelBlocks(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	// As OTelTables.insert does: the columns of the previous insert, reset and refilled.
	b.Run("reused", func(b *testing.B) {
		cols := &blockCols{}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.otelBlocks(batch, cols); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseAttrs(b *testing.B) {
	batch := store.NewBatch(otelrows.TracesDataset(), 512)
	otelrows.AppendTraces(batch, telemetrygenTraces(), otelrows.Options{})
	text := batch.Cols[otelrows.SpanAttributes].Strings[0]
	for name, parse := range map[string]func(kvs, string) (kvs, error){"scan": parseAttrs, "json": parseAttrsJSON} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var dst kvs
			for b.Loop() {
				var err error
				if dst, err = parse(dst[:0], text); err != nil || len(dst) != 3 {
					b.Fatal(err, dst)
				}
			}
		})
	}
}

// batchTokenPerValue is batchToken as it was first written, a hash Write per value: the
// buffered one must give the same tokens, so a batch retried across an upgrade is still
// deduplicated.
func batchTokenPerValue(b *store.Batch) string {
	h := sha256.New()
	var num [8]byte
	putInt := func(v uint64) {
		binary.LittleEndian.PutUint64(num[:], v)
		h.Write(num[:])
	}
	putStr := func(s string) {
		putInt(uint64(len(s)))
		h.Write([]byte(s))
	}
	putBool := func(v bool) {
		if v {
			putInt(1)
		} else {
			putInt(0)
		}
	}
	putStr(b.Dataset.Name)
	putInt(uint64(b.N))
	for i := range b.Cols {
		c := &b.Cols[i]
		putStr(string(c.Type))
		for _, s := range c.Strings {
			putStr(s)
		}
		for _, v := range c.Ints {
			putInt(uint64(v))
		}
		for _, v := range c.Floats {
			putInt(math.Float64bits(v))
		}
		for _, v := range c.Bools {
			putBool(v)
		}
		for _, v := range c.Times {
			putInt(uint64(v))
		}
		putInt(uint64(len(c.Null)))
		for _, v := range c.Null {
			putBool(v)
		}
	}
	return "olapgate-otel-sha256-" + hex.EncodeToString(h.Sum(nil))
}

func TestBatchTokenUnchanged(t *testing.T) {
	spans, logs, metrics := otelBatches(t)
	big := store.NewBatch(otelrows.TracesDataset(), 512)
	otelrows.AppendTraces(big, telemetrygenTraces(), otelrows.Options{})
	long := store.NewBatch(otelrows.LogsDataset(), 1)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat("x", 100<<10))
	otelrows.AppendLogs(long, ld, otelrows.Options{})
	for _, b := range []*store.Batch{spans, logs, metrics, big, long} {
		if got, want := batchToken(b), batchTokenPerValue(b); got != want {
			t.Errorf("%s: token %s, was %s", b.Dataset.Name, got, want)
		}
	}
}

func BenchmarkBatchToken(b *testing.B) {
	batch := store.NewBatch(otelrows.TracesDataset(), 512)
	otelrows.AppendTraces(batch, telemetrygenTraces(), otelrows.Options{})
	for name, token := range map[string]func(*store.Batch) string{"buffered": batchToken, "perValue": batchTokenPerValue} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				token(batch)
			}
		})
	}
}
