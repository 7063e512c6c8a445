package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// chDouble is an in-memory ClickHouse as store/clickhouse.Store.Write drives it: a batch is
// sent as INSERTs of at most insertRows rows, each with insert_deduplication_token
// "<token>/<n>" (the caller's token, else a hash of the block); a table drops an INSERT whose
// token is among the last window tokens it stored, whole (as a MergeTree does per block with
// non_replicated_deduplication_window), and stores it otherwise. A Write that fails after
// some INSERTs leaves them stored, as a real server does.
type chDouble struct {
	insertRows, window int

	mu      sync.Mutex
	tables  map[string]*chTable
	writes  int
	dropped int // INSERTs dropped as duplicates
	// afterWrite runs after the n-th Write stored its blocks; an error fails the Write (the
	// blocks stay stored: the client did not hear the answer).
	afterWrite func(n int) error
}

type chTable struct {
	d      *dataset.Dataset
	rows   map[string]int // row identity → times stored
	nrows  int
	tokens []string        // the last window tokens, oldest first
	seen   map[string]bool // tokens as a set
}

type chTokenKey struct{}

func newCHDouble() *chDouble {
	return &chDouble{insertRows: 7, window: 10000, tables: map[string]*chTable{}}
}

// withToken is what clickhouse.WithInsertToken is to the real store.
func (c *chDouble) withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, chTokenKey{}, token)
}

func (c *chDouble) EnsureDataset(_ context.Context, d *dataset.Dataset) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables[d.Name] == nil {
		c.tables[d.Name] = &chTable{d: d, rows: map[string]int{}, seen: map[string]bool{}}
	}
	return nil
}

// rowKey identifies a row: its seq for the events tables, its source position for dead
// letters.
func rowKey(b *store.Batch, i int) string {
	var parts []string
	for ci, col := range b.Dataset.Columns() {
		switch col.Name {
		case "seq", "stream", "partition", "position":
			parts = append(parts, fmt.Sprint(b.Cols[ci].Value(i)))
		}
	}
	return strings.Join(parts, "/")
}

func (c *chDouble) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	token, _ := ctx.Value(chTokenKey{}).(string)
	c.mu.Lock()
	t := c.tables[b.Dataset.Name]
	if t == nil {
		c.mu.Unlock()
		return store.WriteResult{}, fmt.Errorf("code 60: table %s does not exist", b.Dataset.Name)
	}
	for part, lo := 0, 0; lo < b.N; part, lo = part+1, lo+c.insertRows {
		hi := min(lo+c.insertRows, b.N)
		tok := token + "/" + strconv.Itoa(part)
		if token == "" {
			h := sha256.New()
			for i := lo; i < hi; i++ {
				for ci := range b.Cols {
					fmt.Fprint(h, b.Cols[ci].Value(i), "\x00")
				}
			}
			tok = hex.EncodeToString(h.Sum(nil))
		}
		if t.seen[tok] {
			c.dropped++
			continue
		}
		for i := lo; i < hi; i++ {
			t.rows[rowKey(b, i)]++
			t.nrows++
		}
		t.seen[tok] = true
		t.tokens = append(t.tokens, tok)
		if len(t.tokens) > c.window {
			delete(t.seen, t.tokens[0])
			t.tokens = t.tokens[1:]
		}
	}
	c.writes++
	n, hook := c.writes, c.afterWrite
	c.mu.Unlock()
	if hook != nil {
		if err := hook(n); err != nil {
			return store.WriteResult{}, err
		}
	}
	return store.WriteResult{Rows: b.N}, nil
}

func (c *chDouble) Query(context.Context, store.Statement) (*store.Result, error) {
	return nil, errors.New("the double answers no queries")
}
func (c *chDouble) Dialect() string { return "clickhouse" }
func (c *chDouble) Close() error    { return nil }

var _ store.Store = (*chDouble)(nil)

func (c *chDouble) rowCount(table string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tables[table]; t != nil {
		return t.nrows
	}
	return 0
}

