package kinesis

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/olapgate/olapgate/internal/chdouble"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/dynalitetest"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
	"github.com/olapgate/olapgate/store"
)

// leaseConfig is sourceConfig with a lease table on dyn: short leases, so take-overs happen
// within a test.
func leaseConfig(srv *kinesalitetest.Server, dyn *dynalitetest.Server, worker string, mut func(*Config)) Config {
	return sourceConfig(srv, "events", func(c *Config) {
		c.Leases = &LeaseConfig{Table: "test_leases", Endpoint: dyn.Endpoint, Duration: time.Second, RenewInterval: 200 * time.Millisecond, WorkerID: worker}
		if mut != nil {
			mut(c)
		}
	})
}

// leasesOf is the number of leases the source holds.
func leasesOf(s *Source) int {
	return len(s.leases.holdings())
}

func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leases reads the lease table.
func leases(t testing.TB, dyn *dynalitetest.Server) map[string]lease {
	t.Helper()
	tbl := &leaseTable{db: dyn.Client(), name: "test_leases"}
	ls, err := tbl.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lease{}
	for _, l := range ls {
		out[l.shard] = l
	}
	return out
}

// Two workers in one lease table share a stream's shards: each takes two of four, and every
// event is stored once; their checkpoints end at each shard's last record.
func TestLeasesShareShards(t *testing.T) {
	const shards, n = 4, 6000
	srv := kinesalitetest.Require(t)
	dyn := dynalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	cl := srv.Client()
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	a := startCHSource(t, leaseConfig(srv, dyn, "a", nil), st, nil, []*dataset.Dataset{d}, nil)
	b := startCHSource(t, leaseConfig(srv, dyn, "b", nil), st, nil, []*dataset.Dataset{d}, nil)
	puts := produce(t, cl, "events", 0, n/2, nil)
	waitFor(t, "two leases each", 15*time.Second, func() bool { return leasesOf(a) == 2 && leasesOf(b) == 2 })
	for k, m := range produce(t, cl, "events", n/2, n, nil) {
		puts[k] = m
	}
	st.Wait(t, "events", n, 30*time.Second)
	if leasesOf(a) != 2 || leasesOf(b) != 2 {
		t.Errorf("a holds %d leases, b %d; want 2 each", leasesOf(a), leasesOf(b))
	}
	waitFor(t, "the leases-held gauge", 5*time.Second, func() bool {
		return testutil.ToFloat64(a.m.leasesHeld.WithLabelValues("kinesis:test")) == 2
	})
	shutdown(t, a)
	shutdown(t, b)
	st.ExactlyOnce(t, "events", n)
	ls := leases(t, dyn)
	for shard, seq := range lastSeqs(puts) {
		if l := ls[shard]; l.checkpoint != seq || l.owner != "" {
			t.Errorf("lease of %s: checkpoint %q owner %q, want %s and released", shard, l.checkpoint, l.owner, seq)
		}
	}
}

// crashingWriter is the double whose n-th Write (from 1) lands and then kills the source: a
// crash between an insert and its checkpoint.
type crashingWriter struct {
	*chdouble.Store
	src     *Source
	writes  atomic.Int64
	at      atomic.Int64
	crashed chan struct{}
	once    sync.Once
}

func (c *crashingWriter) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	res, err := c.Store.Write(ctx, b)
	if err != nil || c.writes.Add(1) < c.at.Load() {
		return res, err
	}
	c.once.Do(func() {
		c.src.aborted.Store(true) // nothing after this insert happens: no checkpoint
		go func() { c.src.abort(); close(c.crashed) }()
	})
	return store.WriteResult{}, errors.New("injected: the process died")
}

