package kafka

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/olapgate/olapgate/internal/chdouble"
	"github.com/olapgate/olapgate/internal/dataset"
)

func startCHSource(t testing.TB, cfg Config, st *chdouble.Store, ds []*dataset.Dataset, reg prometheus.Registerer) *Source {
	t.Helper()
	st.Ensure(t, ds...)
	src, err := New(cfg, st, ds, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src.ch == nil {
		t.Fatal("a source of ClickHouse datasets does not commit the ClickHouse way")
	}
	src.ch.withToken = st.WithToken
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return src
}

type committed struct {
	offset   int64
	metadata string
}

// groupCommits reads the group's committed offsets with their metadata.
func groupCommits(t testing.TB, c *kfake.Cluster, group string) map[int32]committed {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]committed{}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Offset >= 0 {
				m := ""
				if p.Metadata != nil {
					m = *p.Metadata
				}
				out[p.Partition] = committed{p.Offset, m}
			}
		}
	}
	return out
}

func TestClickHouseExactlyOnce(t *testing.T) {
	const partitions, n = 4, 5000
	c := newCluster(t, partitions)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	produce(t, c, partitions, 0, n, chdouble.Poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	if got := src.DeadLetterDataset().Backend; got != dataset.BackendClickHouse {
		t.Errorf("dead-letter dataset on %s, want clickhouse", got)
	}
	st.Wait(t, "events", n-chdouble.BadCount(n), 30*time.Second)
	shutdown(t, src)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	// Every range done: offsets at the end, no pending range left.
	for p, cm := range groupCommits(t, c, "g") {
		if cm.offset != n/partitions || cm.metadata != "" {
			t.Errorf("partition %d: committed %d %q, want %d without metadata", p, cm.offset, cm.metadata, n/partitions)
		}
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != float64(n-chdouble.BadCount(n)) {
		t.Errorf("accepted counter = %v, want %d", got, n-chdouble.BadCount(n))
	}
	if got := testutil.ToFloat64(src.m.deadLetters.WithLabelValues("kafka:test")); got != float64(chdouble.BadCount(n)) {
		t.Errorf("dead-letter counter = %v, want %d", got, chdouble.BadCount(n))
	}
}

// Inserts that land but whose answer is lost (the double stores, then fails): the source
// reads the pending ranges back from the group and inserts them again with the same tokens;
// the double drops them.
func TestClickHouseInsertLandsButFails(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	st.SetAfterWrite(chdouble.LostAnswers(3, 4, 20))
	produce(t, c, partitions, 0, n, chdouble.Poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 300, MaxWait: 20 * time.Millisecond}
	}), st, []*dataset.Dataset{d}, reg)
	st.Wait(t, "events", n-chdouble.BadCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	if st.Dropped() == 0 {
		t.Error("no insert was dropped as a duplicate: the failed writes were not replayed with their tokens")
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kafka:test", "error")); got < 1 {
		t.Errorf("error commits counter = %v, want ≥ 1", got)
	}
	t.Logf("%d writes, %d inserts dropped as duplicates", st.Writes(), st.Dropped())
}

// A consumer that dies between an insert and the offset commit after it (the process is
// gone: nothing more happens), and a new one: the pending range is read again, inserted
// again with the same tokens and dropped; everything else once.
func TestClickHouseCrashBetweenInsertAndCommit(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	produce(t, c, partitions, 0, n/2, chdouble.Poisoned)

	src := startCHSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 500, MaxWait: 20 * time.Millisecond}
	}), st, []*dataset.Dataset{d}, nil)
	crashed := make(chan struct{})
	st.SetAfterWrite(chdouble.DieAt(12, func() {
		src.aborted.Store(true) // nothing after this insert happens
		go func() { src.abort(); close(crashed) }()
	}))
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the source never crashed")
	}
	st.SetAfterWrite(nil)
	stored := st.Rows("events")
	pending := 0
	for p, cm := range groupCommits(t, c, "g") {
		if strings.HasPrefix(cm.metadata, pendingPrefix) {
			pending++
			t.Logf("partition %d: committed %d, %s", p, cm.offset, cm.metadata)
		}
	}
	if pending == 0 {
		t.Fatal("no pending range in the group after a crash between insert and commit")
	}
	t.Logf("crashed with %d rows stored, %d partitions pending", stored, pending)

	produce(t, c, partitions, n/2, n, chdouble.Poisoned)
	src2 := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	st.Wait(t, "events", n-chdouble.BadCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src2)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	if st.Dropped() == 0 {
		t.Error("no insert was dropped as a duplicate: the pending range was not replayed with its tokens")
	}
	for p, cm := range groupCommits(t, c, "g") {
		if cm.offset != n/partitions || cm.metadata != "" {
			t.Errorf("partition %d: committed %d %q, want %d without metadata", p, cm.offset, cm.metadata, n/partitions)
		}
	}
}

