package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
	"github.com/olapgate/olapgate/store/pinot"
)

// TestPinotSinkPush: a Pinot dataset whose table consumes a Kafka topic is writable. A push
// over HTTP and one over gRPC are produced to the topic (a kfake cluster) in Kafka
// transactions, keyed by primary key, as the JSON Pinot's schema expects, and answered with
// ack "stream"; the embedded dataset beside it still answers "committed".
func TestPinotSinkPush(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	broker := httptest.NewServer(http.NotFoundHandler()) // queries are not what this test is about
	defer broker.Close()

	srv := startServer(t, t.TempDir(), func(c *config.Config) {
		c.Backends.Pinot = &pinot.Config{Brokers: []string{broker.URL}, Tables: map[string]*pinot.TableSetup{
			"clicks": {Kafka: &pinot.KafkaStream{Topic: "clicks", Brokers: []string{"kafka.pinot.internal:9092"}, ProducerBrokers: kc.ListenAddrs()}},
		}}
		d := &dataset.Dataset{Name: "clicks", TimeColumn: "time", Backend: dataset.BackendPinot, PrimaryKey: []string{"id"},
			Dimensions: []dataset.Field{{Name: "id", Type: dataset.String}, {Name: "country", Type: dataset.String}},
			Metrics:    []dataset.Field{{Name: "price", Type: dataset.Float}}}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		c.Datasets = append(c.Datasets, d)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	base := "http://" + srv.HTTPAddr()

	var body strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&body, `{"id":"c%d","time":"2026-11-22T10:00:00Z","country":"DE","price":%d.25}`+"\n", i, i)
	}
	body.WriteString(`{"id":"bad","time":"yesterday"}` + "\n")
	code, out := postJSON(t, base+"/v1/datasets/clicks/events", "application/x-ndjson", []byte(body.String()))
	var ans struct {
		Accepted int    `json:"accepted"`
		Ack      string `json:"ack"`
		Rejected []struct {
			Index int `json:"index"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(out, &ans); err != nil || code != http.StatusOK {
		t.Fatalf("push: %d %s %v", code, out, err)
	}
	if ans.Accepted != 50 || ans.Ack != "stream" || len(ans.Rejected) != 1 || ans.Rejected[0].Index != 50 {
		t.Errorf("push answer %s", out)
	}

	cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := olapgatev1.NewIngestServiceClient(cc).Ingest(context.Background(), &olapgatev1.IngestRequest{
		Dataset: "clicks", JsonLines: []byte(`{"id":"g1","time":1795341600000,"country":"FR","price":1}` + "\n"),
	})
	if err != nil || resp.GetAck() != "stream" || resp.GetAccepted() != 1 {
		t.Fatalf("grpc push: %v %v", resp, err)
	}

	code, out = postJSON(t, base+"/v1/datasets/pageviews/events", "application/json", []byte(`[{"time":"2026-11-22T10:00:00Z","page":"/"}]`))
	if code != http.StatusOK || !strings.Contains(string(out), `"ack":"committed"`) {
		t.Errorf("embedded push: %d %s", code, out)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("clicks"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for n < 51 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, r := range fs.Records() {
			n++
			var e map[string]any
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("value %s: %v", r.Value, err)
			}
			id, _ := e["id"].(string)
			seen[id]++
			if string(r.Key) != id {
				t.Errorf("record %s has key %q", id, r.Key)
			}
			if e["time"] != float64(1795341600000) {
				t.Errorf("record %s: time %v, want epoch millis", id, e["time"])
			}
		}
	}
	if n != 51 || len(seen) != 51 || seen["c0"] != 1 || seen["c49"] != 1 || seen["g1"] != 1 || seen["bad"] != 0 {
		t.Errorf("consumed %d records: %v", n, seen)
	}
}

// TestPinotKinesisSinkPush: a Pinot dataset whose table consumes a Kinesis stream (kinesalite)
// is writable too; the push is answered ack "stream" once its records are in the stream.
func TestPinotKinesisSinkPush(t *testing.T) {
	ks := kinesalitetest.Require(t)
	ks.CreateStream(t, "views", 2)
	broker := httptest.NewServer(http.NotFoundHandler())
	defer broker.Close()
	srv := startServer(t, t.TempDir(), func(c *config.Config) {
		c.Backends.Pinot = &pinot.Config{Brokers: []string{broker.URL}, Tables: map[string]*pinot.TableSetup{
			"views": {Kinesis: &pinot.KinesisStream{Stream: "views", Region: kinesalitetest.Region, Endpoint: ks.Endpoint,
				Properties: map[string]string{"accessKey": kinesalitetest.AccessKey, "secretKey": kinesalitetest.SecretKey}}},
		}}
		d := &dataset.Dataset{Name: "views", TimeColumn: "time", Backend: dataset.BackendPinot, EventID: "id",
			Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		c.Datasets = append(c.Datasets, d)
	})
	code, out := postJSON(t, "http://"+srv.HTTPAddr()+"/v1/datasets/views/events", "application/json",
		[]byte(`[{"id":"v1","time":"2026-11-22T10:00:00Z","page":"/a"},{"id":"v2","time":"2026-11-22T10:00:01Z","page":"/b"}]`))
	if code != http.StatusOK || !strings.Contains(string(out), `"accepted":2`) || !strings.Contains(string(out), `"ack":"stream"`) {
		t.Fatalf("push: %d %s", code, out)
	}
	cl := ks.Client()
	ctx := context.Background()
	shards, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("views")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sh := range shards.Shards {
		it, err := cl.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("views"), ShardId: sh.ShardId,
			ShardIteratorType: kinesistypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs.Records {
			got[aws.ToString(r.PartitionKey)] = string(r.Data)
		}
	}
	if got["v1"] != `{"time":1795341600000,"page":"/a","id":"v1"}` || got["v2"] == "" || len(got) != 2 {
		t.Errorf("stream holds %v", got)
	}
}
