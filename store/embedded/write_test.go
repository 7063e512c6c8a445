package embedded

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func TestWriteConcurrentGroupCommit(t *testing.T) {
	const writers, batches, rows = 16, 50, 20
	s := openStore(t, Config{Dir: t.TempDir()})
	d := dataset.Sample()
	ensure(t, s, d)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				seq := int64((w*batches + i) * rows)
				res, err := s.Write(context.Background(), genBatch(d, rows, seq))
				if err != nil {
					errs <- err
					return
				}
				if res.Rows != rows {
					errs <- errors.New("WriteResult.Rows is not the batch size")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := int64(writers * batches * rows)
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != want {
		t.Fatalf("rows = %d, want %d", n, want)
	}
	if n := countRows(t, s, `SELECT count(DISTINCT id) FROM pageviews`); n != want {
		t.Fatalf("distinct ids = %d, want %d", n, want)
	}
	st := s.Stats()
	t.Logf("%d batches in %d commits, last commit %s", writers*batches, st.Commits, st.LastCommit)
	if st.Commits > writers*batches/3 {
		t.Fatalf("%d commits for %d batches from %d concurrent writers: group commit is not grouping", st.Commits, writers*batches, writers)
	}
	if st.RowsCommitted != want || st.RowsDeduplicated != 0 || st.FailedCommits != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestMaxCommitRows(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxCommitRows: 100})
	d := dataset.Sample()
	ensure(t, s, d)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				// 60-row batches: no two fit in one 100-row commit; the 250-row one goes alone.
				n := 60
				if w == 0 && i == 0 {
					n = 250
				}
				if _, err := s.Write(context.Background(), genBatch(d, n, int64(w*100000+i*1000))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Commits != 80 {
		t.Fatalf("commits = %d, want 80 (one per batch: none fits beside another)", st.Commits)
	}
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 79*60+250 {
		t.Fatalf("rows = %d", n)
	}
}

// withIDs overwrites the event-id and time columns of b (string ids; "" means null).
func withIDs(t *testing.T, d *dataset.Dataset, b *store.Batch, ids []string, times []time.Time) *store.Batch {
	t.Helper()
	ic, tc := colIndex(t, d, d.EventID), colIndex(t, d, d.TimeColumn)
	for i := range ids {
		if ids[i] == "" {
			if b.Cols[ic].Null == nil {
				b.Cols[ic].Null = make([]bool, b.N)
			}
			b.Cols[ic].Null[i] = true
		}
		b.Cols[ic].Strings[i] = ids[i]
		b.Cols[tc].Times[i] = times[i].UnixMicro()
	}
	return b
}

// TestDedup runs twice: with recent event times, which the in-memory key filter covers (DuckDB
// checks only its hits), and with times from 2001, which it does not (DuckDB checks all).
func TestDedup(t *testing.T) {
	for _, tc := range []struct {
		name string
		base time.Time
	}{
		{"recent", time.Now().UTC().Truncate(time.Hour)},
		{"backfill", time.Date(2001, 2, 3, 4, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) { testDedup(t, tc.base) })
	}
}

func testDedup(t *testing.T, baseTime time.Time) {
	ctx := context.Background()
	d := dataset.Sample()
	genBatch := func(d *dataset.Dataset, n int, seq int64) *store.Batch { return genBatchAt(d, n, seq, baseTime) }
	at := func(offsets ...time.Duration) []time.Time {
		ts := make([]time.Time, len(offsets))
		for i, o := range offsets {
			ts[i] = baseTime.Add(o)
		}
		return ts
	}
	write := func(t *testing.T, s *Store, ids []string, times []time.Time) {
		t.Helper()
		b := withIDs(t, d, genBatch(d, len(ids), 0), ids, times)
		res, err := s.Write(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != len(ids) {
			t.Fatalf("WriteResult.Rows = %d, want %d (duplicates count as accepted)", res.Rows, len(ids))
		}
	}
	stored := func(t *testing.T, s *Store) int64 {
		t.Helper()
		return countRows(t, s, `SELECT count(*) FROM pageviews`)
	}

	t.Run("within a batch", func(t *testing.T) {
		s := openStore(t, Config{})
		ensure(t, s, d)
		write(t, s, []string{"a", "b", "a", "c", "b", "a"}, at(0, 0, time.Second, 0, time.Minute, time.Hour))
		if n := stored(t, s); n != 3 {
			t.Fatalf("stored = %d, want 3", n)
		}
		// The first occurrence is the one kept.
		if n := countRows(t, s, `SELECT count(*) FROM pageviews WHERE id = 'a' AND time = ?`, baseTime); n != 1 {
			t.Fatal("the first 'a' was not the one kept")
		}
		if st := s.Stats(); st.RowsDeduplicated != 3 || st.RowsCommitted != 3 {
			t.Fatalf("stats = %+v, want 3 committed, 3 deduplicated", st)
		}
	})

	t.Run("across batches", func(t *testing.T) {
		s := openStore(t, Config{})
		ensure(t, s, d)
		write(t, s, []string{"a", "b"}, at(0, 0))
		write(t, s, []string{"b", "c"}, at(time.Hour, 0))
		write(t, s, []string{"a", "b", "c", "d"}, at(-time.Hour, 0, 0, 0))
		if n := stored(t, s); n != 4 {
			t.Fatalf("stored = %d, want 4", n)
		}
		// Recent rows reach DuckDB's check only when the filter holds their key: the
		// repeated b, then a, b, c. Backfilled ones always do, after the first commit.
		want := int64(4)
		if time.Since(baseTime) > 48*time.Hour {
			want = 6
		}
		if got := s.stats.checked.Load(); got != want {
			t.Fatalf("rows checked by DuckDB = %d, want %d", got, want)
		}
	})

	t.Run("across reopen", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(ctx, Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ensure(t, s, d)
		write(t, s, []string{"a", "b"}, at(0, 0))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, Config{Dir: dir})
		ensure(t, s, d)
		write(t, s, []string{"a", "b", "c"}, at(0, time.Minute, 0))
		if n := stored(t, s); n != 3 {
			t.Fatalf("stored = %d, want 3", n)
		}
	})

	t.Run("outside the window stored again", func(t *testing.T) {
		s := openStore(t, Config{DedupWindow: time.Hour})
		ensure(t, s, d)
		write(t, s, []string{"a"}, at(0))
		write(t, s, []string{"a"}, at(2*time.Hour))            // outside: stored
		write(t, s, []string{"a"}, at(time.Hour))              // within an hour of both: duplicate
		write(t, s, []string{"a"}, at(-time.Hour-time.Second)) // just outside: stored
		write(t, s, []string{"a"}, at(-time.Hour))             // exactly at the edge: duplicate
		// In one commit: 5h and 7h are both stored (2h apart), 5h30m is a duplicate.
		write(t, s, []string{"a", "a", "a"}, at(5*time.Hour, 7*time.Hour, 5*time.Hour+30*time.Minute))
		if n := stored(t, s); n != 5 {
			t.Fatalf("stored = %d, want 5", n)
		}
	})

	t.Run("null ids are never deduplicated", func(t *testing.T) {
		s := openStore(t, Config{})
		ensure(t, s, d)
		write(t, s, []string{"", "", "a"}, at(0, 0, 0))
		write(t, s, []string{"", "a"}, at(0, 0))
		if n := stored(t, s); n != 4 {
			t.Fatalf("stored = %d, want 4", n)
		}
		if n := countRows(t, s, `SELECT count(*) FROM pageviews WHERE id IS NULL`); n != 3 {
			t.Fatalf("null-id rows = %d, want 3", n)
		}
	})

	t.Run("int ids", func(t *testing.T) {
		di := mustValidate(t, &dataset.Dataset{Name: "orders", TimeColumn: "time", EventID: "order_id",
			Dimensions: []dataset.Field{{Name: "order_id", Type: dataset.Int}, {Name: "sku", Type: dataset.String}}})
		s := openStore(t, Config{})
		ensure(t, s, di)
		for _, seq := range []int64{0, 5, 0} { // ids 0-9, then 5-14, then 0-9 again
			if _, err := s.Write(ctx, genBatch(di, 10, seq)); err != nil {
				t.Fatal(err)
			}
		}
		if n := countRows(t, s, `SELECT count(*) FROM orders`); n != 15 {
			t.Fatalf("stored = %d, want 15", n)
		}
	})

	t.Run("concurrent writers of the same events", func(t *testing.T) {
		s := openStore(t, Config{Dir: t.TempDir()})
		ensure(t, s, d)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					if _, err := s.Write(ctx, genBatch(d, 100, int64(i*50))); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if n := stored(t, s); n != 300 {
			t.Fatalf("stored = %d, want 300 distinct events", n)
		}
		st := s.Stats()
		if st.RowsCommitted+st.RowsDeduplicated != 8*5*100 {
			t.Fatalf("stats = %+v: committed + deduplicated should be every row written", st)
		}
	})

	t.Run("eventId declared later covers rows already stored", func(t *testing.T) {
		dir := t.TempDir()
		noID := mustValidate(t, &dataset.Dataset{Name: "pageviews", TimeColumn: "time",
			Dimensions: append([]dataset.Field{{Name: "id", Type: dataset.String}}, d.Dimensions...), Metrics: d.Metrics,
			TenantColumn: "tenant"})
		withID := mustValidate(t, &dataset.Dataset{Name: "pageviews", TimeColumn: "time", EventID: "id",
			Dimensions: noID.Dimensions, Metrics: d.Metrics, TenantColumn: "tenant"})
		s := openStore(t, Config{Dir: dir})
		ensure(t, s, noID)
		if _, err := s.Write(ctx, genBatch(noID, 10, 0)); err != nil {
			t.Fatal(err)
		}
		ensure(t, s, withID)
		if _, err := s.Write(ctx, genBatch(withID, 20, 0)); err != nil {
			t.Fatal(err)
		}
		if n := stored(t, s); n != 20 {
			t.Fatalf("stored = %d, want 20", n)
		}
		// Dropping the eventId and declaring it again rebuilds the id table from the rows,
		// including those written while it was not declared.
		ensure(t, s, noID)
		if _, err := s.Write(ctx, genBatch(noID, 10, 20)); err != nil {
			t.Fatal(err)
		}
		ensure(t, s, withID)
		if _, err := s.Write(ctx, genBatch(withID, 40, 0)); err != nil {
			t.Fatal(err)
		}
		if n := stored(t, s); n != 40 {
			t.Fatalf("stored = %d, want 40", n)
		}
	})
}

func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{})
	d := dataset.Sample()
	ensure(t, s, d)
	other := mustValidate(t, &dataset.Dataset{Name: "other", TimeColumn: "time"})
	short := genBatch(d, 3, 0)
	short.Cols[1].Strings = short.Cols[1].Strings[:2]
	badNull := genBatch(d, 3, 0)
	badNull.Cols[2].Null = []bool{true}
	wrongType := genBatch(d, 3, 0)
	wrongType.Cols[1].Type = dataset.Int
	for _, tc := range []struct {
		name string
		b    *store.Batch
		want string
	}{
		{"nil batch", nil, "no dataset"},
		{"dataset not ensured", genBatch(other, 1, 0), "not ensured"},
		{"short column", short, "2 values for 3 rows"},
		{"null flags", badNull, "1 null flags for 3 rows"},
		{"column type", wrongType, "batch has type int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Write(ctx, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("empty batch", func(t *testing.T) {
		if res, err := s.Write(ctx, genBatch(d, 0, 0)); err != nil || res.Rows != 0 {
			t.Fatalf("Write(empty) = %v, %v", res, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Write(cctx, genBatch(d, 1, 0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write = %v, want context.Canceled", err)
		}
	})
}

// A caller that gives up must get its context's error promptly and must be able to reuse its
// batch at once: the race detector checks that the committer never reads it afterwards.
func TestWriteCallerGivesUp(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir()})
	d := dataset.Sample()
	ensure(t, s, d)
	var wg sync.WaitGroup
	var gaveUp, ok sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := genBatch(d, 200, 0)
			for i := 0; i < 30; i++ {
				seq := int64((w*30 + i) * 200)
				fresh := genBatch(d, 200, seq)
				for c := range b.Cols {
					b.Cols[c] = fresh.Cols[c]
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%6)*10*time.Millisecond)
				_, err := s.Write(ctx, b)
				cancel()
				switch {
				case err == nil:
					ok.Store(seq, true)
				case errors.Is(err, context.DeadlineExceeded):
					gaveUp.Store(seq, true)
				default:
					t.Error(err)
					return
				}
				// Scribble over the batch the moment Write returns.
				for j := range b.Cols[colIndex(t, d, "page")].Strings {
					b.Cols[colIndex(t, d, "page")].Strings[j] = "scribbled"
				}
			}
		}()
	}
	wg.Wait()
	// Every acknowledged batch is stored whole; a given-up one is stored whole or not at all.
	n := countRows(t, s, `SELECT count(*) FROM pageviews WHERE page = 'scribbled'`)
	if n != 0 {
		t.Fatalf("%d rows were read from a batch after its Write returned", n)
	}
	var acked, abandoned int
	ok.Range(func(k, _ any) bool {
		acked++
		seq := k.(int64)
		if c := countRows(t, s, `SELECT count(*) FROM pageviews WHERE time >= ? AND time < ?`,
			baseTime.Add(time.Duration(seq)*time.Millisecond), baseTime.Add(time.Duration(seq+200)*time.Millisecond)); c != 200 {
			t.Errorf("acknowledged batch %d: %d rows stored, want 200", seq, c)
		}
		return true
	})
	gaveUp.Range(func(k, _ any) bool {
		abandoned++
		seq := k.(int64)
		if c := countRows(t, s, `SELECT count(*) FROM pageviews WHERE time >= ? AND time < ?`,
			baseTime.Add(time.Duration(seq)*time.Millisecond), baseTime.Add(time.Duration(seq+200)*time.Millisecond)); c != 0 && c != 200 {
			t.Errorf("given-up batch %d: %d rows stored, want all or none", seq, c)
		}
		return true
	})
	t.Logf("%d acknowledged, %d given up", acked, abandoned)
}

