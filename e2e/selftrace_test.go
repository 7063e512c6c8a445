package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/config"
)

// TestSelfTracing: with self-tracing sampling every query, a dashboard query's answer names
// its trace, and that trace opens from GET /v1/traces/{id} with olapgate's own spans: the
// query span and, under it, the admission wait and the backend statement with its SQL. A
// caller's traceparent is continued (the query span is its child).
func TestSelfTracing(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *config.Config) { c.Collector.SelfTracing.SampleRatio = 1 })
	base := "http://" + srv.HTTPAddr()
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"groupBy":["country"]}`
	code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q), "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	if code != 200 {
		t.Fatalf("query: %d %s", code, out)
	}
	var ans struct {
		Stats struct {
			TraceID string `json:"traceId"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Stats.TraceID != callerTrace {
		t.Fatalf("answer's traceId %q, want the caller's %s: %s", ans.Stats.TraceID, callerTrace, out)
	}

	// Spans are exported in batches (1s) and then buffered by the collector (flush 200ms).
	type span struct {
		SpanID       string `json:"spanId"`
		ParentSpanID string `json:"parentSpanId"`
		Name         string `json:"name"`
		ServiceName  string `json:"serviceName"`
		Attributes   map[string]any
	}
	var tr struct {
		Spans []span `json:"spans"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/traces/" + callerTrace)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &tr); err != nil {
				t.Fatal(err)
			}
			if len(tr.Spans) >= 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("self-trace not stored: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	byName := map[string]span{}
	for _, s := range tr.Spans {
		byName[s.Name] = s
		if s.ServiceName != "olapgate" {
			t.Errorf("span %s of service %q", s.Name, s.ServiceName)
		}
	}
	root, ok := byName["query pageviews"]
	if !ok || root.ParentSpanID != callerSpan {
		t.Fatalf("query span %+v (want parent %s) in %+v", root, callerSpan, tr.Spans)
	}
	for _, name := range []string{"admission.wait", "store.query"} {
		if s, ok := byName[name]; !ok || s.ParentSpanID != root.SpanID {
			t.Fatalf("%s span %+v not under the query span %s", name, s, root.SpanID)
		}
	}
	if sql, _ := byName["store.query"].Attributes["db.query.text"].(string); sql == "" {
		t.Fatalf("store.query span without its SQL: %+v", byName["store.query"])
	}
}