// A worker killed between an insert and its checkpoint (its leases neither renewed nor
// released): the other takes its leases once they expire, inserts the pending ranges again
// with the same tokens (ClickHouse drops them) and goes on; every event once.
func TestLeasesTakeOverAfterCrash(t *testing.T) {
	const shards, n = 4, 8000
	srv := kinesalitetest.Require(t)
	dyn := dynalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	cl := srv.Client()
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	small := func(c *Config) {
		c.Batch = BatchConfig{MaxEvents: 300, MaxWait: 20 * time.Millisecond}
		c.GetRecordsLimit = 100
	}
	crash := &crashingWriter{Store: st, crashed: make(chan struct{})}
	crash.at.Store(1 << 40)
	a := startCHSource(t, leaseConfig(srv, dyn, "a", small), st, nil, []*dataset.Dataset{d}, nil, func(s *Source) {
		crash.src = s
		s.ch.st = crash
	})
	b := startCHSource(t, leaseConfig(srv, dyn, "b", small), st, nil, []*dataset.Dataset{d}, nil)
	waitFor(t, "two leases each", 15*time.Second, func() bool { return leasesOf(a) == 2 && leasesOf(b) == 2 })
	// a crashes at its next insert after this.
	crash.at.Store(crash.writes.Load() + 3)
	produce(t, cl, "events", 0, n/2, nil)
	select {
	case <-crash.crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("a never crashed")
	}
	pending := 0
	for shard, l := range leases(t, dyn) {
		if strings.HasPrefix(l.checkpoint, PendingPrefix) && l.owner == "a" {
			pending++
			t.Logf("%s: %s (owner %s)", shard, l.checkpoint, l.owner)
		}
	}
	if pending == 0 {
		t.Fatal("a left no pending range: the test proves nothing")
	}
	start := time.Now()
	produce(t, cl, "events", n/2, n, nil)
	waitFor(t, "b holds every lease", 15*time.Second, func() bool { return leasesOf(b) == shards })
	t.Logf("b took a's leases %s after the crash (lease duration 1s)", time.Since(start).Round(time.Millisecond))
	st.Wait(t, "events", n, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, b)
	st.ExactlyOnce(t, "events", n)
	if st.Dropped() == 0 {
		t.Error("no insert was dropped as a duplicate: a's pending ranges were not replayed with their tokens")
	}
}

// A worker whose lease was taken cannot write the shard's checkpoint, nor renew the lease,
// even after taking the lease back (a new holding).
func TestLeaseTakenRefusesCheckpoint(t *testing.T) {
	dyn := dynalitetest.Require(t)
	ctx := context.Background()
	tbl := &leaseTable{db: dyn.Client(), name: "test_leases"}
	if err := tbl.ensure(ctx); err != nil {
		t.Fatal(err)
	}
	const shard = "shardId-000000000000"
	if err := tbl.create(ctx, shard, nil); err != nil {
		t.Fatal(err)
	}
	worker := func(me string) *leaser {
		return &leaser{s: &Source{log: slog.New(slog.DiscardHandler)}, t: tbl, me: me, dur: time.Second,
			held: map[string]*holding{}, info: map[string]shardInfo{}, changed: make(chan struct{}, 1)}
	}
	a, b := worker("a"), worker("b")
	take := func(w *leaser) int64 {
		t.Helper()
		seen, ok, err := tbl.get(ctx, shard)
		if err != nil || !ok {
			t.Fatalf("read lease: %v %v", ok, err)
		}
		if !w.takeLease(ctx, &seen, map[string]*lease{}) {
			t.Fatalf("%s could not take the lease", w.me)
		}
		return w.holdings()[shard].epoch
	}
	checkpoint := func() string {
		t.Helper()
		l, _, err := tbl.get(ctx, shard)
		if err != nil {
			t.Fatal(err)
		}
		return l.checkpoint
	}
	epochA := take(a)
	if err := a.save(ctx, []store.Position{{Partition: shard, Next: "100"}}); err != nil {
		t.Fatalf("holder's checkpoint: %v", err)
	}
	take(b)
	err := a.save(ctx, []store.Position{{Partition: shard, Prev: "100", Next: "200"}})
	if !errors.Is(err, store.ErrPositionConflict) {
		t.Fatalf("checkpoint of a worker whose lease was taken: %v, want a position conflict", err)
	}
	if got := checkpoint(); got != "100" {
		t.Fatalf("checkpoint moved to %q by a worker without the lease", got)
	}
	if len(a.holdings()) != 0 {
		t.Error("the refused worker still believes it holds the lease")
	}
	if err := tbl.renew(ctx, shard, "a", epochA); !errors.Is(err, errLeaseLost) {
		t.Errorf("renewal by a worker whose lease was taken: %v", err)
	}
	// a takes the lease back: a write of its earlier holding is still refused.
	take(a)
	if err := tbl.checkpoint(ctx, shard, "a", epochA, "300"); !errors.Is(err, errLeaseLost) {
		t.Errorf("checkpoint of an earlier holding: %v", err)
	}
	if err := b.save(ctx, []store.Position{{Partition: shard, Prev: "100", Next: "400"}}); !errors.Is(err, store.ErrPositionConflict) {
		t.Errorf("checkpoint of b after a took the lease back: %v", err)
	}
	if got := checkpoint(); got != "100" {
		t.Fatalf("checkpoint = %q, want 100", got)
	}
}

