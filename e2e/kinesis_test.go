package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/olapgate/olapgate/ingest/kinesis"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
)

// TestKinesisSourceThroughServer: `olapgate serve` with a Kinesis source (kinesalite, a
// Kinesis API server on a loopback port) reads a stream of three shards into the pageviews
// dataset; every event is queryable once, and a malformed record lands in the dead-letter
// dataset with its reason.
func TestKinesisSourceThroughServer(t *testing.T) {
	kl := kinesalitetest.Require(t) // stopped after the server (cleanups run last first)
	kl.CreateStream(t, "views", 3)
	const n = 300
	var entries []types.PutRecordsRequestEntry
	for i := range n {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)),
			Data: fmt.Appendf(nil, `{"id":"k%d","time":"2026-11-22T10:%02d:00Z","page":"/p%d","duration_ms":%d}`, i, i%60, i%5, i)})
	}
	entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("bad"), Data: []byte(`{"id":"bad","time":"not a time"}`)})
	out, err := kl.Client().PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: aws.String("views"), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("put records: %v (%d failed)", err, aws.ToInt32(out.FailedRecordCount))
	}

	srv := startServer(t, t.TempDir(), func(c *config.Config) {
		c.Sources.Kinesis = []kinesis.Config{{Name: "views", Stream: "views", Region: kinesalitetest.Region, Endpoint: kl.Endpoint,
			Credentials: kinesis.CredentialsConfig{Source: kinesis.CredentialsStatic, AccessKey: kinesalitetest.AccessKey, SecretKey: kinesalitetest.SecretKey},
			Dataset:     "pageviews", Batch: kinesis.BatchConfig{MaxEvents: 100, MaxWait: 50 * time.Millisecond},
			PollInterval: 50 * time.Millisecond}}
	})
	base := "http://" + srv.HTTPAddr()
	count := func(dataset string) int64 {
		q := `{"dataset":"` + dataset + `","timeRange":{"start":"2000-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"options":{"noCache":true}}`
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q))
		if code != 200 {
			t.Fatalf("count %s: %d %s", dataset, code, out)
		}
		var a struct{ Rows [][]int64 }
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		return a.Rows[0][0]
	}
	var got, dead int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = count("pageviews"); got >= n {
			if dead = count("olapgate_deadletter"); dead >= 1 {
				break
			}
		}
	}
	if got != n || dead != 1 {
		t.Fatalf("stored %d of %d events, %d dead letters (want 1)", got, n, dead)
	}
	q := `{"dataset":"olapgate_deadletter","timeRange":{"start":"2000-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"},"groupBy":["reason","partition"],"metrics":[{"agg":"COUNT"}]}`
	if code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q)); code != 200 || !strings.Contains(string(out), "time") || !strings.Contains(string(out), "shardId-") {
		t.Errorf("dead letter reason and shard: %d %s", code, out)
	}
}
