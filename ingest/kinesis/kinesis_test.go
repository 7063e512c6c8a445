package kinesis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// testLogger logs to the test's log at debug level when -v is given, warnings otherwise.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

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

func event(seq int) string {
	return fmt.Sprintf(`{"time": %d, "page": "/p%d", "kind": "click", "seq": %d}`, 1_700_000_000_000+seq, seq%7, seq)
}

// put is where kinesalite put a record.
type put struct {
	shard, seqNo string
}

// produce puts events seq from..to-1 into the stream, partition key seq (so spread over the
// shards by hash), and says where each went.
func produce(t testing.TB, cl *kinesis.Client, stream string, from, to int, value func(seq int) string) map[int]put {
	t.Helper()
	if value == nil {
		value = event
	}
	out := map[int]put{}
	for lo := from; lo < to; lo += 500 { // PutRecords takes up to 500 records
		hi := min(lo+500, to)
		var entries []types.PutRecordsRequestEntry
		for i := lo; i < hi; i++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(value(i)), PartitionKey: aws.String(strconv.Itoa(i))})
		}
		res, err := cl.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Errorf("put records %d..%d: %v", lo, hi, err)
			return out
		}
		if aws.ToInt32(res.FailedRecordCount) != 0 {
			t.Errorf("put records %d..%d: %d failed", lo, hi, aws.ToInt32(res.FailedRecordCount))
			return out
		}
		for i, r := range res.Records {
			out[lo+i] = put{shard: aws.ToString(r.ShardId), seqNo: aws.ToString(r.SequenceNumber)}
		}
	}
	return out
}

func sourceConfig(srv *kinesalitetest.Server, stream string, mut func(*Config)) Config {
	cfg := Config{
		Name: "test", Stream: stream, Region: kinesalitetest.Region, Endpoint: srv.Endpoint,
		Credentials:  CredentialsConfig{Source: CredentialsStatic, AccessKey: kinesalitetest.AccessKey, SecretKey: kinesalitetest.SecretKey},
		Dataset:      "events",
		Batch:        BatchConfig{MaxEvents: 500, MaxWait: 50 * time.Millisecond},
		PollInterval: 20 * time.Millisecond, DiscoveryInterval: 200 * time.Millisecond,
	}
	if mut != nil {
		mut(&cfg)
	}
	return cfg
}

