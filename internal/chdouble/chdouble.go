// Package chdouble is an in-memory ClickHouse for tests of exactly-once inserts: it drops an INSERT whose insert_deduplication_token a table has seen, as a MergeTree does.
package chdouble

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// DeadLetterTable is the dead-letter dataset's default name, which GoodOnce checks.
const DeadLetterTable = "olapgate_deadletter"

// Store is ClickHouse as store/clickhouse.Store.Write drives it: a batch is sent as INSERTs
// of at most InsertRows rows, each with insert_deduplication_token "<token>/<n>" (the
// caller's token, WithToken, else a hash of the block); a table drops an INSERT whose token
// is among the last Window tokens it stored, whole (as a MergeTree does per block with
// non_replicated_deduplication_window), and stores it otherwise. A Write that fails after
// some INSERTs leaves them stored, as a real server does.
type Store struct {
	// InsertRows and Window are read by Write: set them before the first one.
	InsertRows, Window int

	mu      sync.Mutex
	tables  map[string]*table
	writes  int
	dropped int // INSERTs dropped as duplicates
	// afterWrite runs after the n-th Write stored its blocks; an error fails the Write (the
	// blocks stay stored: the client did not hear the answer).
	afterWrite func(n int) error
}

type table struct {
	rows   map[string]int // row identity → times stored
	nrows  int
	tokens []string        // the last window tokens, oldest first
	seen   map[string]bool // tokens as a set
}

type tokenKey struct{}

var _ store.Store = (*Store)(nil)

// New returns an empty double: INSERTs of 7 rows (so a batch is several), 10,000 tokens
// remembered per table.
func New() *Store {
	return &Store{InsertRows: 7, Window: 10000, tables: map[string]*table{}}
}

// WithToken is what clickhouse.WithInsertToken is to the real store.
func (c *Store) WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// SetAfterWrite sets a hook run after the n-th Write stored its blocks (nil removes it); an
// error it returns fails that Write, its blocks stored all the same.
func (c *Store) SetAfterWrite(fn func(n int) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.afterWrite = fn
}

