// Package store defines the contract between olapgate's pipelines and its storage backends.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
)

// Batch is a column-major set of rows for one dataset, in the order of Dataset.Columns().
// Decoders fill it without per-row allocation; stores read it column by column.
type Batch struct {
	Dataset *dataset.Dataset
	Cols    []ColumnBuf
	// N is the number of rows.
	N int
}

// ColumnBuf holds one column's values. Exactly the slice matching Type is used:
// string → Strings, int → Ints, float → Floats, bool → Bools, timestamp → Times
// (microseconds since the Unix epoch, UTC). Null[i] marks row i null; Null is nil when no row is.
type ColumnBuf struct {
	Type    dataset.Type
	Strings []string
	Ints    []int64
	Floats  []float64
	Bools   []bool
	Times   []int64
	Null    []bool
}

// NewBatch returns an empty batch for d with room for capacity rows.
func NewBatch(d *dataset.Dataset, capacity int) *Batch {
	b := &Batch{Dataset: d, Cols: make([]ColumnBuf, len(d.Columns()))}
	for i, c := range d.Columns() {
		cb := &b.Cols[i]
		cb.Type = c.Type
		switch c.Type {
		case dataset.String:
			cb.Strings = make([]string, 0, capacity)
		case dataset.Int:
			cb.Ints = make([]int64, 0, capacity)
		case dataset.Float:
			cb.Floats = make([]float64, 0, capacity)
		case dataset.Bool:
			cb.Bools = make([]bool, 0, capacity)
		case dataset.Timestamp:
			cb.Times = make([]int64, 0, capacity)
		}
	}
	return b
}

// IsNull reports whether row i of the column is null.
func (c *ColumnBuf) IsNull(i int) bool { return c.Null != nil && c.Null[i] }

// Value returns row i as a Go value: nil, string, int64, float64, bool or time.Time (UTC).
func (c *ColumnBuf) Value(i int) any {
	if c.IsNull(i) {
		return nil
	}
	switch c.Type {
	case dataset.String:
		return c.Strings[i]
	case dataset.Int:
		return c.Ints[i]
	case dataset.Float:
		return c.Floats[i]
	case dataset.Bool:
		return c.Bools[i]
	case dataset.Timestamp:
		return time.UnixMicro(c.Times[i]).UTC()
	}
	return nil
}

// Append adds all rows of o (same dataset) to b.
func (b *Batch) Append(o *Batch) {
	for i := range b.Cols {
		dst, src := &b.Cols[i], &o.Cols[i]
		if src.Null != nil || dst.Null != nil {
			if dst.Null == nil {
				dst.Null = make([]bool, b.N, b.N+o.N)
			}
			if src.Null != nil {
				dst.Null = append(dst.Null, src.Null...)
			} else {
				dst.Null = append(dst.Null, make([]bool, o.N)...)
			}
		}
		dst.Strings = append(dst.Strings, src.Strings...)
		dst.Ints = append(dst.Ints, src.Ints...)
		dst.Floats = append(dst.Floats, src.Floats...)
		dst.Bools = append(dst.Bools, src.Bools...)
		dst.Times = append(dst.Times, src.Times...)
	}
	b.N += o.N
}

// ColumnType is a result column's type.
type ColumnType int

// Result column types.
const (
	TypeString ColumnType = iota + 1
	TypeInt64
	TypeDouble
	TypeBool
	TypeTimestamp
)

func (t ColumnType) String() string {
	switch t {
	case TypeString:
		return "STRING"
	case TypeInt64:
		return "INT64"
	case TypeDouble:
		return "DOUBLE"
	case TypeBool:
		return "BOOL"
	case TypeTimestamp:
		return "TIMESTAMP"
	}
	return "UNSPECIFIED"
}

// ResultColumn describes one result column.
type ResultColumn struct {
	Name        string
	Type        ColumnType
	Approximate bool
}

// Result is a query answer, row-major. Values are nil, string, int64, float64, bool or
// time.Time; a column's values all have its Type's Go type.
type Result struct {
	Columns []ResultColumn
	Rows    [][]any
	Meta    ResultMeta
}