// Resharding under leases: a shard split while two workers read; its children are leased
// and read only after the parent is checkpointed closed; every event once.
func TestLeasesReshard(t *testing.T) {
	const n = 6000
	srv := kinesalitetest.Require(t)
	dyn := dynalitetest.Require(t)
	srv.CreateStream(t, "events", 2)
	cl := srv.Client()
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	var (
		mu  sync.Mutex
		log []string // "insert <shard>" and "closed <shard>", in order
	)
	hook := func(s *Source) {
		s.ch.withToken = func(ctx context.Context, token string) context.Context {
			mu.Lock()
			log = append(log, "insert "+strings.Split(token, "/")[2])
			mu.Unlock()
			return st.WithToken(ctx, token)
		}
		s.afterCommit = func(ps []store.Position) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range ps {
				if strings.HasPrefix(p.Next, ClosedPrefix) {
					log = append(log, "closed "+p.Partition)
				}
			}
		}
	}
	cfg := func(worker string) Config {
		return leaseConfig(srv, dyn, worker, func(c *Config) { c.GetRecordsLimit = 200 })
	}
	a := startCHSource(t, cfg("a"), st, nil, []*dataset.Dataset{d}, nil, hook)
	b := startCHSource(t, cfg("b"), st, nil, []*dataset.Dataset{d}, nil, hook)
	produce(t, cl, "events", 0, n/3, nil)
	waitFor(t, "one lease each", 15*time.Second, func() bool { return leasesOf(a) == 1 && leasesOf(b) == 1 })
	st.Wait(t, "events", n/6, 30*time.Second)
	const parent = "shardId-000000000000"
	if _, err := cl.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: aws.String("events"), ShardToSplit: aws.String(parent),
		NewStartingHashKey: aws.String("85070591730234615865843651857942052864")}); err != nil {
		t.Fatalf("split shard: %v", err)
	}
	srv.WaitActive(t, "events")
	produce(t, cl, "events", n/3, n, nil)
	st.Wait(t, "events", n, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, a)
	shutdown(t, b)
	st.ExactlyOnce(t, "events", n)
	ls := leases(t, dyn)
	if len(ls) != 4 {
		t.Fatalf("%d leases after a split of one of two shards, want 4", len(ls))
	}
	var children []string
	for id, l := range ls {
		if len(l.parents) == 1 && l.parents[0] == parent {
			children = append(children, id)
		}
	}
	if len(children) != 2 || !ls[parent].closed() {
		t.Fatalf("children of %s: %v; parent checkpoint %q", parent, children, ls[parent].checkpoint)
	}
	mu.Lock()
	defer mu.Unlock()
	closedAt := -1
	for i, e := range log {
		if e == "closed "+parent {
			closedAt = i
		}
	}
	if closedAt < 0 {
		t.Fatal("the parent was never committed closed")
	}
	for _, c := range children {
		for i, e := range log {
			if e == "insert "+c {
				if i < closedAt {
					t.Fatalf("child %s inserted (log entry %d) before its parent was closed (entry %d)", c, i, closedAt)
				}
				break
			}
		}
	}
	t.Logf("%d log entries; parent closed at %d", len(log), closedAt)
}
