package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store/pinot"
)

// TestPinotBackendBesideEmbedded: one server with an embedded dataset and a Pinot dataset
// (an httptest broker answering in Pinot's documented response shape). Queries on the Pinot
// dataset are planned in Pinot SQL and sent to the broker; its freshness and partial flags
// reach the answer's stats; pushes to it are refused with the reason; the embedded dataset
// keeps working in the same process.
func TestPinotBackendBesideEmbedded(t *testing.T) {
	var mu sync.Mutex
	var gotSQL []string
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SQL          string `json:"sql"`
			QueryOptions string `json:"queryOptions"`
		}
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/query/sql" || json.Unmarshal(body, &req) != nil {
			http.Error(w, "unexpected request "+r.URL.Path, http.StatusBadRequest)
			return
		}
		mu.Lock()
		gotSQL = append(gotSQL, req.SQL)
		mu.Unlock()
		// Broker answer shape: BrokerResponseNative (docs.pinot.apache.org, response-format).
		_, _ = io.WriteString(w, `{"resultTable":{"dataSchema":{"columnNames":["country","__m0"],"columnDataTypes":["STRING","LONG"]},
			"rows":[["DE",7],["US",5]]},"exceptions":[],"numServersQueried":3,"numServersResponded":2,
			"numDocsScanned":12,"totalDocs":12,"timeUsedMs":3,"requestId":"1","numConsumingSegmentsQueried":1,"minConsumingFreshnessTimeMs":1795391999000}`)
	}))
	defer broker.Close()

	srv := startServer(t, t.TempDir(), func(c *config.Config) {
		c.Backends.Pinot = &pinot.Config{Brokers: []string{broker.URL}}
		d := &dataset.Dataset{Name: "clicks", TimeColumn: "time", Backend: dataset.BackendPinot,
			Dimensions: []dataset.Field{{Name: "country", Type: dataset.String}}}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		c.Datasets = append(c.Datasets, d)
	})
	base := "http://" + srv.HTTPAddr()
	q := `{"dataset":"clicks","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"groupBy":["country"],"metrics":[{"agg":"COUNT"}]}`
	code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q))
	if code != 200 {
		t.Fatalf("pinot query: %d %s", code, out)
	}
	var a struct {
		Rows  [][]any
		Stats struct {
			Backend          string `json:"backend"`
			Partial          bool   `json:"partial"`
			DataCompleteUpTo string `json:"dataCompleteUpTo"`
		}
	}
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Rows) != 2 || a.Rows[0][0] != "DE" || a.Rows[0][1] != float64(7) {
		t.Errorf("rows %v", a.Rows)
	}
	if a.Stats.Backend != "pinot" || !a.Stats.Partial || a.Stats.DataCompleteUpTo != "2026-11-22T23:59:59Z" {
		t.Errorf("stats %+v (want backend pinot, partial: 2 of 3 servers answered, complete up to the consuming freshness)", a.Stats)
	}
	mu.Lock()
	sql := strings.Join(gotSQL, "\n")
	mu.Unlock()
	if !strings.Contains(sql, `FROM "clicks"`) || !strings.Contains(sql, `"time" >= 1795305600000`) {
		t.Errorf("broker got %s", sql)
	}

	code, out = postJSON(t, base+"/v1/datasets/clicks/events", "application/json", []byte(`[{"time":"2026-11-22T10:00:00Z","country":"DE"}]`))
	if code != http.StatusBadRequest || !strings.Contains(string(out), "REALTIME table consumes") {
		t.Errorf("push to pinot dataset: %d %s", code, out)
	}
	// The embedded dataset is served by the same process.
	code, out = postJSON(t, base+"/v1/query", "application/json", []byte(`{"dataset":"pageviews","metrics":[{"agg":"COUNT"}]}`))
	if code != 200 || !strings.Contains(string(out), `"backend":"embedded"`) {
		t.Errorf("embedded query: %d %s", code, out)
	}
}
