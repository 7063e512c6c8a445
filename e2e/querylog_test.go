package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestQueryLog: every query (answered, cached, refused) becomes a row of the query log
// dataset, which the aggregate API queries like any other; answers carry dataCompleteUpTo.
func TestQueryLog(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	before := time.Now()
	body := []byte(`{"id":"q1","time":"2026-11-22T10:00:00Z","page":"/"}` + "\n")
	if code, out := postJSON(t, base+"/v1/datasets/pageviews/events", "application/x-ndjson", body, "X-Olapgate-Tenant", "acme"); code != 200 {
		t.Fatalf("ingest: %d %s", code, out)
	}
	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"options":{"maxStalenessMs":60000}}`
	for i := range 2 { // the second is a cache hit
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q), "X-Olapgate-Tenant", "acme")
		var a struct {
			Stats struct {
				DataCompleteUpTo string `json:"dataCompleteUpTo"`
			}
		}
		if code != 200 || json.Unmarshal(out, &a) != nil {
			t.Fatalf("query %d: %d %s", i, code, out)
		}
		upTo, err := time.Parse(time.RFC3339Nano, a.Stats.DataCompleteUpTo)
		if err != nil || upTo.Before(before) || upTo.After(time.Now()) {
			t.Fatalf("query %d: dataCompleteUpTo %q, want a time since the ingest: %v", i, a.Stats.DataCompleteUpTo, err)
		}
	}
	bad := `{"dataset":"pageviews","metrics":[{"agg":"SUM","field":"page"}]}`
	if code, out := postJSON(t, base+"/v1/query", "application/json", []byte(bad), "X-Olapgate-Tenant", "acme"); code != 400 {
		t.Fatalf("bad query: %d %s", code, out)
	}

	// The log writes in the background (flushed every second): poll until all three are in.
	// The polls are logged too; the filter leaves them out.
	logQ := `{"dataset":"olapgate_queries","timeRange":{"start":"now-1h","end":"now+1h"},"groupBy":["code","cache_hit","dataset"],
		"metrics":[{"agg":"COUNT"},{"agg":"MAX","field":"latency_ms"}],"orderBy":[{"by":"code"},{"by":"cache_hit"}],"options":{"noCache":true},
		"filter":{"cmp":{"field":"dataset","op":"NEQ","values":["olapgate_queries"]}}}`
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(logQ), "X-Olapgate-Tenant", "acme")
		if code != 200 {
			t.Fatalf("query log: %d %s", code, out)
		}
		var a struct{ Rows [][]any }
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, r := range a.Rows {
			parts = append(parts, strings.TrimSpace(strings.Join([]string{r[0].(string), jsonText(r[1]), r[2].(string), jsonText(r[3])}, " ")))
			if lat, ok := r[4].(float64); !ok || lat < 0 {
				t.Fatalf("latency_ms %v", r[4])
			}
		}
		if got = strings.Join(parts, "; "); got == "InvalidArgument false pageviews 1; OK false pageviews 1; OK true pageviews 1" {
			break
		}
	}
	if got != "InvalidArgument false pageviews 1; OK false pageviews 1; OK true pageviews 1" {
		t.Fatalf("query log rows: %s", got)
	}
	// Another tenant sees none of acme's queries.
	code, out := postJSON(t, base+"/v1/query", "application/json", []byte(strings.NewReplacer(`"code","cache_hit","dataset"`, `"tenant"`, `"orderBy":[{"by":"code"},{"by":"cache_hit"}],`, ``).Replace(logQ)), "X-Olapgate-Tenant", "globex")
	if code != 200 || strings.Contains(string(out), "acme") {
		t.Fatalf("globex sees: %d %s", code, out)
	}
}

func jsonText(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