// A commit that fails rolls back fully (staging included), and a bad batch fails alone even
// when it shared the commit with good ones.
func TestCommitFailureIsolated(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{Dir: t.TempDir()})
	good := dataset.Sample()
	bad := mustValidate(t, &dataset.Dataset{Name: "doomed", TimeColumn: "time", EventID: "id"})
	ensure(t, s, good)
	ensure(t, s, bad)
	// Pull the table out from under the store: every insert into it fails from now on.
	if _, err := s.db.ExecContext(ctx, `DROP TABLE doomed`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var badErrs, goodErrs sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				seq := int64((w*10 + i) * 10)
				if w%2 == 0 {
					if _, err := s.Write(ctx, genBatch(bad, 10, seq)); err == nil {
						badErrs.Store(seq, "no error")
					}
					continue
				}
				if _, err := s.Write(ctx, genBatch(good, 10, seq)); err != nil {
					goodErrs.Store(seq, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	goodErrs.Range(func(k, v any) bool { t.Errorf("good batch %v failed: %v", k, v); return true })
	badErrs.Range(func(k, v any) bool { t.Errorf("bad batch %v: %v", k, v); return true })
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 400 {
		t.Fatalf("good rows = %d, want 400", n)
	}
	// Recreate the table: nothing from the failed commits may surface (staging was rolled back).
	ensure(t, s, bad)
	if _, err := s.Write(ctx, genBatch(bad, 10, 1_000_000)); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM doomed`); n != 10 {
		t.Fatalf("rows in the recreated table = %d, want 10 (failed commits leaked through staging)", n)
	}
	if st := s.Stats(); st.FailedCommits == 0 {
		t.Fatalf("stats = %+v: failed commits were not counted", st)
	}
}

func TestShutdown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d := dataset.Sample()
	ensure(t, s, d)

	// Writes in flight when Shutdown starts are either committed and acknowledged, or refused
	// with ErrClosed; none is lost after an acknowledgement.
	var wg sync.WaitGroup
	var acked sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				seq := int64((w*1000 + i) * 10)
				_, err := s.Write(ctx, genBatch(d, 10, seq))
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				acked.Store(seq, true)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Shutdown: %v", err)
	}
	if _, err := s.Write(ctx, genBatch(d, 1, 0)); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Query(ctx, store.Statement{SQL: "SELECT 1", Output: []store.ResultColumn{{Type: store.TypeInt64}}}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Query after Close = %v, want ErrClosed", err)
	}
	if err := s.EnsureDataset(ctx, d); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("EnsureDataset after Close = %v, want ErrClosed", err)
	}
	if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
		t.Fatalf("goroutines left after Shutdown:\n%s", leaks)
	}

	s2 := openStore(t, Config{Dir: dir}) // the directory was released
	var n int
	acked.Range(func(_, _ any) bool { n++; return true })
	if got := countRows(t, s2, `SELECT count(*) FROM pageviews`); got != int64(n*10) {
		t.Fatalf("rows after reopen = %d, want %d acknowledged", got, n*10)
	}
	t.Logf("%d batches acknowledged before shutdown", n)
}

// A Shutdown out of time interrupts the commit in progress: callers get errors, never a false
// acknowledgement, and the store still closes completely.
func TestShutdownDeadline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d := dataset.Sample()
	ensure(t, s, d)
	var wg sync.WaitGroup
	var acked sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				seq := int64((w*1000 + i) * 1000)
				if _, err := s.Write(ctx, genBatch(d, 1000, seq)); err != nil {
					return // ErrClosed or an interrupted commit
				}
				acked.Store(seq, true)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Shutdown(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown(expired) = %v, want context.Canceled", err)
	}
	wg.Wait()
	if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
		t.Fatalf("goroutines left after Shutdown:\n%s", leaks)
	}
	s2 := openStore(t, Config{Dir: dir})
	var n int
	acked.Range(func(k, _ any) bool {
		n++
		seq := k.(int64)
		if c := countRows(t, s2, `SELECT count(*) FROM pageviews WHERE time >= ? AND time < ?`,
			baseTime.Add(time.Duration(seq)*time.Millisecond), baseTime.Add(time.Duration(seq+1000)*time.Millisecond)); c != 1000 {
			t.Errorf("acknowledged batch %d: %d rows after reopen, want 1000", seq, c)
		}
		return true
	})
	t.Logf("%d batches acknowledged", n)
}

// TestAppendRowsSplit commits, as one group, batches large enough for appendRows to fill two
// Appenders, with duplicates dropped on both sides of the split: every kept row is stored once,
// in batch order.
func TestAppendRowsSplit(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir()})
	d := dataset.Sample()
	ensure(t, s, d)
	const n = 3000 // 3 batches: the split falls in the middle one, at row 1500
	if 3*n < parallelAppendRows {
		t.Fatalf("%d rows do not reach parallelAppendRows", 3*n)
	}
	ic := colIndex(t, d, d.EventID)
	var group []*request
	var want []string
	for bi := 0; bi < 3; bi++ {
		b := genBatch(d, n, int64(bi*n))
		if bi == 1 {
			// Rows 1490-1510 but 1500, the first row of the second Appender, repeat ids of
			// the first batch.
			for i := 1490; i <= 1510; i++ {
				if i != 1500 {
					b.Cols[ic].Strings[i] = group[0].parts[0].b.Cols[ic].Strings[i]
				}
			}
		}
		for i := 0; i < n; i++ {
			if bi != 1 || i < 1490 || i > 1510 || i == 1500 {
				want = append(want, b.Cols[ic].Strings[i])
			}
		}
		group = append(group, &request{kind: kindWrite, parts: []reqPart{{b: b, ds: s.datasets[d.Name]}}, done: make(chan error, 1)})
	}
	// The committer is idle (it only waits on the queue), so the test may commit in its place.
	if err := s.commit(group); err != nil {
		t.Fatal(err)
	}
	rows, err := s.db.QueryContext(context.Background(), `SELECT `+quoteIdent(d.EventID)+` FROM pageviews ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("stored %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: id %s, want %s", i, got[i], want[i])
		}
	}
	if st := s.Stats(); st.RowsCommitted != int64(len(want)) || st.RowsDeduplicated != 20 {
		t.Fatalf("stats = %+v", st)
	}
}
