package kinesis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/olapgate/olapgate/internal/chdouble"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/kinesalitetest"
	"github.com/olapgate/olapgate/store"
)

// startCHSource starts a source into the ClickHouse double, keeping its checkpoints in ps
// (nil: the config's lease table).
func startCHSource(t testing.TB, cfg Config, st *chdouble.Store, ps store.PositionedWriter, ds []*dataset.Dataset, reg prometheus.Registerer, hooks ...func(*Source)) *Source {
	t.Helper()
	st.Ensure(t, ds...)
	var opts []Option
	if ps != nil {
		opts = append(opts, WithPositionStore(ps))
	}
	src, err := New(cfg, st, ds, reg, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if src.ch == nil {
		t.Fatal("a source of ClickHouse datasets does not commit the ClickHouse way")
	}
	src.ch.withToken = st.WithToken
	return runSource(t, src, hooks...)
}

func TestClickHouseExactlyOnce(t *testing.T) {
	const shards, n = 4, 4000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	ps := openStore(t, t.TempDir())
	defer ps.Close()
	puts := produce(t, srv.Client(), "events", 0, n, chdouble.Poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(srv, "events", nil), st, ps, []*dataset.Dataset{d}, reg)
	if got := src.DeadLetterDataset().Backend; got != dataset.BackendClickHouse {
		t.Errorf("dead-letter dataset on %s, want clickhouse", got)
	}
	st.Wait(t, "events", n-chdouble.BadCount(n), 30*time.Second)
	shutdown(t, src)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	// Every range done: each shard checkpointed at its last record, no pending range left.
	pos, err := ps.Positions(context.Background(), "kinesis:test")
	if err != nil {
		t.Fatal(err)
	}
	for shard, seq := range lastSeqs(puts) {
		if pos[shard] != seq {
			t.Errorf("checkpoint of %s = %q, want the last sequence number %s", shard, pos[shard], seq)
		}
	}
	if got := testutil.ToFloat64(src.m.events.WithLabelValues("kinesis:test", "events", "accepted")); got != float64(n-chdouble.BadCount(n)) {
		t.Errorf("accepted counter = %v, want %d", got, n-chdouble.BadCount(n))
	}
	if got := testutil.ToFloat64(src.m.deadLetters.WithLabelValues("kinesis:test")); got != float64(chdouble.BadCount(n)) {
		t.Errorf("dead-letter counter = %v, want %d", got, chdouble.BadCount(n))
	}
}

// Inserts that land but whose answer is lost (the double stores, then fails): the source
// reads the pending ranges back and inserts them again with the same tokens; the double drops
// them.
func TestClickHouseInsertLandsButFails(t *testing.T) {
	const shards, n = 3, 6000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	st.SetAfterWrite(chdouble.LostAnswers(3, 4, 20))
	ps := openStore(t, t.TempDir())
	defer ps.Close()
	produce(t, srv.Client(), "events", 0, n, chdouble.Poisoned)
	reg := prometheus.NewRegistry()
	src := startCHSource(t, sourceConfig(srv, "events", func(c *Config) {
		c.Batch = BatchConfig{MaxEvents: 300, MaxWait: 20 * time.Millisecond}
		c.GetRecordsLimit = 200
	}), st, ps, []*dataset.Dataset{d}, reg)
	st.Wait(t, "events", n-chdouble.BadCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	if st.Dropped() == 0 {
		t.Error("no insert was dropped as a duplicate: the failed writes were not replayed with their tokens")
	}
	if got := testutil.ToFloat64(src.m.commits.WithLabelValues("kinesis:test", "error")); got < 1 {
		t.Errorf("error commits counter = %v, want ≥ 1", got)
	}
	t.Logf("%d writes, %d inserts dropped as duplicates", st.Writes(), st.Dropped())
}

// A consumer that dies between an insert and the checkpoint after it (the process is gone:
// nothing more happens), and a new one: the pending range is read again, inserted again with
// the same tokens and dropped; everything else once.
func TestClickHouseCrashBetweenInsertAndCheckpoint(t *testing.T) {
	const shards, n = 4, 8000
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", shards)
	cl := srv.Client()
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	ps := openStore(t, t.TempDir())
	defer ps.Close()
	produce(t, cl, "events", 0, n/2, chdouble.Poisoned)
	cfg := sourceConfig(srv, "events", func(c *Config) {
		c.Batch = BatchConfig{MaxEvents: 400, MaxWait: 20 * time.Millisecond}
		c.GetRecordsLimit = 150
	})
	crashed := make(chan struct{})
	src := startCHSource(t, cfg, st, ps, []*dataset.Dataset{d}, nil)
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
	pos, err := ps.Positions(context.Background(), "kinesis:test")
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for shard, p := range pos {
		if strings.HasPrefix(p, PendingPrefix) {
			pending++
			t.Logf("%s: %s", shard, p)
		}
	}
	if pending == 0 {
		t.Fatal("no pending range after a crash between insert and checkpoint")
	}
	t.Logf("crashed with %d rows stored, %d shards pending", stored, pending)

	produce(t, cl, "events", n/2, n, chdouble.Poisoned)
	src2 := startCHSource(t, cfg, st, ps, []*dataset.Dataset{d}, nil)
	st.Wait(t, "events", n-chdouble.BadCount(n), 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, src2)
	st.GoodOnce(t, "events", n, chdouble.IsBad)
	if st.Dropped() == 0 {
		t.Error("no insert was dropped as a duplicate: the pending range was not replayed with its tokens")
	}
	pos, err = ps.Positions(context.Background(), "kinesis:test")
	if err != nil {
		t.Fatal(err)
	}
	for shard, p := range pos {
		if strings.HasPrefix(p, PendingPrefix) {
			t.Errorf("%s still pending after the restart: %s", shard, p)
		}
	}
}

// A pending range is inserted again with exactly its bounds, though more records follow it in
// the shard: those go into the next range.
func TestClickHouseReplayBounds(t *testing.T) {
	const n = 100
	srv := kinesalitetest.Require(t)
	srv.CreateStream(t, "events", 1)
	d := chdouble.Dataset(t, "events")
	st := chdouble.New()
	ps := openStore(t, t.TempDir())
	defer ps.Close()
	puts := produce(t, srv.Client(), "events", 0, n, nil)
	shard := puts[0].shard
	// A previous consumer checkpointed seq 9, recorded 10..29 as pending and inserted it.
	if _, err := ps.WritePositioned(context.Background(), "kinesis:test", nil, []store.Position{
		{Partition: shard, Next: pendingPosition(puts[10].seqNo, puts[29].seqNo)}}); err != nil {
		t.Fatal(err)
	}
	st.Insert(t, d, "kinesis:test/events/"+shard+"/"+puts[10].seqNo+"-"+puts[29].seqNo+"/events", 10, 30)
	src := startCHSource(t, sourceConfig(srv, "events", nil), st, ps, []*dataset.Dataset{d}, nil)
	st.Wait(t, "events", n-10, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	shutdown(t, src)
	st.OnceFrom(t, "events", 10, n) // before the pending range: done already
	if want := st.Inserts(20); st.Dropped() != want {
		t.Errorf("%d inserts dropped, want the %d of the replayed range", st.Dropped(), want)
	}
}

func TestBackendValidation(t *testing.T) {
	emb, ch := eventsDataset(t, "clicks"), chdouble.Dataset(t, "views")
	cfg := validConfig()
	cfg.Dataset = ""
	cfg.Route = &FieldRoute{Field: "kind", Datasets: map[string]string{"click": "clicks", "view": "views"}}
	st := chdouble.New()
	ps := nopStore{}
	if _, err := New(cfg, st, []*dataset.Dataset{emb, ch}, nil, nil, WithPositionStore(ps)); err == nil || !strings.Contains(err.Error(), "one backend") {
		t.Fatalf("mixed backends: %v", err)
	}
	cfg.Route, cfg.Dataset = nil, "views"
	if _, err := New(cfg, struct{ Store }{st}, []*dataset.Dataset{ch}, nil, nil, WithPositionStore(ps)); err == nil || !strings.Contains(err.Error(), "takes writes") {
		t.Fatalf("a clickhouse source over a store without Write: %v", err)
	}
	if _, err := New(cfg, st, []*dataset.Dataset{ch}, nil, nil); !errors.Is(err, errNoCheckpoints) {
		t.Fatalf("a clickhouse source without checkpoints: %v", err)
	}
	cfg.Dataset = "clicks"
	if _, err := New(cfg, st, []*dataset.Dataset{emb}, nil, nil); err == nil || !strings.Contains(err.Error(), "commits positions") {
		t.Fatalf("embedded source over the ClickHouse double: %v", err)
	}
	cfg.Leases = &LeaseConfig{Table: "leases"}
	if _, err := New(cfg, ps, []*dataset.Dataset{emb}, nil, nil); err == nil || !strings.Contains(err.Error(), "leases") || !strings.Contains(err.Error(), "single-process") {
		t.Fatalf("leases into the embedded store: %v", err)
	}
	cfg.Dataset = "views"
	if _, err := New(cfg, st, []*dataset.Dataset{ch}, nil, nil); err != nil {
		t.Fatalf("leases into clickhouse: %v", err)
	}
}
