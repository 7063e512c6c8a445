package kafka

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

func TestMain(m *testing.M) {
	if os.Getenv(kfakeChildEnv) != "" {
		os.Exit(serveKfakeChild()) // the broker of the benchmarks (bench_test.go)
	}
	goleak.VerifyTestMain(m)
}

const topic = "events"

// eventsDataset has no eventId on purpose: deduplication would hide a duplicate delivery,
// which is what these tests look for.
func eventsDataset(t testing.TB, name string) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{Name: name, TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "kind", Type: dataset.String}},
		Metrics:    []dataset.Field{{Name: "seq", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func newCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func openStore(t testing.TB, dir string, ds ...*dataset.Dataset) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(context.Background(), embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := s.EnsureDataset(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// produce writes events seq from..to-1 to the topic, spread over its partitions by seq.
func produce(t testing.TB, c *kfake.Cluster, partitions int32, from, to int, value func(seq int) string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if value == nil {
		value = event
	}
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Partition: int32(i) % partitions, Key: []byte(strconv.Itoa(i)), Value: []byte(value(i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func event(seq int) string {
	return fmt.Sprintf(`{"time": %d, "page": "/p%d", "kind": "click", "seq": %d}`, 1_700_000_000_000+seq, seq%7, seq)
}

func sourceConfig(c *kfake.Cluster, mut func(*Config)) Config {
	cfg := Config{
		Name: "test", Brokers: c.ListenAddrs(), Group: "g",
		Topics: []Topic{{Topic: topic, Dataset: "events"}},
		Batch:  BatchConfig{MaxEvents: 500, MaxWait: 50 * time.Millisecond},
		// kfake's group coordinator waits for members that left without a word for the
		// session timeout; keep it short for the crash test.
		SessionTimeout: 6 * time.Second,
	}
	if mut != nil {
		mut(&cfg)
	}
	return cfg
}

func startSource(t testing.TB, cfg Config, st store.PositionedWriter, ds []*dataset.Dataset, reg prometheus.Registerer) *Source {
	t.Helper()
	src, err := New(cfg, st, ds, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return src
}

func count(t testing.TB, st *embedded.Store, q string) int64 {
	t.Helper()
	res, err := st.Query(context.Background(), store.Statement{SQL: q, Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if res.Rows[0][0] == nil {
		return 0
	}
	return res.Rows[0][0].(int64)
}

// waitRows waits until the query counts at least n.
func waitRows(t testing.TB, st *embedded.Store, q string, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := count(t, st, q)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d after %s, want %d", q, got, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exactlyOnce checks that seq 0..n-1 are each stored once.
func exactlyOnce(t testing.TB, st *embedded.Store, table string, n int) {
	t.Helper()
	rows := count(t, st, `SELECT count(*) FROM `+table)
	distinct := count(t, st, `SELECT count(DISTINCT seq) FROM `+table)
	lo := count(t, st, `SELECT min(seq) FROM `+table)
	hi := count(t, st, `SELECT max(seq) FROM `+table)
	if rows != int64(n) || distinct != int64(n) || lo != 0 || hi != int64(n-1) {
		t.Fatalf("%s: %d rows, %d distinct seq in [%d, %d]; want %d once each", table, rows, distinct, lo, hi, n)
	}
}

func shutdown(t testing.TB, src *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := src.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// groupOffsets reads the group's committed offsets.
func groupOffsets(t testing.TB, c *kfake.Cluster, group string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group // no topics: all of them
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Offset >= 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}

func TestConsumeExactlyOnce(t *testing.T) {
	const partitions, n = 4, 5000
	c := newCluster(t, partitions)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	produce(t, c, partitions, 0, n, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	shutdown(t, src)
	exactlyOnce(t, st, "events", n)

	pos, err := st.Positions(context.Background(), "kafka:test")
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < partitions; p++ {
		if got := pos[topic+"/"+strconv.Itoa(p)]; got != strconv.Itoa(n/partitions) {
			t.Errorf("stored position of partition %d = %q, want %d", p, got, n/partitions)
		}
	}
	// Group offsets follow the store's positions (committed on the final revoke at the latest).
	offs := groupOffsets(t, c, "g")
	for p := int32(0); p < partitions; p++ {
		if offs[p] != n/partitions {
			t.Errorf("group offset of partition %d = %d, want %d", p, offs[p], n/partitions)
		}
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(src.m.lag.WithLabelValues("kafka:test", topic, "0")); got != 0 {
		t.Errorf("lag of partition 0 = %v after catching up", got)
	}
}

// A consumer that dies mid-stream (nothing flushed, no group offsets committed, not even for
// what the store holds) and a new one over the reopened store: no loss, no duplicate.
func TestCrashRestart(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := eventsDataset(t, "events")
	dir := t.TempDir()
	st := openStore(t, dir, d)
	produce(t, c, partitions, 0, n/2, nil)

	src := startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	src.skipGroupCommit.Store(true) // the store runs ahead of the group: restart must not trust the group
	waitRows(t, st, `SELECT count(*) FROM events`, n/8, 30*time.Second)
	src.abort()
	stored := count(t, st, `SELECT count(*) FROM events`)
	t.Logf("crashed with %d of the %d records produced so far stored", stored, n/2)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if offs := groupOffsets(t, c, "g"); len(offs) != 0 {
		t.Fatalf("group offsets committed before the crash: %v", offs)
	}

	produce(t, c, partitions, n/2, n, nil)
	st = openStore(t, dir, d)
	defer st.Close()
	src = startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 60*time.Second)
	// Give a duplicate the chance to show up before checking.
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	exactlyOnce(t, st, "events", n)
}

// Two members of one group share the partitions; one leaves mid-stream (revoke: flush, then
// commit), the other takes everything over.
func TestRebalance(t *testing.T) {
	const partitions, n = 6, 12000
	c := newCluster(t, partitions)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	reg := prometheus.NewRegistry()
	a := startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	b := startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)

	owned := func(s *Source) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.parts)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // produce while the group balances
		defer wg.Done()
		for i := 0; i < 40; i++ {
			produce(t, c, partitions, i*n/40, (i+1)*n/40, nil)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	// Both members own partitions (and have stored rows) before one leaves.
	deadline := time.Now().Add(30 * time.Second)
	for owned(a) == 0 || owned(b) == 0 || owned(a)+owned(b) != partitions {
		if time.Now().After(deadline) {
			t.Fatalf("group never balanced: a owns %d partitions, b %d", owned(a), owned(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("balanced: a owns %d partitions, b %d; %d rows stored", owned(a), owned(b), count(t, st, `SELECT count(*) FROM events`))
	shutdown(t, a)
	wg.Wait()
	waitRows(t, st, `SELECT count(*) FROM events`, n, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, b)
	exactlyOnce(t, st, "events", n)
	// Both sources count into the same series.
	if got := testutil.ToFloat64(b.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
}

// Poison records go to the dead-letter dataset with reason, payload and position; the good
// records around them are stored; routing by an event-type field splits one topic.
func TestDeadLetterAndRouting(t *testing.T) {
	const partitions = 2
	c := newCluster(t, partitions)
	clicks, views := eventsDataset(t, "clicks"), eventsDataset(t, "views")
	st := openStore(t, t.TempDir(), clicks, views)
	defer st.Close()
	const n = 200
	value := func(seq int) string {
		switch {
		case seq%10 == 3:
			return `{"time": "not a time", "kind": "click", "seq": ` + strconv.Itoa(seq) + `}`
		case seq%10 == 5:
			return `{"kind": "click", "seq": ` // truncated JSON
		case seq%10 == 7:
			return `{"time": 1700000000000, "kind": "purchase", "seq": ` + strconv.Itoa(seq) + `}`
		case seq%2 == 0:
			return strings.Replace(event(seq), `"click"`, `"view"`, 1)
		}
		return event(seq)
	}
	produce(t, c, partitions, 0, n, value)
	reg := prometheus.NewRegistry()
	cfg := sourceConfig(c, func(cfg *Config) {
		cfg.Topics = []Topic{{Topic: topic, Route: &FieldRoute{Field: "kind", Datasets: map[string]string{"click": "clicks", "view": "views"}}}}
	})
	src := startSource(t, cfg, st, []*dataset.Dataset{clicks, views}, reg)
	const bad = 3 * n / 10
	waitRows(t, st, `SELECT count(*) FROM olapgate_deadletter`, bad, 30*time.Second)
	waitRows(t, st, `SELECT (SELECT count(*) FROM clicks) + (SELECT count(*) FROM views)`, n-bad, 30*time.Second)
	shutdown(t, src)

	if got := count(t, st, `SELECT count(*) FROM views WHERE kind <> 'view'`); got != 0 {
		t.Errorf("%d non-view events in views", got)
	}
	if got, want := count(t, st, `SELECT count(*) FROM clicks`), int64(2*n/10); got != want { // odd seq but 3, 5, 7 mod 10
		t.Errorf("clicks = %d, want %d", got, want)
	}
	for _, q := range []struct {
		where string
		want  int64
	}{
		{`reason LIKE 'field "time": "not a time" is not an RFC 3339 time%' AND target = 'clicks'`, n / 10},
		{`reason LIKE 'field "kind": "purchase" routes to no dataset' AND target IS NULL`, n / 10},
		{`reason LIKE 'invalid JSON object' AND payload = '{"kind": "click", "seq": '`, n / 10},
		{`source = 'kafka:test' AND stream = 'events' AND payload_encoding = 'utf8' AND record_key IS NOT NULL`, bad},
		{`CAST(position AS BIGINT) * ` + strconv.Itoa(partitions) + ` + CAST(partition AS BIGINT) = CAST(record_key AS BIGINT)`, bad},
	} {
		if got := count(t, st, `SELECT count(*) FROM olapgate_deadletter WHERE `+q.where); got != q.want {
			t.Errorf("dead letters where %s: %d, want %d", q.where, got, q.want)
		}
	}
	if got := testutil.ToFloat64(src.m.deadLetters.WithLabelValues("kafka:test")); got != bad {
		t.Errorf("dead-letter counter = %v, want %d", got, bad)
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kafka:test", "_unrouted", "rejected")); got != 2*n/10 {
		t.Errorf("unrouted rejected counter = %v, want %d", got, 2*n/10)
	}
}

// A member whose partition was moved on by another member (it lost the partition without
// hearing of it: a zombie) has its commit refused, rewinds to the stored position and goes
// on from there: nothing the other member stored is stored twice.
func TestZombieCommitRefused(t *testing.T) {
	const n = 2000
	c := newCluster(t, 1)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	produce(t, c, 1, 0, n/2, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: n, MaxWait: time.Hour} // flush only when n records are held
	}), st, []*dataset.Dataset{d}, reg)
	pending := func() int {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.pipe.Len()
	}
	deadline := time.Now().Add(30 * time.Second)
	for pending() < n/2 {
		if time.Now().After(deadline) {
			t.Fatalf("the source read %d records, want %d", pending(), n/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// "Another member" stores offsets 0..k-1 of the partition and moves its position.
	const k = 300
	b := store.NewBatch(d, k)
	for i := 0; i < k; i++ {
		for ci, col := range d.Columns() {
			cb := &b.Cols[ci]
			switch col.Name {
			case "time":
				cb.Times = append(cb.Times, time.UnixMilli(1_700_000_000_000+int64(i)).UnixMicro())
			case "page":
				cb.Strings = append(cb.Strings, fmt.Sprintf("/p%d", i%7))
			case "kind":
				cb.Strings = append(cb.Strings, "click")
			case "seq":
				cb.Ints = append(cb.Ints, int64(i))
			}
		}
		b.N++
	}
	if _, err := st.WritePositioned(context.Background(), "kafka:test", []*store.Batch{b},
		[]store.Position{{Partition: topic + "/0", Next: strconv.Itoa(k)}}); err != nil {
		t.Fatal(err)
	}
	produce(t, c, 1, n/2, n, nil) // the source now holds n records: its flush is refused
	waitRows(t, st, `SELECT count(*) FROM events`, k, time.Second)
	deadline = time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(src.m.commits.WithLabelValues("kafka:test", "conflict")) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the zombie's commit was not refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for pending() < n-k { // rewound to k, read again up to n
		if time.Now().After(deadline) {
			t.Fatalf("after the rewind the source holds %d records, want %d", pending(), n-k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	shutdown(t, src) // the final flush goes from k
	exactlyOnce(t, st, "events", n)
}

func TestLifecycle(t *testing.T) {
	c := newCluster(t, 1)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	// Shutdown before Start, twice; Start after Shutdown is refused.
	src, err := New(sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, src)
	if err := src.Start(context.Background()); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
	// Start twice is refused; Shutdown stops.
	src = startSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	if err := src.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	shutdown(t, src)
	// Datasets on other backends are refused.
	p := eventsDataset(t, "events")
	p.Backend = dataset.BackendPinot
	if _, err := New(sourceConfig(c, nil), st, []*dataset.Dataset{p}, nil, nil); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Fatalf("pinot target: %v", err)
	}
}

// slowStore delays every positioned write so that batches queue up behind it (the committer
// merges them), and fails the writes whose numbers are in fail, after committing nothing.
type slowStore struct {
	*embedded.Store
	delay  time.Duration
	mu     sync.Mutex
	calls  int
	merged int // writes that carried more than one batch of the dataset
	fail   map[int]bool
}

func (s *slowStore) WritePositioned(ctx context.Context, source string, batches []*store.Batch, positions []store.Position) (store.WriteResult, error) {
	time.Sleep(s.delay)
	s.mu.Lock()
	s.calls++
	n, fail := s.calls, s.fail[s.calls]
	if len(batches) > 1 {
		s.merged++
	}
	s.mu.Unlock()
	if fail {
		return store.WriteResult{}, fmt.Errorf("injected failure of write %d", n)
	}
	return s.Store.WritePositioned(ctx, source, batches, positions)
}

// With commits slower than reading, batches are decoded while earlier ones commit and the
// ones waiting are committed together; a failed commit in the middle of that rewinds every
// partition to the store and reads again: each record is still stored exactly once.
func TestPipelinedCommits(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := eventsDataset(t, "events")
	st := &slowStore{Store: openStore(t, t.TempDir(), d), delay: 30 * time.Millisecond, fail: map[int]bool{3: true, 4: true}}
	defer st.Close()
	produce(t, c, partitions, 0, n, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 300, MaxWait: 20 * time.Millisecond}
	}), st, []*dataset.Dataset{d}, reg)
	waitRows(t, st.Store, `SELECT count(*) FROM events`, n, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	exactlyOnce(t, st.Store, "events", n)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.merged == 0 {
		t.Errorf("no commit merged queued batches (%d writes)", st.calls)
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kafka:test", "error")); got < 1 {
		t.Errorf("error commits counter = %v, want ≥ 1", got)
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
	t.Logf("%d writes, %d merged", st.calls, st.merged)
}
