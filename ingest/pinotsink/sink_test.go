package pinotsink

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const topic = "clicks"

func clicks(t testing.TB, pk ...string) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "clicks", TimeColumn: "time", EventID: "id", Backend: dataset.BackendPinot, PrimaryKey: pk,
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "mobile", Type: dataset.Bool}, {Name: "seen", Type: dataset.Timestamp}},
		Metrics:    []dataset.Field{{Name: "bytes", Type: dataset.Int}, {Name: "score", Type: dataset.Float}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func newCluster(t testing.TB, brokers int, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newSink(t testing.TB, c *kfake.Cluster, d *dataset.Dataset, mut func(*Config)) *Sink {
	t.Helper()
	cfg := Config{Brokers: c.ListenAddrs(), Topic: topic, TransactionalID: "test-" + t.Name(), Timeout: 10 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// batch decodes events from-to-1 as the push API would.
func batch(t testing.TB, d *dataset.Dataset, from, to int) *store.Batch {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"id":"e%d","time":"2026-11-22T10:00:%02d.123456Z","page":"/p/%d","bytes":%d,"score":%d.5,"mobile":%t}`+"\n",
			i, i%60, i%7, i, i, i%2 == 0)
	}
	bt, rej, err := decode.JSON(d, []byte(b.String()), decode.FormatNDJSON, 0, decode.Limits{MaxEvents: 100000})
	if err != nil || len(rej) > 0 {
		t.Fatalf("decode: %v %v", err, rej)
	}
	return bt
}

// consume reads the topic from the start with the given isolation level until want records
// arrived (then a little longer, to catch extras) or the deadline passes.
func consume(t testing.TB, c *kfake.Cluster, level kgo.IsolationLevel, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	extra := time.Time{}
	for time.Now().Before(deadline) {
		if len(out) >= want && extra.IsZero() {
			extra = time.Now().Add(300 * time.Millisecond)
		}
		if !extra.IsZero() && time.Now().After(extra) {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("fetch: %v", err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}

type event struct {
	ID     string   `json:"id"`
	Time   int64    `json:"time"`
	Page   string   `json:"page"`
	Bytes  int64    `json:"bytes"`
	Score  float64  `json:"score"`
	Mobile bool     `json:"mobile"`
	Seen   *float64 `json:"seen"`
}

// once checks that events from-to-1 are all there, each once, with keys by id.
func once(t testing.TB, recs []*kgo.Record, from, to int) {
	t.Helper()
	seen := map[string]int{}
	part := map[string]int32{}
	for _, r := range recs {
		var e event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("record value %s: %v", r.Value, err)
		}
		seen[e.ID]++
		if string(r.Key) != e.ID {
			t.Errorf("record %s: key %q", e.ID, r.Key)
		}
		if p, ok := part[e.ID]; ok && p != r.Partition {
			t.Errorf("record %s in partitions %d and %d", e.ID, p, r.Partition)
		}
		part[e.ID] = r.Partition
	}
	for i := from; i < to; i++ {
		if n := seen[fmt.Sprintf("e%d", i)]; n != 1 {
			t.Errorf("event e%d seen %d times", i, n)
		}
	}
	if len(seen) != to-from {
		t.Errorf("%d distinct events, want %d", len(seen), to-from)
	}
}

func TestRecords(t *testing.T) {
	d := clicks(t, "id", "page")
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Topic: topic}, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, rej, err := decode.JSON(d, []byte(`[{"id":"a\"1","time":1700000000123,"page":"/x\u2028\n","bytes":null,"score":0.1,"mobile":false,"seen":"1970-01-01T00:00:00.0015Z"},
		{"id":"b","time":"2026-11-22T10:00:00Z","page":"/y"}]`), decode.FormatArray, 0, decode.Limits{MaxEvents: 10})
	if err != nil || len(rej) > 0 {
		t.Fatal(err, rej)
	}
	recs := s.Records(b)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	want0 := `{"time":1700000000123,"page":"/x\u2028\n","mobile":false,"seen":1,"score":0.1,"id":"a\"1"}`
	if string(recs[0].Value) != want0 {
		t.Errorf("value 0:\n got %s\nwant %s", recs[0].Value, want0)
	}
	if string(recs[0].Key) != `a"1|/x`+"\u2028\n" {
		t.Errorf("key 0: %q", recs[0].Key)
	}
	if want1 := `{"time":1795341600000,"page":"/y","id":"b"}`; string(recs[1].Value) != want1 {
		t.Errorf("value 1:\n got %s\nwant %s", recs[1].Value, want1)
	}
	for _, r := range recs {
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Errorf("not JSON: %s: %v", r.Value, err)
		}
	}
	// No primary key: the eventId is the key; neither: no key.
	s2, _ := New(Config{Brokers: []string{"127.0.0.1:1"}, Topic: topic}, clicks(t))
	defer s2.Close()
	if k := s2.Records(b)[1].Key; string(k) != "b" {
		t.Errorf("eventId key: %q", k)
	}
	d3 := &dataset.Dataset{Name: "plain", TimeColumn: "time", Metrics: []dataset.Field{{Name: "n", Type: dataset.Int}}}
	if err := d3.Validate(); err != nil {
		t.Fatal(err)
	}
	s3, _ := New(Config{Brokers: []string{"127.0.0.1:1"}, Topic: topic}, d3)
	defer s3.Close()
	b3, _, _ := decode.JSON(d3, []byte(`[{"time":0,"n":1}]`), decode.FormatArray, 0, decode.Limits{MaxEvents: 10})
	if r := s3.Records(b3)[0]; r.Key != nil || string(r.Value) != `{"time":0,"n":1}` {
		t.Errorf("unkeyed record: %q %s", r.Key, r.Value)
	}
}

func TestMillis(t *testing.T) {
	for us, ms := range map[int64]int64{0: 0, 999: 0, 1000: 1, 1500: 1, -1: -1, -1000: -1, -1001: -2} {
		if got := millis(us); got != ms {
			t.Errorf("millis(%d) = %d, want %d", us, got, ms)
		}
	}
}

func TestConfig(t *testing.T) {
	d := clicks(t, "id")
	if _, err := New(Config{Topic: topic}, d); err == nil || !strings.Contains(err.Error(), "brokers") {
		t.Errorf("no brokers: %v", err)
	}
	if _, err := New(Config{Brokers: []string{"b:1"}}, d); err == nil || !strings.Contains(err.Error(), "topic") {
		t.Errorf("no topic: %v", err)
	}
	if _, err := New(Config{Brokers: []string{"b:1"}, Topic: topic}, &dataset.Dataset{Name: "x"}); err == nil {
		t.Error("unvalidated dataset: no error")
	}
	s, err := New(Config{Brokers: []string{"b:1"}, Topic: topic}, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.cfg.TransactionalID, "olapgate-") || !strings.HasSuffix(s.cfg.TransactionalID, "-clicks") {
		t.Errorf("default transactional ID %q", s.cfg.TransactionalID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), batch(t, d, 0, 1)); err != ErrClosed {
		t.Errorf("write after close: %v", err)
	}
}

// Batches written concurrently through the sink are read back by a read_committed consumer
// each event once, keyed by primary key, each key in one partition.
func TestWriteConsumeBack(t *testing.T) {
	c := newCluster(t, 1, 4)
	d := clicks(t, "id")
	s := newSink(t, c, d, func(c *Config) { c.Producers = 3 })
	const batches, per = 8, 250
	var wg sync.WaitGroup
	for i := 0; i < batches; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := s.Write(context.Background(), batch(t, d, i*per, (i+1)*per)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	recs := consume(t, c, kgo.ReadCommitted(), batches*per)
	once(t, recs, 0, batches*per)
	parts := map[int32]bool{}
	for _, r := range recs {
		parts[r.Partition] = true
	}
	if len(parts) < 2 {
		t.Errorf("records in %d partitions: keys should spread them", len(parts))
	}
	var e event
	_ = json.Unmarshal(recs[0].Value, &e)
	if e.Time < 1795341600000 || e.Time > 1795341660000 || e.Seen != nil {
		t.Errorf("event %+v: time not epoch millis, or null seen present", e)
	}
	if err := s.Write(context.Background(), nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
}

// A batch whose produce fails is aborted: a read_committed consumer (Pinot with
// isolation.level read_committed) sees none of it, though some of its records reached the
// log; the client's retry then lands each event once.
func TestAbortedBatchInvisible(t *testing.T) {
	// Two brokers lead the partitions, so one batch takes two produce requests: one is stored,
	// the other refused.
	c := newCluster(t, 2, 4)
	for p := int32(0); p < 4; p++ {
		if err := c.MoveTopicPartition(topic, p, p%2); err != nil {
			t.Fatal(err)
		}
	}
	d := clicks(t, "id")
	s := newSink(t, c, d, nil)
	if err := s.Write(context.Background(), batch(t, d, 0, 100)); err != nil {
		t.Fatal(err)
	}
	var produces, refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produces.Add(1) == 1 {
			return nil, nil, false // stored as normal
		}
		if refused.Load() > 0 {
			return nil, nil, false
		}
		refused.Add(1)
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	err := s.Write(context.Background(), batch(t, d, 100, 200))
	if err == nil || !strings.Contains(err.Error(), "transaction aborted") {
		t.Fatalf("write with a refused produce: %v (produce requests %d, refused %d)", err, produces.Load(), refused.Load())
	}
	if refused.Load() != 1 || produces.Load() < 2 {
		t.Fatalf("produce requests %d, refused %d: the failure was not injected mid-batch", produces.Load(), refused.Load())
	}
	// The client retries the failed push.
	if err := s.Write(context.Background(), batch(t, d, 100, 200)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	once(t, consume(t, c, kgo.ReadCommitted(), 200), 0, 200)
	// Read uncommitted, the aborted records are there: the test did abort stored records.
	if n := len(consume(t, c, kgo.ReadUncommitted(), 201)); n <= 200 {
		t.Errorf("read_uncommitted sees %d records: the aborted batch left none in the log", n)
	}
}

// A cluster that goes away fails the write; nothing is acknowledged.
func TestWriteClusterDown(t *testing.T) {
	c := newCluster(t, 1, 2)
	d := clicks(t, "id")
	s := newSink(t, c, d, func(c *Config) { c.Timeout = 2 * time.Second })
	if err := s.Write(context.Background(), batch(t, d, 0, 10)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Write(ctx, batch(t, d, 10, 20)); err == nil {
		t.Fatal("write to a closed cluster succeeded")
	}
}