// ResultMeta is what a backend reports about how it answered, beside the rows.
type ResultMeta struct {
	// Partial: some servers or shards did not answer (Pinot numServersResponded <
	// numServersQueried, partialResult, or a server-side timeout that still returned rows).
	Partial bool
	// Trimmed: the backend dropped groups to bound its work (Pinot numGroupsLimitReached), so
	// the groups and their aggregates may be incomplete: the answer is approximate.
	Trimmed bool
	// RowsScanned is the number of rows (documents) the backend read; -1 when unknown.
	RowsScanned int64
	// QueryID is the backend's id for the query (ClickHouse query_id, Pinot requestId).
	QueryID string
	// CompleteUpTo is the backend's own freshness bound (Pinot minConsumingFreshnessTimeMs):
	// events before it are all visible. Zero when the backend does not report one.
	CompleteUpTo time.Time
}

// Statement is SQL ready for a backend: text with positional parameters and the expected
// output columns (the store converts each value to the column's type).
type Statement struct {
	SQL    string
	Args   []any
	Output []ResultColumn
}

// WriteResult reports a durable write.
type WriteResult struct {
	// Rows is the number of rows in the batch (duplicates by event id included: they are
	// accepted, and stored once).
	Rows int
}

// Store is a storage backend.
type Store interface {
	// EnsureDataset creates the dataset's table, or adds the columns it lacks.
	EnsureDataset(ctx context.Context, d *dataset.Dataset) error
	// Write stores a batch and returns once it is durable.
	Write(ctx context.Context, b *Batch) (WriteResult, error)
	// Query runs a statement planned for this backend's dialect.
	Query(ctx context.Context, st Statement) (*Result, error)
	// Dialect names the SQL dialect the planner must produce: "duckdb", "pinot", "clickhouse".
	Dialect() string
	// Close flushes pending writes and releases the store; safe to call twice.
	Close() error
}

// ErrClosed is returned by a store after Close.
var ErrClosed = errors.New("store closed")

// ErrNotWritable is wrapped by a store whose datasets are not written through olapgate's
// Write (Pinot pulls its data from a stream).
var ErrNotWritable = errors.New("backend does not take direct writes")

// Keep removes the rows whose keep[i] is false, preserving order.
func (b *Batch) Keep(keep []bool) {
	n := 0
	for i := 0; i < b.N; i++ {
		if !keep[i] {
			continue
		}
		if n != i {
			for c := range b.Cols {
				col := &b.Cols[c]
				switch col.Type {
				case dataset.String:
					col.Strings[n] = col.Strings[i]
				case dataset.Int:
					col.Ints[n] = col.Ints[i]
				case dataset.Float:
					col.Floats[n] = col.Floats[i]
				case dataset.Bool:
					col.Bools[n] = col.Bools[i]
				case dataset.Timestamp:
					col.Times[n] = col.Times[i]
				}
				if col.Null != nil {
					col.Null[n] = col.Null[i]
				}
			}
		}
		n++
	}
	b.TruncateColumns(n)
	b.N = n
}

// TruncateColumns cuts every column (and null mask) to its first n rows; N is the caller's to
// set. Dropped strings are cleared so spare capacity does not pin refused values.
func (b *Batch) TruncateColumns(n int) {
	for c := range b.Cols {
		col := &b.Cols[c]
		switch col.Type {
		case dataset.String:
			clear(col.Strings[n:])
			col.Strings = col.Strings[:n]
		case dataset.Int:
			col.Ints = col.Ints[:n]
		case dataset.Float:
			col.Floats = col.Floats[:n]
		case dataset.Bool:
			col.Bools = col.Bools[:n]
		case dataset.Timestamp:
			col.Times = col.Times[:n]
		}
		if col.Null != nil {
			col.Null = col.Null[:n]
		}
	}
}

// IsOverload reports whether err is a backend saying it is overloaded (Pinot 211/245/429,
// ClickHouse 202/241): admission control treats it as congestion and cuts its limit.
func IsOverload(err error) bool {
	var o interface{ OverloadSignal() bool }
	return errors.As(err, &o) && o.OverloadSignal()
}
