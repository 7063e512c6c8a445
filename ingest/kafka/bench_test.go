package kafka

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/internal/dataset"
)

// The throughput target: Kafka → embedded store events/s against franz-go reading the
// same topic and discarding, for 10-field events. Both consume benchEvents records of a
// kfake topic with 4 partitions; run with -benchtime=1x (each iteration is a whole topic):
//
//	go test -run XXX -bench 'Consume' -benchtime 3x ./ingest/kafka
const benchEvents = 200_000

func benchDataset(tb testing.TB) *dataset.Dataset {
	d := &dataset.Dataset{Name: "bench", TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "country", Type: dataset.String},
			{Name: "device", Type: dataset.String}, {Name: "user_id", Type: dataset.String}, {Name: "referrer", Type: dataset.String},
			{Name: "status", Type: dataset.Int}},
		Metrics: []dataset.Field{{Name: "duration_ms", Type: dataset.Int}, {Name: "bytes", Type: dataset.Int}, {Name: "seq", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		tb.Fatal(err)
	}
	return d
}

func benchEvent(i int) string {
	return fmt.Sprintf(`{"time":%d,"page":"/docs/%d","country":"%s","device":"%s","user_id":"u%d","referrer":"https://example.com/%d","status":%d,"duration_ms":%d,"bytes":%d,"seq":%d}`,
		1_700_000_000_000+i, i%50, []string{"US", "DE", "FR", "JP"}[i%4], []string{"desktop", "mobile"}[i%2], i%10007, i%13, 200+i%3, i%1000, 1000+i%5000, i)
}

func benchCluster(b *testing.B) *kfake.Cluster {
	c := newCluster(b, 4)
	produce(b, c, 4, 0, benchEvents, benchEvent)
	return c
}

func BenchmarkConsumeBaseline(b *testing.B) {
	c := benchCluster(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("base"+strconv.Itoa(i)), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchEvents; {
			f := cl.PollRecords(context.Background(), DefaultMaxEvents)
			n += f.NumRecords()
		}
		cl.Close()
	}
	b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkConsume(b *testing.B) {
	c := benchCluster(b)
	d := benchDataset(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := openStore(b, b.TempDir(), d)
		b.StartTimer()
		src := startSource(b, sourceConfig(c, func(cfg *Config) {
			cfg.Group = "bench" + strconv.Itoa(i)
			cfg.Topics = []Topic{{Topic: topic, Dataset: "bench"}}
			cfg.Batch = BatchConfig{} // defaults
		}), st, []*dataset.Dataset{d}, nil)
		waitRows(b, st, `SELECT count(*) FROM bench`, benchEvents, 5*time.Minute)
		b.StopTimer()
		shutdown(b, src)
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
}
