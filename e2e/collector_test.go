package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCollectorThroughServer: `olapgate serve` runs the collector role: an OTLP/HTTP JSON export
// to its receiver is stored, the trace comes back whole from GET /v1/traces/{id} on the API port
// with the log attached to its span, and spans are a dataset the aggregate API charts.
func TestCollectorThroughServer(t *testing.T) {
	srv := startServer(t, t.TempDir())
	otlp := "http://" + srv.Collector().HTTPAddr()
	now := time.Now().UnixNano()
	traceID, root, child := "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b175"
	spans := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
	  "scopeSpans":[{"spans":[
	    {"traceId":"` + traceID + `","spanId":"` + root + `","name":"POST /pay","kind":2,"startTimeUnixNano":"` + itoa(now) + `","endTimeUnixNano":"` + itoa(now+5e6) + `"},
	    {"traceId":"` + traceID + `","spanId":"` + child + `","parentSpanId":"` + root + `","name":"charge card","kind":3,"startTimeUnixNano":"` + itoa(now+1e6) + `","endTimeUnixNano":"` + itoa(now+4e6) + `","status":{"code":2,"message":"declined"}}]}]}]}`
	logs := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
	  "scopeLogs":[{"logRecords":[{"timeUnixNano":"` + itoa(now+2e6) + `","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"card declined"},"traceId":"` + traceID + `","spanId":"` + child + `"}]}]}]}`
	for path, body := range map[string]string{"/v1/traces": spans, "/v1/logs": logs} {
		resp, err := http.Post(otlp+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("export %s: %d %s", path, resp.StatusCode, out)
		}
	}
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/v1/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("get trace: %d %s", resp.StatusCode, out)
	}
	var tr struct {
		Spans []struct {
			SpanID string `json:"spanId"`
			Name   string `json:"name"`
			Logs   []struct {
				Body string `json:"body"`
			} `json:"logs"`
		} `json:"spans"`
	}
	if err := json.Unmarshal(out, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 || tr.Spans[0].Name != "POST /pay" || tr.Spans[1].Name != "charge card" ||
		len(tr.Spans[1].Logs) != 1 || tr.Spans[1].Logs[0].Body != "card declined" {
		t.Fatalf("trace: %s", out)
	}
	// Span-derived RED: errors per service through the aggregate API, with exemplars: the
	// trace of the slowest span and that span's name (the 5 ms root, not the 3 ms child).
	q := `{"dataset":"otel_traces","timeRange":{"start":"now-1h","end":"now+1h"},"groupBy":["ServiceName"],
		"metrics":[{"agg":"COUNT","as":"spans"},{"agg":"COUNT","as":"errors","filter":{"cmp":{"field":"StatusCode","op":"EQ","values":["Error"]}}},
		{"agg":"ARG_MAX","field":"TraceId","by":"Duration","as":"slowest_trace"},{"agg":"ARG_MAX","field":"SpanName","by":"Duration"}]}`
	code, body := postJSON(t, "http://"+srv.HTTPAddr()+"/v1/query", "application/json", []byte(q))
	if code != 200 || !strings.Contains(string(body), `["checkout",2,1,"`+traceID+`","POST /pay"]`) {
		t.Fatalf("RED query: %d %s", code, body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
