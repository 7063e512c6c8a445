package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/internal/config"
)

// TestKafkaSourceThroughServer: `olapgate serve` with a Kafka source (kfake, a Kafka
// wire-protocol cluster in-process) consumes a topic into the pageviews dataset; every event is
// queryable once, and a malformed record lands in the dead-letter dataset with its reason.
func TestKafkaSourceThroughServer(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "views"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close) // after the server's shutdown (cleanups run last first), which leaves the group
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("views"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 300
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf(`{"id":"k%d","time":"2026-11-22T10:%02d:00Z","page":"/p%d","duration_ms":%d}`, i, i%60, i%5, i))})
	}
	recs = append(recs, &kgo.Record{Value: []byte(`{"id":"bad","time":"not a time"}`)})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, t.TempDir(), func(c *config.Config) {
		c.Sources.Kafka = []kafka.Config{{Name: "views", Brokers: cluster.ListenAddrs(), Group: "olapgate",
			Topics: []kafka.Topic{{Topic: "views", Dataset: "pageviews"}},
			Batch:  kafka.BatchConfig{MaxEvents: 100, MaxWait: 50 * time.Millisecond}}}
	})
	base := "http://" + srv.HTTPAddr()
	count := func(dataset string) (int64, string) {
		q := `{"dataset":"` + dataset + `","timeRange":{"start":"2000-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"options":{"noCache":true}}`
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q))
		if code != 200 {
			t.Fatalf("count %s: %d %s", dataset, code, out)
		}
		var a struct{ Rows [][]int64 }
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		return a.Rows[0][0], string(out)
	}
	var got, dead int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, _ = count("pageviews"); got >= n {
			if dead, _ = count("olapgate_deadletter"); dead >= 1 {
				break
			}
		}
	}
	if got != n || dead != 1 {
		t.Fatalf("stored %d of %d events, %d dead letters (want 1)", got, n, dead)
	}
	q := `{"dataset":"olapgate_deadletter","timeRange":{"start":"2000-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"},"groupBy":["reason"],"metrics":[{"agg":"COUNT"}]}`
	if code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q)); code != 200 || !strings.Contains(string(out), "time") {
		t.Errorf("dead letter reason: %d %s", code, out)
	}
}
