package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// OTelTables is the collector's store on ClickHouse: the exporter's tables (OTelSchema) behind
// the store.Store contract the collector writes and queries through. EnsureDataset creates the
// schema (once, for whichever of the collector's tables comes first); Write inserts a batch
// as ch-go columnar blocks (OTelBlocks); Query runs telemetry SQL on the store. It shares the
// Store's connection pool: Close does nothing, closing the Store closes both.
type OTelTables struct {
	s      *Store
	schema OTelSchema // with defaults

	mu      sync.Mutex
	created bool

	// free holds column sets between inserts (blockCols): one per concurrent writer is enough
	// (the collector has one per table); a set that held a large batch is dropped instead.
	free chan *blockCols
}

// keepColsBytes bounds the batch text (as hashed for its token) whose columns are kept for
// reuse: a rare huge batch should not pin its buffers for the life of the process.
const keepColsBytes = 16 << 20

var _ store.Store = (*OTelTables)(nil)

// OTelTables returns the OpenTelemetry tables of schema on this store; schema must be valid.
func (s *Store) OTelTables(schema OTelSchema) (*OTelTables, error) {
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	return &OTelTables{s: s, schema: schema.withDefaults(s.cfg.Database), free: make(chan *blockCols, 4)}, nil
}

// Schema is the schema with its defaults filled in.
func (t *OTelTables) Schema() OTelSchema { return t.schema }

// TelemetryTables are the quoted, database-qualified tables telemetry queries read:
// otel_traces, its trace-id lookup table and otel_logs.
func (t *OTelTables) TelemetryTables() (traces, traceIDTs, logs string) {
	s := t.schema
	return s.table(s.TracesTable), s.table(s.traceIDTsTable()), s.table(s.LogsTable)
}

// EnsureDataset creates the database and every table of the schema (OTelDDL) on the first
// call for one of the collector's tables. Existing tables are left as they are (their TTL
// too: change it with ALTER TABLE ... MODIFY TTL).
func (t *OTelTables) EnsureDataset(ctx context.Context, d *dataset.Dataset) error {
	what := "ensure clickhouse otel tables"
	switch d.Name {
	case otelrows.TracesTable, otelrows.TraceIDTsTable, otelrows.LogsTable, otelrows.MetricsTable:
	default:
		return &Error{grpc: codes.InvalidArgument, msg: fmt.Sprintf("%s: %s is not one of the collector's tables", what, d.Name)}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.created {
		return nil
	}
	ctx, end, err := t.s.begin(ctx, what)
	if err != nil {
		return err
	}
	defer end()
	for _, stmt := range t.schema.OTelDDL(t.s.cfg.Database) {
		if err := t.s.pool.Do(ctx, ch.Query{Body: stmt}); err != nil {
			return mapError(ctx, what+": "+firstLine(stmt), err)
		}
	}
	t.created = true
	return nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' || c == '(' {
			return s[:i]
		}
	}
	return s
}

// Write inserts the batch into its table (the metric types into theirs), one INSERT per
// table, each with an insert_deduplication_token from the batch's content (batchToken) and the
// table: tables with a deduplication window (Replicated engines by default) store a retried
// block once. (The block's encoding cannot be hashed before ch-go sends it: LowCardinality
// columns build their dictionaries when sent, once.) Batches of the trace-id lookup table are not written: the materialized view fills it.
func (t *OTelTables) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	const what = "write otel rows to clickhouse"
	if b == nil || b.Dataset == nil {
		return store.WriteResult{}, &Error{grpc: codes.Internal, msg: what + ": batch without a dataset"}
	}
	if b.N == 0 || b.Dataset.Name == otelrows.TraceIDTsTable {
		return store.WriteResult{Rows: b.N}, nil
	}
	ctx, end, err := t.s.begin(ctx, what)
	if err != nil {
		return store.WriteResult{}, err
	}
	defer end()
	// Config.InsertRows rows per INSERT at most, as Store.Write.
	step := t.s.cfg.InsertRows
	if step <= 0 {
		step = DefaultInsertRows
	}
	for lo := 0; lo < b.N; lo += step {
		if err := t.insert(ctx, sliceBatch(b, lo, min(lo+step, b.N))); err != nil {
			return store.WriteResult{}, err
		}
	}
	return store.WriteResult{Rows: b.N}, nil
}

func (t *OTelTables) insert(ctx context.Context, b *store.Batch) error {
	const what = "write otel rows to clickhouse"
	var cols *blockCols
	select {
	case cols = <-t.free:
	default:
		cols = &blockCols{}
	}
	blocks, err := t.schema.otelBlocks(b, cols)
	if err != nil {
		return &Error{grpc: codes.InvalidArgument, msg: what + ": " + err.Error(), err: err}
	}
	token, hashed := batchTokenBuf(b, &cols.token)
	for _, blk := range blocks {
		if blk.Rows() == 0 {
			continue
		}
		err := t.s.pool.Do(ctx, ch.Query{
			Body:  t.InsertSQL(blk),
			Input: blk.Input,
			Settings: []ch.Setting{
				{Key: "insert_deduplicate", Value: "1"},
				{Key: "insert_deduplication_token", Value: token + "/" + blk.Table},
				{Key: "async_insert", Value: "0"},
			},
		})
		if err != nil {
			return mapError(ctx, fmt.Sprintf("%s: insert %d rows into %s", what, blk.Rows(), blk.Table), err)
		}
	}
	// Do has returned: ch-go no longer reads the columns.
	if hashed <= keepColsBytes {
		select {
		case t.free <- cols:
		default:
		}
	}
	return nil
}