func startSource(t testing.TB, cfg Config, st store.PositionedWriter, ds []*dataset.Dataset, reg prometheus.Registerer, hooks ...func(*Source)) *Source {
	t.Helper()
	src, err := New(cfg, st, ds, reg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return runSource(t, src, hooks...)
}

// runSource applies hooks to a new source and starts it. A test that fails early stops its
// source (without a flush: the store may be closed).
func runSource(t testing.TB, src *Source, hooks ...func(*Source)) *Source {
	t.Helper()
	for _, h := range hooks {
		h(src)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.abort)
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

// exactlyOnce checks that seq from..to-1 are each stored once, and nothing else.
func exactlyOnce(t testing.TB, st *embedded.Store, table string, from, to int) {
	t.Helper()
	rows := count(t, st, `SELECT count(*) FROM `+table)
	distinct := count(t, st, `SELECT count(DISTINCT seq) FROM `+table)
	lo := count(t, st, `SELECT min(seq) FROM `+table)
	hi := count(t, st, `SELECT max(seq) FROM `+table)
	if n := int64(to - from); rows != n || distinct != n || lo != int64(from) || hi != int64(to-1) {
		t.Fatalf("%s: %d rows, %d distinct seq in [%d, %d]; want seq %d..%d once each", table, rows, distinct, lo, hi, from, to-1)
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

// lastSeqs is the last sequence number put into each shard.
func lastSeqs(puts ...map[int]put) map[string]string {
	out := map[string]string{}
	for _, m := range puts {
		for _, p := range m {
			if cur, ok := out[p.shard]; !ok || seqAfter(p.seqNo, cur) {
				out[p.shard] = p.seqNo
			}
		}
	}
	return out
}

func TestConsumeExactlyOnce(t *testing.T) {
	const shards, n = 4, 4000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	puts := produce(t, srv.Client(), "events", 0, n, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(srv, "events", nil), st, []*dataset.Dataset{d}, reg)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	shutdown(t, src)
	exactlyOnce(t, st, "events", 0, n)

	pos, err := st.Positions(context.Background(), "kinesis:test")
	if err != nil {
		t.Fatal(err)
	}
	want := lastSeqs(puts)
	if len(want) != shards {
		t.Fatalf("records went to %d shards, want %d", len(want), shards)
	}
	for shard, seq := range want {
		if pos[shard] != seq {
			t.Errorf("stored position of %s = %q, want the last sequence number %s", shard, pos[shard], seq)
		}
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kinesis:test", "events", "accepted")); got != n {
		t.Errorf("accepted counter = %v, want %d", got, n)
	}
	if got := testutil.CollectAndCount(src.m.millisBehind); got != shards {
		t.Errorf("millis-behind gauge has %d series, want one per shard (%d)", got, shards)
	}
}

// A consumer that dies mid-stream (nothing flushed) and a new one over the reopened store
// resume from the stored sequence numbers: no loss, no duplicate.
func TestCrashRestart(t *testing.T) {
	const shards, n = 3, 12000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	cl := srv.Client()
	d := eventsDataset(t, "events")
	dir := t.TempDir()
	st := openStore(t, dir, d)
	produce(t, cl, "events", 0, n/2, nil)
	cfg := sourceConfig(srv, "events", func(c *Config) { c.GetRecordsLimit = 200 }) // slow enough to crash mid-stream
	src := startSource(t, cfg, st, []*dataset.Dataset{d}, nil)
	waitRows(t, st, `SELECT count(*) FROM events`, n/8, 30*time.Second)
	src.abort()
	stored := count(t, st, `SELECT count(*) FROM events`)
	t.Logf("crashed with %d of the %d records put so far stored", stored, n/2)
	if stored >= n/2 {
		t.Fatalf("everything was stored before the crash: the test proves nothing")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	produce(t, cl, "events", n/2, n, nil)
	st = openStore(t, dir, d)
	defer st.Close()
	src = startSource(t, sourceConfig(srv, "events", nil), st, []*dataset.Dataset{d}, nil)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 60*time.Second)
	time.Sleep(200 * time.Millisecond) // give a duplicate the chance to show up
	shutdown(t, src)
	exactlyOnce(t, st, "events", 0, n)
}

// midKey is the middle of a shard's hash key range, where a split divides it.
func midKey(t testing.TB, sh types.Shard) string {
	t.Helper()
	lo, ok1 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
	hi, ok2 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
	if !ok1 || !ok2 {
		t.Fatalf("shard %s: hash key range %+v", aws.ToString(sh.ShardId), sh.HashKeyRange)
	}
	return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
}

// Splitting a shard and merging two while events are put: nothing lost or duplicated, and no
// commit moves a child before its parents are stored as read to their end.
func TestReshard(t *testing.T) {
	const n = 6000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", 2)
	cl := srv.Client()
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()

	var mu sync.Mutex
	var commits [][]store.Position
	src := startSource(t, sourceConfig(srv, "events", nil), st, []*dataset.Dataset{d}, nil, func(s *Source) {
		s.afterCommit = func(ps []store.Position) {
			mu.Lock()
			defer mu.Unlock()
			commits = append(commits, slices.Clone(ps))
		}
	})
	ctx := context.Background()
	list := func() []types.Shard {
		out, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("events")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Shards
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // put while the stream is resharded
		defer wg.Done()
		for i := range 30 {
			produce(t, cl, "events", i*n/30, (i+1)*n/30, nil)
			time.Sleep(30 * time.Millisecond)
		}
	}()
	waitRows(t, st, `SELECT count(*) FROM events`, n/6, 30*time.Second)
	// Split shard 0 into shards 2 and 3.
	before := list()
	if _, err := cl.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("events"), ShardToSplit: before[0].ShardId,
		NewStartingHashKey: aws.String(midKey(t, before[0]))}); err != nil {
		t.Fatalf("split shard: %v", err)
	}
	srv.WaitActive(t, "events")
	waitRows(t, st, `SELECT count(*) FROM events`, n/2, 30*time.Second)
	// Merge shard 3 (upper half of the old shard 0) with shard 1, its neighbour: shard 4.
	if _, err := cl.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("events"),
		ShardToMerge: aws.String("shardId-000000000003"), AdjacentShardToMerge: aws.String("shardId-000000000001")}); err != nil {
		t.Fatalf("merge shards: %v", err)
	}
	srv.WaitActive(t, "events")
	wg.Wait()
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // give a duplicate the chance to show up
	shutdown(t, src)
	exactlyOnce(t, st, "events", 0, n)

	after := list()
	if len(after) != 5 {
		t.Fatalf("%d shards after a split and a merge, want 5", len(after))
	}
	parents := map[string][]string{}
	for _, sh := range after {
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if aws.ToString(p) != "" {
				parents[aws.ToString(sh.ShardId)] = append(parents[aws.ToString(sh.ShardId)], aws.ToString(p))
			}
		}
	}
	// Every parent is stored closed before any commit moves one of its children.
	closedAt := map[string]int{}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range commits {
		for _, p := range c {
			for _, parent := range parents[p.Partition] {
				if at, ok := closedAt[parent]; !ok || at >= i {
					t.Errorf("commit %d moves child %s to %s before parent %s was stored closed", i, p.Partition, p.Next, parent)
				}
			}
			if strings.HasPrefix(p.Next, ClosedPrefix) {
				closedAt[p.Partition] = i
			}
		}
	}
	for _, closed := range []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000003"} {
		if _, ok := closedAt[closed]; !ok {
			t.Errorf("shard %s was never stored closed", closed)
		}
	}
	pos, err := st.Positions(ctx, "kinesis:test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored positions: %v", pos)
	for _, open := range []string{"shardId-000000000002", "shardId-000000000004"} {
		if p := pos[open]; p == "" || strings.HasPrefix(p, ClosedPrefix) {
			t.Errorf("open shard %s stored at %q", open, p)
		}
	}
}

