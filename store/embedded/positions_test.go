package embedded

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func wantPositions(t *testing.T, s *Store, source string, want map[string]string) {
	t.Helper()
	got, err := s.Positions(context.Background(), source)
	if err != nil {
		t.Fatalf("Positions(%s): %v", source, err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("Positions(%s) = %v, want %v", source, got, want)
	}
}

func TestWritePositioned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pv := dataset.Sample()
	other := mustValidate(t, &dataset.Dataset{Name: "clicks", TimeColumn: "time", Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}})
	ensure(t, s, pv)
	ensure(t, s, other)

	// Two datasets and two partitions in one commit.
	res, err := s.WritePositioned(ctx, "kafka:a", []*store.Batch{genBatch(pv, 10, 0), genBatch(other, 5, 0)},
		[]store.Position{{Partition: "t/0", Next: "7"}, {Partition: "t/1", Next: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 15 {
		t.Fatalf("rows = %d, want 15", res.Rows)
	}
	wantPositions(t, s, "kafka:a", map[string]string{"t/0": "7", "t/1": "3"})
	wantPositions(t, s, "kafka:b", map[string]string{})

	// Stale expectations are refused whole: neither rows nor any position move.
	for _, stale := range [][]store.Position{
		{{Partition: "t/0", Prev: "7", Next: "9"}, {Partition: "t/1", Prev: "2", Next: "4"}}, // t/1 is at 3
		{{Partition: "t/2", Prev: "1", Next: "4"}},                                           // t/2 has no position
		{{Partition: "t/0", Next: "9"}},                                                      // t/0 has one
	} {
		_, err := s.WritePositioned(ctx, "kafka:a", []*store.Batch{genBatch(pv, 10, 100)}, stale)
		var pc *store.PositionConflictError
		if !errors.Is(err, store.ErrPositionConflict) || !errors.As(err, &pc) {
			t.Fatalf("stale %v: err = %v, want a position conflict", stale, err)
		}
	}
	wantPositions(t, s, "kafka:a", map[string]string{"t/0": "7", "t/1": "3"})
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 10 {
		t.Fatalf("pageviews rows = %d, want 10 (a refused write stored rows)", n)
	}

	// Positions alone (every record of a range dead-lettered elsewhere, or skipped).
	if _, err := s.WritePositioned(ctx, "kafka:a", nil, []store.Position{{Partition: "t/0", Prev: "7", Next: "8"}}); err != nil {
		t.Fatal(err)
	}
	// Bad calls.
	for i, bad := range []struct {
		source string
		pos    []store.Position
	}{
		{"", []store.Position{{Partition: "p", Next: "1"}}},
		{"s", []store.Position{{Partition: "", Next: "1"}}},
		{"s", []store.Position{{Partition: "p", Next: ""}}},
		{"s", []store.Position{{Partition: "p", Next: "1"}, {Partition: "p", Next: "2"}}},
	} {
		if _, err := s.WritePositioned(ctx, bad.source, nil, bad.pos); err == nil || errors.Is(err, store.ErrPositionConflict) {
			t.Errorf("bad call %d: err = %v", i, err)
		}
	}

	// Positions survive a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Positions(ctx, "kafka:a"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Positions after Close: %v", err)
	}
	s = openStore(t, Config{Dir: dir})
	wantPositions(t, s, "kafka:a", map[string]string{"t/0": "8", "t/1": "3"})
}

// A commit that fails stores neither its rows nor its positions, in memory or on disk.
func TestWritePositionedAtomic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	good := dataset.Sample()
	doomed := mustValidate(t, &dataset.Dataset{Name: "doomed", TimeColumn: "time", EventID: "id"})
	ensure(t, s, good)
	ensure(t, s, doomed)
	if _, err := s.WritePositioned(ctx, "src", []*store.Batch{genBatch(good, 10, 0)}, []store.Position{{Partition: "p", Next: "10"}}); err != nil {
		t.Fatal(err)
	}
	// Every insert into doomed fails from now on, inside the transaction, after the good
	// dataset's rows were appended.
	if _, err := s.db.ExecContext(ctx, `DROP TABLE doomed`); err != nil {
		t.Fatal(err)
	}
	_, err = s.WritePositioned(ctx, "src", []*store.Batch{genBatch(good, 10, 10), genBatch(doomed, 10, 10)},
		[]store.Position{{Partition: "p", Prev: "10", Next: "20"}, {Partition: "q", Next: "5"}})
	if err == nil || errors.Is(err, store.ErrPositionConflict) {
		t.Fatalf("write into a dropped table: err = %v", err)
	}
	wantPositions(t, s, "src", map[string]string{"p": "10"})
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 10 {
		t.Fatalf("pageviews rows = %d, want 10", n)
	}
	// The failure did not poison the positions: the same move without the bad batch commits.
	if _, err := s.WritePositioned(ctx, "src", []*store.Batch{genBatch(good, 10, 10)},
		[]store.Position{{Partition: "p", Prev: "10", Next: "20"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Config{Dir: dir})
	wantPositions(t, s, "src", map[string]string{"p": "20"})
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 20 {
		t.Fatalf("pageviews rows after reopen = %d, want 20", n)
	}
}

// Positioned writes share group commits with pushes and with each other; where two writers
// race for one partition from the same expected position, exactly one wins.
func TestWritePositionedConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{})
	d := dataset.Sample()
	ensure(t, s, d)
	const writers, rounds, per = 4, 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*3)
	var won [rounds]int
	var wonMu sync.Mutex
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func() { // a push writer beside the stream writers
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if _, err := s.Write(ctx, genBatch(d, per, int64(1_000_000+(w*rounds+i)*per))); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			// Its own partition: every move must succeed.
			part := "own/" + strconv.Itoa(w)
			for i := 0; i < rounds; i++ {
				prev := ""
				if i > 0 {
					prev = strconv.Itoa(i)
				}
				seq := int64((w*rounds + i) * per)
				if _, err := s.WritePositioned(ctx, "src", []*store.Batch{genBatch(d, per, seq)},
					[]store.Position{{Partition: part, Prev: prev, Next: strconv.Itoa(i + 1)}}); err != nil {
					errs <- fmt.Errorf("%s round %d: %w", part, i, err)
				}
			}
		}()
	}
	// Every writer tries to move "shared" from "" to "won": one commit wins, the rest conflict.
	for i := 0; i < rounds; i++ {
		var race sync.WaitGroup
		for w := 0; w < writers; w++ {
			race.Add(1)
			go func() {
				defer race.Done()
				part := "shared/" + strconv.Itoa(i)
				_, err := s.WritePositioned(ctx, "src", []*store.Batch{genBatch(d, 1, int64(5_000_000+i*writers+w))},
					[]store.Position{{Partition: part, Next: "won"}})
				switch {
				case err == nil:
					wonMu.Lock()
					won[i]++
					wonMu.Unlock()
				case !errors.Is(err, store.ErrPositionConflict):
					errs <- err
				}
			}()
		}
		race.Wait()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, n := range won {
		if n != 1 {
			t.Errorf("shared/%d: %d winners, want 1", i, n)
		}
	}
	want := int64(writers*rounds*per*2 + rounds)
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != want {
		t.Fatalf("rows = %d, want %d", n, want)
	}
	pos, err := s.Positions(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		if p := pos["own/"+strconv.Itoa(w)]; p != strconv.Itoa(rounds) {
			t.Errorf("own/%d at %q, want %d", w, p, rounds)
		}
	}
}
