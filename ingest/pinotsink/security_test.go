package pinotsink

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/ingest/kafka"
)

// The sink's producers authenticate with the options a Kafka source would use
// (kafka.SecurityOptions: here SCRAM-SHA-256).
func TestWriteWithSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "olap", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := func(password string) []kgo.Opt {
		t.Helper()
		o, err := kafka.SecurityOptions(kafka.TLSConfig{}, kafka.SASLConfig{Mechanism: kafka.MechanismSCRAMSHA256, User: "olap", Password: password}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	d := clicks(t, "id")
	s := newSink(t, c, d, func(cfg *Config) { cfg.Opts = opts("s3cret") })
	const n = 40
	if err := s.Write(context.Background(), batch(t, d, 0, n)); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts("s3cret"), kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		got += len(cl.PollFetches(ctx).Records())
		cancel()
	}
	if got != n {
		t.Fatalf("consumed %d records back, want %d", got, n)
	}

	// The brokers do refuse other credentials. (Not through a sink: a producer that cannot
	// authenticate holds its Write for about 30 s, past Config.Timeout, while franz-go retries
	// the producer ID request.)
	badCl, err := kgo.NewClient(append(opts("wrong"), kgo.SeedBrokers(c.ListenAddrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer badCl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := badCl.Ping(ctx); err == nil {
		t.Fatal("a wrong SCRAM password was accepted")
	}
}