// Two members of one group share the partitions; one leaves mid-stream (revoke: flush, then
// commit), the other takes everything over.
func TestClickHouseRebalance(t *testing.T) {
	const partitions, n = 6, 12000
	c := newCluster(t, partitions)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	reg := prometheus.NewRegistry()
	a := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	b := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	owned := func(s *Source) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.parts)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 40; i++ {
			produce(t, c, partitions, i*n/40, (i+1)*n/40, nil)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for owned(a) == 0 || owned(b) == 0 || owned(a)+owned(b) != partitions {
		if time.Now().After(deadline) {
			t.Fatalf("group never balanced: a owns %d partitions, b %d", owned(a), owned(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("balanced: a owns %d partitions, b %d; %d rows stored", owned(a), owned(b), st.Rows("events"))
	shutdown(t, a)
	wg.Wait()
	st.Wait(t, "events", n, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, b)
	st.ExactlyOnce(t, "events", n)
	if got := testutil.ToFloat64(b.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
}

// A pending range is inserted again with exactly its bounds: records after it, read in the
// same fetch, go into the next range.
func TestClickHouseReplayBounds(t *testing.T) {
	const n = 100
	c := newCluster(t, 1)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	produce(t, c, 1, 0, n, nil)
	// A previous member recorded [10, 29] as pending after committing [0, 9], and inserted it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = "g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := cl.RequestCachedMetadata(context.Background(), mreq, 0)
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = mresp.Topics[0].TopicID
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	meta := pendingPrefix + "29"
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = 0, 10, -1, &meta
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err == nil {
		err = commitResponseErr(resp)
	}
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	st.Insert(t, d, "kafka:test/"+topic+"/0/10-29/events", 10, 30)
	src := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	st.Wait(t, "events", n-10, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	shutdown(t, src)
	st.OnceFrom(t, "events", 10, n) // before the committed offset: not read
	if want := st.Inserts(20); st.Dropped() != want {
		t.Errorf("%d inserts dropped, want the %d of the replayed range", st.Dropped(), want)
	}
}

func TestBackendValidation(t *testing.T) {
	c := newCluster(t, 1)
	emb, ch := eventsDataset(t, "clicks"), chdouble.Dataset(t, "views")
	cfg := sourceConfig(c, func(cfg *Config) {
		cfg.Topics = []Topic{{Topic: topic, Route: &FieldRoute{Field: "kind", Datasets: map[string]string{"click": "clicks", "view": "views"}}}}
	})
	st := chdouble.New()
	if _, err := New(cfg, st, []*dataset.Dataset{emb, ch}, nil, nil); err == nil || !strings.Contains(err.Error(), "one backend") {
		t.Fatalf("mixed backends: %v", err)
	}
	// ClickHouse datasets need a store that takes writes; embedded ones a positioned writer.
	cfg.Topics = []Topic{{Topic: topic, Dataset: "views"}}
	if _, err := New(cfg, struct{ Store }{st}, []*dataset.Dataset{ch}, nil, nil); err == nil {
		t.Fatal("a clickhouse source over a store without Write was accepted")
	}
	cfg.Topics = []Topic{{Topic: topic, Dataset: "clicks"}}
	if _, err := New(cfg, st, []*dataset.Dataset{emb}, nil, nil); err == nil || !strings.Contains(err.Error(), "commits positions") {
		t.Fatalf("embedded source over the ClickHouse double: %v", err)
	}
	lookup := func(n string) *dataset.Dataset {
		return map[string]*dataset.Dataset{"clicks": emb, "views": ch}[n]
	}
	for _, tc := range []struct {
		ds, want string
	}{{"clicks", dataset.BackendEmbedded}, {"views", dataset.BackendClickHouse}, {"undeclared", dataset.BackendEmbedded}} {
		cfg.Topics = []Topic{{Topic: topic, Dataset: tc.ds}}
		if got, err := cfg.Backend(lookup); err != nil || got != tc.want {
			t.Errorf("Backend of %s = %q, %v; want %s", tc.ds, got, err, tc.want)
		}
	}
}