// exactlyOnce checks that seq 0..n-1 are each stored once in table.
func (c *chDouble) exactlyOnce(t testing.TB, table string, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tb := c.tables[table]
	if tb == nil {
		t.Fatalf("no table %s", table)
	}
	var missing, dup []int
	for i := 0; i < n; i++ {
		switch got := tb.rows[strconv.Itoa(i)]; {
		case got == 0:
			missing = append(missing, i)
		case got > 1:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || tb.nrows != n {
		t.Fatalf("%s: %d rows; %d seq missing (%v...), %d stored twice or more (%v...)", table, tb.nrows, len(missing), head(missing), len(dup), head(dup))
	}
}

func head(s []int) []int { return s[:min(len(s), 5)] }

func waitCH(t testing.TB, c *chDouble, table string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.rowCount(table) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d rows after %s, want %d", table, c.rowCount(table), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func chDataset(t testing.TB, name string) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{Name: name, TimeColumn: "time", Backend: dataset.BackendClickHouse,
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "kind", Type: dataset.String}},
		Metrics:    []dataset.Field{{Name: "seq", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func startCHSource(t testing.TB, cfg Config, st *chDouble, ds []*dataset.Dataset, reg prometheus.Registerer) *Source {
	t.Helper()
	for _, d := range ds {
		if err := st.EnsureDataset(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	src, err := New(cfg, st, ds, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src.ch == nil {
		t.Fatal("a source of ClickHouse datasets does not commit the ClickHouse way")
	}
	src.ch.withToken = st.withToken
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

// poisoned makes every 97th event a bad one (dead-lettered).
func poisoned(seq int) string {
	if seq%97 == 13 {
		return `{"time": "yesterday", "seq": ` + strconv.Itoa(seq) + `}`
	}
	return event(seq)
}

func badCount(n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		if i%97 == 13 {
			bad++
		}
	}
	return bad
}

// goodOnce checks that the good events of 0..n-1 are each stored once, and the bad ones
// each dead-lettered once.
func (c *chDouble) goodOnce(t testing.TB, table string, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tb, dl := c.tables[table], c.tables["olapgate_deadletter"]
	bad := 0
	for i := 0; i < n; i++ {
		want := 1
		if i%97 == 13 {
			want, bad = 0, bad+1
		}
		if got := tb.rows[strconv.Itoa(i)]; got != want {
			t.Fatalf("seq %d stored %d times, want %d", i, got, want)
		}
	}
	if tb.nrows != n-bad {
		t.Fatalf("%s: %d rows, want %d", table, tb.nrows, n-bad)
	}
	if dl == nil {
		t.Fatal("no dead-letter table")
	}
	for k, v := range dl.rows {
		if v != 1 {
			t.Fatalf("dead letter %s stored %d times", k, v)
		}
	}
	if dl.nrows != bad {
		t.Fatalf("%d dead letters, want %d", dl.nrows, bad)
	}
}

func TestClickHouseExactlyOnce(t *testing.T) {
	const partitions, n = 4, 5000
	c := newCluster(t, partitions)
	d := chDataset(t, "events")
	st := newCHDouble()
	produce(t, c, partitions, 0, n, poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, reg)
	if got := src.DeadLetterDataset().Backend; got != dataset.BackendClickHouse {
		t.Errorf("dead-letter dataset on %s, want clickhouse", got)
	}
	waitCH(t, st, "events", n-badCount(n), 30*time.Second)
	shutdown(t, src)
	st.goodOnce(t, "events", n)
	// Every range done: offsets at the end, no pending range left.
	for p, cm := range groupCommits(t, c, "g") {
		if cm.offset != n/partitions || cm.metadata != "" {
			t.Errorf("partition %d: committed %d %q, want %d without metadata", p, cm.offset, cm.metadata, n/partitions)
		}
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != float64(n-badCount(n)) {
		t.Errorf("accepted counter = %v, want %d", got, n-badCount(n))
	}
	if got := testutil.ToFloat64(src.m.deadLetters.WithLabelValues("kafka:test")); got != float64(badCount(n)) {
		t.Errorf("dead-letter counter = %v, want %d", got, badCount(n))
	}
}

// Inserts that land but whose answer is lost (the double stores, then fails): the source
// reads the pending ranges back from the group and inserts them again with the same tokens;
// the double drops them.
func TestClickHouseInsertLandsButFails(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := chDataset(t, "events")
	st := newCHDouble()
	st.afterWrite = func(n int) error {
		if n == 3 || n == 4 || n == 20 {
			return fmt.Errorf("injected: connection reset after write %d", n)
		}
		return nil
	}
	produce(t, c, partitions, 0, n, poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 300, MaxWait: 20 * time.Millisecond}
	}), st, []*dataset.Dataset{d}, reg)
	waitCH(t, st, "events", n-badCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	st.goodOnce(t, "events", n)
	if st.dropped == 0 {
		t.Error("no insert was dropped as a duplicate: the failed writes were not replayed with their tokens")
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kafka:test", "error")); got < 1 {
		t.Errorf("error commits counter = %v, want ≥ 1", got)
	}
	t.Logf("%d writes, %d inserts dropped as duplicates", st.writes, st.dropped)
}

// A consumer that dies between an insert and the offset commit after it (the process is
// gone: nothing more happens), and a new one: the pending range is read again, inserted
// again with the same tokens and dropped; everything else once.
func TestClickHouseCrashBetweenInsertAndCommit(t *testing.T) {
	const partitions, n = 4, 20000
	c := newCluster(t, partitions)
	d := chDataset(t, "events")
	st := newCHDouble()
	produce(t, c, partitions, 0, n/2, poisoned)

	src := startCHSource(t, sourceConfig(c, func(cfg *Config) {
		cfg.Batch = BatchConfig{MaxEvents: 500, MaxWait: 20 * time.Millisecond}
	}), st, []*dataset.Dataset{d}, nil)
	crashed := make(chan struct{})
	var once sync.Once
	crash := func(w int) error {
		if w < 12 {
			return nil
		}
		once.Do(func() {
			src.aborted.Store(true) // nothing after this insert happens
			go func() { src.abort(); close(crashed) }()
		})
		return errors.New("injected: the process died")
	}
	st.mu.Lock()
	st.afterWrite = crash
	st.mu.Unlock()
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the source never crashed")
	}
	st.mu.Lock()
	st.afterWrite = nil
	stored := st.tables["events"].nrows
	st.mu.Unlock()
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

	produce(t, c, partitions, n/2, n, poisoned)
	src2 := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	waitCH(t, st, "events", n-badCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src2)
	st.goodOnce(t, "events", n)
	if st.dropped == 0 {
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
	d := chDataset(t, "events")
	st := newCHDouble()
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
	t.Logf("balanced: a owns %d partitions, b %d; %d rows stored", owned(a), owned(b), st.rowCount("events"))
	shutdown(t, a)
	wg.Wait()
	waitCH(t, st, "events", n, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, b)
	st.exactlyOnce(t, "events", n)
	if got := testutil.ToFloat64(b.m.events.WithLabelValues("kafka:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
}

// A pending range is inserted again with exactly its bounds: records after it, read in the
// same fetch, go into the next range.
func TestClickHouseReplayBounds(t *testing.T) {
	const n = 100
	c := newCluster(t, 1)
	d := chDataset(t, "events")
	st := newCHDouble()
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
	if err := st.EnsureDataset(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	pre := store.NewBatch(d, 20)
	for i := 10; i < 30; i++ {
		pre.Cols[0].Times = append(pre.Cols[0].Times, int64(i))
		pre.Cols[1].Strings = append(pre.Cols[1].Strings, "/p")
		pre.Cols[2].Strings = append(pre.Cols[2].Strings, "click")
		pre.Cols[3].Ints = append(pre.Cols[3].Ints, int64(i))
		pre.N++
	}
	if _, err := st.Write(st.withToken(context.Background(), "kafka:test/"+topic+"/0/10-29/events"), pre); err != nil {
		t.Fatal(err)
	}
	src := startCHSource(t, sourceConfig(c, nil), st, []*dataset.Dataset{d}, nil)
	waitCH(t, st, "events", n-10, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	shutdown(t, src)
	st.mu.Lock()
	rows, dropped := st.tables["events"].rows, st.dropped
	st.mu.Unlock()
	for i := 0; i < n; i++ {
		want := 1
		if i < 10 {
			want = 0 // before the committed offset: not read
		}
		if rows[strconv.Itoa(i)] != want {
			t.Fatalf("seq %d stored %d times, want %d", i, rows[strconv.Itoa(i)], want)
		}
	}
	if want := (20 + st.insertRows - 1) / st.insertRows; dropped != want {
		t.Errorf("%d inserts dropped, want the %d of the replayed range", dropped, want)
	}
}

func TestBackendValidation(t *testing.T) {
	c := newCluster(t, 1)
	emb, ch := eventsDataset(t, "clicks"), chDataset(t, "views")
	cfg := sourceConfig(c, func(cfg *Config) {
		cfg.Topics = []Topic{{Topic: topic, Route: &FieldRoute{Field: "kind", Datasets: map[string]string{"click": "clicks", "view": "views"}}}}
	})
	st := newCHDouble()
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