// Poison records go to the dead-letter dataset with reason, payload and position; the good
// records around them are stored; routing by an event-type field splits one stream.
func TestDeadLetterAndRouting(t *testing.T) {
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "mixed", 2)
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
		case seq%10 == 9:
			return "\xff\xfe not utf-8"
		case seq%2 == 0:
			return strings.Replace(event(seq), `"click"`, `"view"`, 1)
		}
		return event(seq)
	}
	puts := produce(t, srv.Client(), "mixed", 0, n, value)
	reg := prometheus.NewRegistry()
	cfg := sourceConfig(srv, "mixed", func(c *Config) {
		c.Dataset = ""
		c.Route = &FieldRoute{Field: "kind", Datasets: map[string]string{"click": "clicks", "view": "views"}}
	})
	src := startSource(t, cfg, st, []*dataset.Dataset{clicks, views}, reg)
	const bad = 4 * n / 10
	waitRows(t, st, `SELECT count(*) FROM olapgate_deadletter`, bad, 30*time.Second)
	waitRows(t, st, `SELECT (SELECT count(*) FROM clicks) + (SELECT count(*) FROM views)`, n-bad, 30*time.Second)
	shutdown(t, src)

	if got := count(t, st, `SELECT count(*) FROM views WHERE kind <> 'view'`); got != 0 {
		t.Errorf("%d non-view events in views", got)
	}
	if got, want := count(t, st, `SELECT count(*) FROM clicks`), int64(n/10); got != want { // seq 1 mod 10
		t.Errorf("clicks = %d, want %d", got, want)
	}
	if got, want := count(t, st, `SELECT count(*) FROM views`), int64(n/2); got != want {
		t.Errorf("views = %d, want %d", got, want)
	}
	for _, q := range []struct {
		where string
		want  int64
	}{
		{`reason LIKE 'field "time": "not a time" is not an RFC 3339 time%' AND target = 'clicks'`, n / 10},
		{`reason LIKE 'field "kind": "purchase" routes to no dataset' AND target IS NULL`, n / 10},
		{`reason LIKE 'invalid JSON object' AND payload = '{"kind": "click", "seq": '`, n / 10},
		{`payload_encoding = 'base64' AND payload_bytes = 12`, n / 10},
		{`source = 'kinesis:test' AND stream = 'mixed' AND partition LIKE 'shardId-%' AND record_key IS NOT NULL`, bad},
	} {
		if got := count(t, st, `SELECT count(*) FROM olapgate_deadletter WHERE `+q.where); got != q.want {
			t.Errorf("dead letters where %s: %d, want %d", q.where, got, q.want)
		}
	}
	// Each dead letter names the shard and sequence number it was put at.
	for seq, p := range puts {
		if seq%10 < 3 || seq%2 == 0 {
			continue
		}
		q := fmt.Sprintf(`SELECT count(*) FROM olapgate_deadletter WHERE record_key = '%d' AND partition = '%s' AND position = '%s'`, seq, p.shard, p.seqNo)
		if got := count(t, st, q); got != 1 {
			t.Errorf("dead letter of seq %d at %s/%s: %d rows, want 1", seq, p.shard, p.seqNo, got)
		}
	}
	if got := testutil.ToFloat64(src.m.deadLetters.WithLabelValues("kinesis:test")); got != bad {
		t.Errorf("dead-letter counter = %v, want %d", got, bad)
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kinesis:test", "_unrouted", "rejected")); got != 3*n/10 {
		t.Errorf("unrouted rejected counter = %v, want %d", got, 3*n/10)
	}
}