// sliceBatch is rows [lo, hi) of b, sharing its values; b itself when that is all of it.
func sliceBatch(b *store.Batch, lo, hi int) *store.Batch {
	if lo == 0 && hi == b.N {
		return b
	}
	out := &store.Batch{Dataset: b.Dataset, Cols: make([]store.ColumnBuf, len(b.Cols)), N: hi - lo}
	for i, c := range b.Cols {
		o := store.ColumnBuf{Type: c.Type}
		sub := func(n int) bool { return n >= hi }
		if sub(len(c.Strings)) {
			o.Strings = c.Strings[lo:hi]
		}
		if sub(len(c.Ints)) {
			o.Ints = c.Ints[lo:hi]
		}
		if sub(len(c.Floats)) {
			o.Floats = c.Floats[lo:hi]
		}
		if sub(len(c.Bools)) {
			o.Bools = c.Bools[lo:hi]
		}
		if sub(len(c.Times)) {
			o.Times = c.Times[lo:hi]
		}
		if c.Null != nil {
			o.Null = c.Null[lo:hi]
		}
		out.Cols[i] = o
	}
	return out
}

// InsertSQL is the block's INSERT ... VALUES, its columns named.
func (t *OTelTables) InsertSQL(blk OTelBlock) string {
	return "INSERT INTO " + t.schema.table(blk.Table) + " (" + columnList(blk.Input) + ") VALUES"
}

func columnList(in proto.Input) string {
	s := ""
	for i, c := range in {
		if i > 0 {
			s += ", "
		}
		s += chsql.Ident(c.Name)
	}
	return s
}

// Query runs a statement (the telemetry service's ClickHouse SQL) on the store.
func (t *OTelTables) Query(ctx context.Context, st store.Statement) (*store.Result, error) {
	return t.s.Query(ctx, st)
}

// Dialect is the store's: "clickhouse".
func (t *OTelTables) Dialect() string { return t.s.Dialect() }

// Close does nothing: the tables share the Store's pool, which the Store's Close closes.
func (t *OTelTables) Close() error { return nil }

// DeleteBefore deletes nothing and reports 0 rows: rows expire by the tables' TTL, which
// OTelDDL sets from OTelSchema.TTL (the collector's retention). It lets the collector's
// retention loop run without a ClickHouse DELETE, a mutation that rewrites parts.
func (t *OTelTables) DeleteBefore(context.Context, string, time.Time) (int64, error) { return 0, nil }

// batchToken is a SHA-256 of a batch: its dataset's name and every column's values and nulls.
// The bytes are gathered in a buffer and hashed in large writes: a Write per value (and the
// []byte copy of each string it took) cost as much as the hashing.
func batchToken(b *store.Batch) string {
	var buf []byte
	token, _ := batchTokenBuf(b, &buf)
	return token
}

// batchTokenBuf is batchToken gathering in *buf (made 64 KiB when smaller, and kept for the
// next call); it also returns how many bytes it hashed.
func batchTokenBuf(b *store.Batch, bufp *[]byte) (string, int64) {
	h := sha256.New()
	if cap(*bufp) < 64<<10 {
		*bufp = make([]byte, 0, 64<<10)
	}
	buf := (*bufp)[:0]
	var hashed int64
	flush := func() {
		h.Write(buf)
		hashed += int64(len(buf))
		buf = buf[:0]
	}
	putInt := func(v uint64) {
		if len(buf)+8 > cap(buf) {
			flush()
		}
		buf = binary.LittleEndian.AppendUint64(buf, v)
	}
	putStr := func(s string) {
		putInt(uint64(len(s)))
		if len(buf)+len(s) > cap(buf) {
			flush()
			if len(s) > cap(buf) {
				h.Write([]byte(s))
				hashed += int64(len(s))
				return
			}
		}
		buf = append(buf, s...)
	}
	putBool := func(v bool) {
		if v {
			putInt(1)
		} else {
			putInt(0)
		}
	}
	putStr(b.Dataset.Name)
	putInt(uint64(b.N))
	for i := range b.Cols {
		c := &b.Cols[i]
		putStr(string(c.Type))
		for _, s := range c.Strings {
			putStr(s)
		}
		for _, v := range c.Ints {
			putInt(uint64(v))
		}
		for _, v := range c.Floats {
			putInt(math.Float64bits(v))
		}
		for _, v := range c.Bools {
			putBool(v)
		}
		for _, v := range c.Times {
			putInt(uint64(v))
		}
		putInt(uint64(len(c.Null)))
		for _, v := range c.Null {
			putBool(v)
		}
	}
	flush()
	return "olapgate-otel-sha256-" + hex.EncodeToString(h.Sum(nil)), hashed
}