// EnsureDataset creates the dataset's table unless it exists.
func (c *Store) EnsureDataset(_ context.Context, d *dataset.Dataset) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables[d.Name] == nil {
		c.tables[d.Name] = &table{rows: map[string]int{}, seen: map[string]bool{}}
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

// Write inserts the batch as the real store does, block by block.
func (c *Store) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	token, _ := ctx.Value(tokenKey{}).(string)
	c.mu.Lock()
	t := c.tables[b.Dataset.Name]
	if t == nil {
		c.mu.Unlock()
		return store.WriteResult{}, fmt.Errorf("code 60: table %s does not exist", b.Dataset.Name)
	}
	for part, lo := 0, 0; lo < b.N; part, lo = part+1, lo+c.InsertRows {
		hi := min(lo+c.InsertRows, b.N)
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
		if len(t.tokens) > c.Window {
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

// Query is refused: the double only stores.
func (c *Store) Query(context.Context, store.Statement) (*store.Result, error) {
	return nil, errors.New("the double answers no queries")
}

// Dialect is clickhouse.
func (c *Store) Dialect() string { return "clickhouse" }

// Close does nothing.
func (c *Store) Close() error { return nil }

// Rows is the number of rows stored in table.
func (c *Store) Rows(table string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tables[table]; t != nil {
		return t.nrows
	}
	return 0
}

// Times is how often the row of identity key (its seq for events) was stored in table.
func (c *Store) Times(table, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tables[table]; t != nil {
		return t.rows[key]
	}
	return 0
}

// Writes is the number of Writes that reached a table; Dropped the INSERTs dropped as
// duplicates by their tokens.
func (c *Store) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// Dropped is the number of INSERTs dropped as duplicates by their tokens.
func (c *Store) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// ExactlyOnce checks that seq 0..n-1 are each stored once in table, and nothing else.
func (c *Store) ExactlyOnce(t testing.TB, table string, n int) {
	t.Helper()
	c.GoodOnce(t, table, n, nil)
}

// GoodOnce checks that the events 0..n-1 are each stored once in table, except those bad
// picks (nil: none), which must each be in the dead-letter table once.
func (c *Store) GoodOnce(t testing.TB, table string, n int, bad func(seq int) bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tb := c.tables[table]
	if tb == nil {
		t.Fatalf("no table %s", table)
	}
	var missing, dup []int
	nbad := 0
	for i := 0; i < n; i++ {
		want := 1
		if bad != nil && bad(i) {
			want, nbad = 0, nbad+1
		}
		switch got := tb.rows[strconv.Itoa(i)]; {
		case got < want:
			missing = append(missing, i)
		case got > want:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || tb.nrows != n-nbad {
		t.Fatalf("%s: %d rows, want %d; %d seq missing (%v...), %d stored too often (%v...)", table, tb.nrows, n-nbad, len(missing), head(missing), len(dup), head(dup))
	}
	if bad == nil {
		return
	}
	dl := c.tables[DeadLetterTable]
	if dl == nil {
		t.Fatal("no dead-letter table")
	}
	for k, v := range dl.rows {
		if v != 1 {
			t.Fatalf("dead letter %s stored %d times", k, v)
		}
	}
	if dl.nrows != nbad {
		t.Fatalf("%d dead letters, want %d", dl.nrows, nbad)
	}
}

func head(s []int) []int { return s[:min(len(s), 5)] }

// Wait waits until table holds at least n rows, failing the test after within.
func (c *Store) Wait(t testing.TB, table string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.Rows(table) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d rows after %s, want %d", table, c.Rows(table), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dataset is the tests' events dataset (time, page, kind, seq) on the clickhouse backend.
func Dataset(t testing.TB, name string) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{Name: name, TimeColumn: "time", Backend: dataset.BackendClickHouse,
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "kind", Type: dataset.String}},
		Metrics:    []dataset.Field{{Name: "seq", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// Event is the tests' event seq as JSON, a row of Dataset.
func Event(seq int) string {
	return fmt.Sprintf(`{"time": %d, "page": "/p%d", "kind": "click", "seq": %d}`, 1_700_000_000_000+seq, seq%7, seq)
}

// Poisoned is Event, except that the events IsBad picks have a time that does not parse:
// they are dead-lettered.
func Poisoned(seq int) string {
	if IsBad(seq) {
		return `{"time": "yesterday", "seq": ` + strconv.Itoa(seq) + `}`
	}
	return Event(seq)
}

// IsBad picks every 97th event.
func IsBad(seq int) bool { return seq%97 == 13 }

// BadCount is the number of bad events among 0..n-1.
func BadCount(n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		if IsBad(i) {
			bad++
		}
	}
	return bad
}

// Ensure creates the datasets' tables, failing the test on an error.
func (c *Store) Ensure(t testing.TB, ds ...*dataset.Dataset) {
	t.Helper()
	for _, d := range ds {
		if err := c.EnsureDataset(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

// Batch is the events seq from..to-1 as rows of d (a Dataset): time seq, page "/p", kind
// "click".
func Batch(d *dataset.Dataset, from, to int) *store.Batch {
	b := store.NewBatch(d, to-from)
	for i := from; i < to; i++ {
		b.Cols[0].Times = append(b.Cols[0].Times, int64(i))
		b.Cols[1].Strings = append(b.Cols[1].Strings, "/p")
		b.Cols[2].Strings = append(b.Cols[2].Strings, "click")
		b.Cols[3].Ints = append(b.Cols[3].Ints, int64(i))
		b.N++
	}
	return b
}

// Insert writes the events seq from..to-1 (Batch) into d's table, created unless it exists,
// with the insert token token: as a consumer that inserted a range and died before its
// checkpoint left them. It fails the test on an error.
func (c *Store) Insert(t testing.TB, d *dataset.Dataset, token string, from, to int) {
	t.Helper()
	c.Ensure(t, d)
	if _, err := c.Write(c.WithToken(context.Background(), token), Batch(d, from, to)); err != nil {
		t.Fatal(err)
	}
}

// Inserts is the number of INSERTs a Write of rows rows is sent as.
func (c *Store) Inserts(rows int) int {
	return (rows + c.InsertRows - 1) / c.InsertRows
}

// OnceFrom checks that the events seq from..n-1 are each stored once in table, and seq
// 0..from-1 not at all.
func (c *Store) OnceFrom(t testing.TB, table string, from, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		want := 1
		if i < from {
			want = 0
		}
		if got := c.Times(table, strconv.Itoa(i)); got != want {
			t.Fatalf("seq %d stored %d times, want %d", i, got, want)
		}
	}
}

// LostAnswers is an after-write hook (SetAfterWrite) failing the Writes numbered ws as if
// their answers were lost: their blocks are stored.
func LostAnswers(ws ...int) func(int) error {
	return func(w int) error {
		if slices.Contains(ws, w) {
			return fmt.Errorf("injected: connection reset after write %d", w)
		}
		return nil
	}
}

// DieAt is an after-write hook (SetAfterWrite) failing Write w and every one after it as if
// the process had died right after storing its blocks; die runs once, at the first.
func DieAt(w int, die func()) func(int) error {
	var once sync.Once
	return func(n int) error {
		if n < w {
			return nil
		}
		once.Do(die)
		return errors.New("injected: the process died")
	}
}