// LATEST skips what was put before the source first read a shard; AT_TIMESTAMP starts at a
// record's arrival time.
func TestStartPositions(t *testing.T) {
	srv := kinesalitetest.Require(t)
	cl := srv.Client()
	d := eventsDataset(t, "events")

	t.Run("LATEST", func(t *testing.T) {
		srv.CreateStream(t, "latest", 2)
		st := openStore(t, t.TempDir(), d)
		defer st.Close()
		produce(t, cl, "latest", 0, 100, nil)
		src := startSource(t, sourceConfig(srv, "latest", func(c *Config) { c.StartPosition = StartLatest }), st, []*dataset.Dataset{d}, nil)
		// Each reader's first answer sets its shard's gauge: then its LATEST iterator exists.
		deadline := time.Now().Add(10 * time.Second)
		for testutil.CollectAndCount(src.m.millisBehind) < 2 {
			if time.Now().After(deadline) {
				t.Fatal("the readers did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
		produce(t, cl, "latest", 100, 200, nil)
		waitRows(t, st, `SELECT count(*) FROM events`, 100, 10*time.Second)
		time.Sleep(100 * time.Millisecond)
		shutdown(t, src)
		exactlyOnce(t, st, "events", 100, 200)
	})

	t.Run("AT_TIMESTAMP", func(t *testing.T) {
		srv.CreateStream(t, "attime", 2)
		st := openStore(t, t.TempDir(), d)
		defer st.Close()
		produce(t, cl, "attime", 0, 100, nil)
		time.Sleep(1100 * time.Millisecond) // kinesalite keeps arrival times in seconds
		at := time.Now()
		time.Sleep(100 * time.Millisecond)
		produce(t, cl, "attime", 100, 200, nil)
		src := startSource(t, sourceConfig(srv, "attime", func(c *Config) {
			c.StartPosition, c.StartTimestamp = StartAtTimestamp, at
		}), st, []*dataset.Dataset{d}, nil)
		waitRows(t, st, `SELECT count(*) FROM events`, 100, 10*time.Second)
		time.Sleep(100 * time.Millisecond)
		shutdown(t, src)
		exactlyOnce(t, st, "events", 100, 200)
	})
}

func TestLifecycle(t *testing.T) {
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", 1)
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	cfg := sourceConfig(srv, "events", nil)
	// Shutdown before Start, twice; Start after Shutdown is refused.
	src, err := New(cfg, st, []*dataset.Dataset{d}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, src)
	if err := src.Start(context.Background()); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
	// Start twice is refused; Shutdown stops.
	src = startSource(t, cfg, st, []*dataset.Dataset{d}, nil)
	if err := src.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	shutdown(t, src)
	// A stream that does not exist: the source keeps retrying, and stops when told.
	src = startSource(t, sourceConfig(srv, "missing", nil), st, []*dataset.Dataset{d}, nil)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	// Datasets on other backends are refused.
	p := eventsDataset(t, "events")
	p.Backend = dataset.BackendPinot
	if _, err := New(cfg, st, []*dataset.Dataset{p}, nil, nil); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Fatalf("pinot target: %v", err)
	}
}

// flakyStore fails some commits: before writing (the store is down), or after writing (the
// outcome was lost, as when a deadline passes during the commit).
type flakyStore struct {
	*embedded.Store
	mu           sync.Mutex
	writes       int
	failedBefore int
	failedAfter  int
}

func (f *flakyStore) WritePositioned(ctx context.Context, source string, batches []*store.Batch, positions []store.Position) (store.WriteResult, error) {
	f.mu.Lock()
	f.writes++
	n := f.writes
	f.mu.Unlock()
	if n%3 == 2 {
		f.mu.Lock()
		f.failedBefore++
		f.mu.Unlock()
		return store.WriteResult{}, fmt.Errorf("write %d: store unavailable", n)
	}
	res, err := f.Store.WritePositioned(ctx, source, batches, positions)
	if err == nil && n%5 == 4 {
		f.mu.Lock()
		f.failedAfter++
		f.mu.Unlock()
		return store.WriteResult{}, fmt.Errorf("write %d: %w (committed, but the answer was lost)", n, context.DeadlineExceeded)
	}
	return res, err
}

// Commits that fail, before or after the write, are retried from the re-read stored
// positions: nothing lost, nothing twice.
func TestStoreFailures(t *testing.T) {
	const shards, n = 3, 3000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	d := eventsDataset(t, "events")
	emb := openStore(t, t.TempDir(), d)
	defer emb.Close()
	st := &flakyStore{Store: emb}
	produce(t, srv.Client(), "events", 0, n, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(srv, "events", func(c *Config) {
		c.GetRecordsLimit, c.Batch.MaxEvents = 100, 200
	}), st, []*dataset.Dataset{d}, reg)
	waitRows(t, emb, `SELECT count(*) FROM events`, n, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	exactlyOnce(t, emb, "events", 0, n)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.failedBefore == 0 || st.failedAfter == 0 {
		t.Fatalf("%d writes, %d failed before and %d after committing: the test proves nothing", st.writes, st.failedBefore, st.failedAfter)
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kinesis:test", "error")); got != float64(st.failedBefore+st.failedAfter) {
		t.Errorf("error commits counted %v, want %d", got, st.failedBefore+st.failedAfter)
	}
}

// eventBatch is events seq from..to-1 as a store batch.
func eventBatch(d *dataset.Dataset, from, to int) *store.Batch {
	b := store.NewBatch(d, to-from)
	for i := from; i < to; i++ {
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
	return b
}

// A source whose shard was moved on by another consumer (a second instance: there are no
// leases yet) has its commit refused, rewinds to the stored position and goes on from there:
// nothing the other one stored is stored twice.
func TestPositionConflict(t *testing.T) {
	const n, k = 2000, 300
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", 1)
	cl := srv.Client()
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	puts := produce(t, cl, "events", 0, n/2, nil)
	reg := prometheus.NewRegistry()
	var held, rewinds atomic.Int64
	src := startSource(t, sourceConfig(srv, "events", func(c *Config) {
		c.Batch = BatchConfig{MaxEvents: n, MaxWait: time.Hour} // commit only when n records are held
	}), st, []*dataset.Dataset{d}, reg, func(s *Source) {
		s.afterTake = func(n int) { held.Store(int64(n)) }
		s.afterRewind = func() { held.Store(0); rewinds.Add(1) }
	})
	deadline := time.Now().Add(30 * time.Second)
	for held.Load() < n/2 {
		if time.Now().After(deadline) {
			t.Fatalf("the source holds %d records, want %d", held.Load(), n/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// "Another consumer" stores seq 0..k-1 and moves the shard's position.
	if _, err := st.WritePositioned(context.Background(), "kinesis:test", []*store.Batch{eventBatch(d, 0, k)},
		[]store.Position{{Partition: puts[k-1].shard, Next: puts[k-1].seqNo}}); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "events", n/2, n, nil) // the source now holds n records: its commit is refused
	for rewinds.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the source did not rewind")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kinesis:test", "conflict")); got != 1 {
		t.Fatalf("%v commits refused, want 1", got)
	}
	for held.Load() < n-k { // rewound to k, read again up to n
		if time.Now().After(deadline) {
			t.Fatalf("after the rewind the source holds %d records, want %d", held.Load(), n-k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	shutdown(t, src) // the final commit goes from k
	exactlyOnce(t, st, "events", 0, n)
}

// Records aggregated by the Kinesis Producer Library are split into their user records; a bad
// user record is dead-lettered alone, with its own partition key and a sub-position.
func TestAggregatedRecords(t *testing.T) {
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "kpl", 2)
	cl := srv.Client()
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	const aggregates, per = 20, 50
	var entries []types.PutRecordsRequestEntry
	for a := range aggregates {
		var recs []kplRecord
		for i := range per {
			seq := a*per + i
			v := event(seq)
			if seq == 7*per+3 {
				v = `{"time": "yesterday", "seq": 353}`
			}
			recs = append(recs, kplRecord{key: "user-" + strconv.Itoa(seq), data: v})
		}
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(strconv.Itoa(a)), Data: aggregate(recs...)})
	}
	res, err := cl.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("kpl"), Records: entries})
	if err != nil || aws.ToInt32(res.FailedRecordCount) != 0 {
		t.Fatalf("put aggregated records: %v", err)
	}
	src := startSource(t, sourceConfig(srv, "kpl", nil), st, []*dataset.Dataset{d}, nil)
	const n = aggregates * per
	waitRows(t, st, `SELECT count(*) FROM events`, n-1, 10*time.Second)
	waitRows(t, st, `SELECT count(*) FROM olapgate_deadletter`, 1, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	shutdown(t, src)
	if rows, distinct := count(t, st, `SELECT count(*) FROM events`), count(t, st, `SELECT count(DISTINCT seq) FROM events WHERE seq <> 353`); rows != n-1 || distinct != n-1 {
		t.Fatalf("%d rows, %d distinct seq; want %d once each", rows, distinct, n-1)
	}
	bad := res.Records[7]
	q := fmt.Sprintf(`SELECT count(*) FROM olapgate_deadletter WHERE record_key = 'user-353' AND partition = '%s' AND position = '%s/3' AND reason LIKE 'field "time"%%'`,
		aws.ToString(bad.ShardId), aws.ToString(bad.SequenceNumber))
	if got := count(t, st, q); got != 1 {
		t.Errorf("%s: %d, want 1", q, got)
	}
}

// A crash while a resharded stream is read, and a restart: closed parents are not read again,
// children resume from their stored positions, and nothing is lost or stored twice.
func TestReshardRestart(t *testing.T) {
	const n = 4000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", 1)
	cl := srv.Client()
	d := eventsDataset(t, "events")
	dir := t.TempDir()
	st := openStore(t, dir, d)
	ctx := context.Background()
	produce(t, cl, "events", 0, n/4, nil)
	if _, err := cl.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("events"), ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatalf("split shard: %v", err)
	}
	srv.WaitActive(t, "events")
	produce(t, cl, "events", n/4, n/2, nil) // into the children
	cfg := sourceConfig(srv, "events", func(c *Config) { c.GetRecordsLimit = 100 })
	var closed atomic.Bool
	src := startSource(t, cfg, st, []*dataset.Dataset{d}, nil, func(s *Source) {
		s.afterCommit = func(ps []store.Position) {
			for _, p := range ps {
				if strings.HasPrefix(p.Next, ClosedPrefix) {
					closed.Store(true)
				}
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !closed.Load() || count(t, st, `SELECT count(*) FROM events`) < n/4+n/16 {
		if time.Now().After(deadline) {
			t.Fatal("the parent was not stored closed, or its children not read")
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.abort()
	stored := count(t, st, `SELECT count(*) FROM events`)
	t.Logf("crashed with %d of the %d records put so far stored", stored, n/2)
	if stored >= n/2 {
		t.Fatal("everything was stored before the crash: the test proves nothing")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "events", n/2, n, nil)
	st = openStore(t, dir, d)
	defer st.Close()
	var reread atomic.Bool
	src = startSource(t, cfg, st, []*dataset.Dataset{d}, nil, func(s *Source) {
		s.afterCommit = func(ps []store.Position) {
			for _, p := range ps {
				if p.Partition == "shardId-000000000000" {
					reread.Store(true)
				}
			}
		}
	})
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	exactlyOnce(t, st, "events", 0, n)
	if reread.Load() {
		t.Error("the closed parent was read again after the restart")
	}
}

// throttlingProxy stands between the source and kinesalite and answers some calls as Kinesis
// does when it is overloaded: every third GetRecords is refused for throughput, every seventh
// with an expired iterator, and every other ListShards and GetShardIterator for rate limits.
type throttlingProxy struct {
	mu      sync.Mutex
	calls   map[string]int
	refused map[string]int
	rnd     *rand.Rand
	tr      *http.Transport
}

func (p *throttlingProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = p.tr
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.")
		p.mu.Lock()
		p.calls[op]++
		n := p.calls[op]
		// Each kind of refusal happens early for sure, then at random: refusals in a fixed
		// rhythm over the calls of two shard readers can lock into step with one reader and
		// starve it (backoffs of seconds), which tests the rhythm, not the source.
		code, x := "", p.rnd.Float64()
		switch {
		case op == "GetRecords" && (n == 2 || (n > 4 && x < 0.25)):
			code = "ProvisionedThroughputExceededException"
		case op == "GetRecords" && (n == 4 || (n > 4 && x < 0.35)):
			code = "ExpiredIteratorException"
		case (op == "ListShards" || op == "GetShardIterator") && (n == 1 || x < 0.3):
			code = "LimitExceededException"
		}
		if code != "" {
			p.refused[code]++
		}
		p.mu.Unlock()
		if code == "" {
			rp.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":"refused by the test proxy"}`, code)
	})
}

// Throttled calls are retried after a backoff and counted; an expired iterator is replaced;
// nothing is lost or stored twice.
func TestThrottling(t *testing.T) {
	const shards, n = 2, 2000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	proxy := &throttlingProxy{calls: map[string]int{}, refused: map[string]int{}, rnd: rand.New(rand.NewPCG(1, 2)), tr: http.DefaultTransport.(*http.Transport).Clone()}
	ps := httptest.NewServer(proxy.handler(srv.Endpoint))
	defer proxy.tr.CloseIdleConnections()
	defer ps.Close()
	d := eventsDataset(t, "events")
	st := openStore(t, t.TempDir(), d)
	defer st.Close()
	produce(t, srv.Client(), "events", 0, n, nil)
	reg := prometheus.NewRegistry()
	src := startSource(t, sourceConfig(srv, "events", func(c *Config) {
		c.Endpoint, c.GetRecordsLimit = ps.URL, 100
	}), st, []*dataset.Dataset{d}, reg)
	waitRows(t, st, `SELECT count(*) FROM events`, n, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	shutdown(t, src)
	exactlyOnce(t, st, "events", 0, n)
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	t.Logf("calls %v, refused %v", proxy.calls, proxy.refused)
	for _, code := range []string{"ProvisionedThroughputExceededException", "ExpiredIteratorException", "LimitExceededException"} {
		if proxy.refused[code] == 0 {
			t.Errorf("no call was refused with %s: the test proves nothing", code)
		}
	}
	var throttled float64
	for _, op := range []string{"GetRecords", "GetShardIterator", "ListShards"} {
		throttled += testutil.ToFloat64(src.m.throttles.WithLabelValues("kinesis:test", op))
	}
	if want := proxy.refused["ProvisionedThroughputExceededException"] + proxy.refused["LimitExceededException"]; throttled != float64(want) {
		t.Errorf("throttled counter = %v, want %d", throttled, want)
	}
}
