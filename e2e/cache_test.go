package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestCacheOverHTTP: a repeated query that allows staleness is answered from the cache, with
// cacheHit and ageMs in the stats, and sees new data only once it asks for a fresh answer.
func TestCacheOverHTTP(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	ingest := func(id string) {
		body := []byte(`{"id":"` + id + `","time":"2026-11-22T10:00:00Z","page":"/"}` + "\n")
		if code, out := postJSON(t, base+"/v1/datasets/pageviews/events", "application/x-ndjson", body); code != 200 {
			t.Fatalf("ingest: %d %s", code, out)
		}
	}
	type answer struct {
		Rows  [][]int64
		Stats struct {
			CacheHit bool  `json:"cacheHit"`
			AgeMs    int64 `json:"ageMs"`
		}
	}
	query := func(opts string) answer {
		q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"options":{` + opts + `}}`
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q))
		var a answer
		if err := json.Unmarshal(out, &a); err != nil || code != 200 {
			t.Fatalf("query: %d %s", code, out)
		}
		return a
	}
	ingest("c1")
	if a := query(`"maxStalenessMs":60000`); a.Stats.CacheHit || a.Rows[0][0] != 1 {
		t.Fatalf("first: %+v", a)
	}
	ingest("c2")
	if a := query(`"maxStalenessMs":60000`); !a.Stats.CacheHit || a.Rows[0][0] != 1 || a.Stats.AgeMs < 0 {
		t.Fatalf("cached: %+v", a)
	}
	if a := query(`"maxStalenessMs":60000,"noCache":true`); a.Stats.CacheHit || a.Rows[0][0] != 2 {
		t.Fatalf("fresh: %+v", a)
	}
}

// TestMetricsExposition: /metrics carries the gateway's and the store's series.
func TestMetricsExposition(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	metrics := func() string {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	// commits: the store's commit counter (the collector commits its lookup table's state at
	// start, so it need not be 0 before the ingest).
	commits := func(text string) int {
		t.Helper()
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, "olapgate_store_commits_total "); ok {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("olapgate_store_commits_total %q: %v", v, err)
				}
				return n
			}
		}
		t.Fatal("/metrics lacks olapgate_store_commits_total")
		return 0
	}
	before := commits(metrics())
	body := []byte(`{"id":"m1","time":"2026-11-22T10:00:00Z"}` + "\n" + `{"id":"m1","time":"2026-11-22T10:00:00Z"}` + "\n")
	if code, out := postJSON(t, base+"/v1/datasets/pageviews/events", "application/x-ndjson", body); code != 200 {
		t.Fatalf("ingest: %d %s", code, out)
	}
	raw := metrics()
	if n := commits(raw) - before; n != 1 {
		t.Errorf("the ingest made %d commits, want 1", n)
	}
	for _, want := range []string{
		`olapgate_ingest_events_total{dataset="pageviews",outcome="accepted",protocol="http"} 2`,
		"olapgate_store_rows_committed_total 1",
		"olapgate_store_rows_deduplicated_total 1",
		"olapgate_store_last_commit_seconds",
		"go_goroutines",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestExplain: the SQL for the dataset's backend with its parameters, the same query in every
// dialect, and whether the cache would answer it.
func TestExplain(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"granularity":"1h","groupBy":["country"],"metrics":[{"agg":"COUNT"}],"filter":{"cmp":{"field":"page","op":"EQ","values":["/it's"]}},"options":{"maxStalenessMs":60000}}`
	explain := func() map[string]any {
		code, out := postJSON(t, base+"/v1/query:explain", "application/json", []byte(q))
		var e map[string]any
		if code != 200 || json.Unmarshal(out, &e) != nil {
			t.Fatalf("explain: %d %s", code, out)
		}
		return e
	}
	e := explain()
	if e["backend"] != "embedded" || e["cache"] != "miss" || !strings.Contains(e["sql"].(string), `'/it''s'`) {
		t.Fatalf("explain: %v", e)
	}
	by, _ := e["sqlByDialect"].(map[string]any)
	for _, d := range []string{"duckdb", "pinot", "clickhouse"} {
		if s, _ := by[d].(string); !strings.Contains(s, "SELECT") {
			t.Errorf("no %s SQL: %v", d, by[d])
		}
	}
	if code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q)); code != 200 {
		t.Fatalf("query: %d %s", code, out)
	}
	if c, _ := explain()["cache"].(string); !strings.HasPrefix(c, "hit") {
		t.Errorf("cache decision after the query: %q", c)
	}
}
