package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

type insertTokenKey struct{}

// WithInsertToken makes the Writes under ctx idempotent by the caller's token (a stream
// source's partition and offset range, say) instead of by the batch's content: a retry with
// the same token is stored once, even if the batch was rebuilt differently. The INSERTs of one
// Write get token/0, token/1, ... (Config.InsertRows each).
func WithInsertToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, insertTokenKey{}, token)
}

// Write inserts the batch as columnar blocks of at most Config.InsertRows rows and returns once
// ClickHouse acknowledged every one (with the MergeTree defaults, once the part is written).
//
// Each INSERT carries an insert_deduplication_token: the caller's (WithInsertToken), else a
// SHA-256 of the block's column names, types and encoded data. A retried insert of the same
// block is then stored once, as long as the table remembers the token: tables EnsureDataset
// creates set non_replicated_deduplication_window (Config.DedupWindow blocks), without which a
// non-replicated MergeTree ignores the token; replicated tables deduplicate by default. The
// price of content tokens: two identical blocks within the window are one, so a source that
// can legitimately send the same rows twice should pass its own token (or an event id column).
// On an error some blocks may be stored; writing the same batch again stores each block once.
func (s *Store) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	const what = "write to clickhouse"
	ctx, end, err := s.begin(ctx, what)
	if err != nil {
		return store.WriteResult{}, err
	}
	defer end()
	if b == nil || b.Dataset == nil {
		return store.WriteResult{}, &Error{grpc: codes.Internal, msg: what + ": batch without a dataset"}
	}
	d := b.Dataset
	token, _ := ctx.Value(insertTokenKey{}).(string)
	for part, lo := 0, 0; lo < b.N; part, lo = part+1, lo+s.cfg.InsertRows {
		hi := min(lo+s.cfg.InsertRows, b.N)
		input, err := blockInput(d, b, lo, hi)
		if err != nil {
			return store.WriteResult{}, &Error{grpc: codes.InvalidArgument, msg: fmt.Sprintf("%s: dataset %s: %v", what, d.Name, err), err: err}
		}
		tok := token
		if tok != "" {
			tok += "/" + strconv.Itoa(part)
		} else {
			tok = contentToken(input)
		}
		err = s.pool.Do(ctx, ch.Query{
			Body:  insertSQL(d.Name, input),
			Input: input,
			Settings: []ch.Setting{
				{Key: "insert_deduplicate", Value: "1"},
				{Key: "insert_deduplication_token", Value: tok},
				// The acknowledgement must mean stored, not queued in an async buffer.
				{Key: "async_insert", Value: "0"},
			},
		})
		if err != nil {
			return store.WriteResult{}, mapError(ctx, fmt.Sprintf("%s: dataset %s: insert rows %d-%d", what, d.Name, lo, hi-1), err)
		}
	}
	return store.WriteResult{Rows: b.N}, nil
}

func insertSQL(table string, input proto.Input) string {
	names := make([]string, len(input))
	for i, c := range input {
		names[i] = chsql.Ident(c.Name)
	}
	return "INSERT INTO " + chsql.Ident(table) + " (" + strings.Join(names, ", ") + ") VALUES"
}

// blockInput lays rows [lo, hi) of the batch out as ch-go columns of the table's types
// (ColumnType): the time column plain, every other one Nullable.
func blockInput(d *dataset.Dataset, b *store.Batch, lo, hi int) (proto.Input, error) {
	cols := d.Columns()
	if len(b.Cols) != len(cols) {
		return nil, fmt.Errorf("batch has %d columns, the dataset %d", len(b.Cols), len(cols))
	}
	input := make(proto.Input, 0, len(cols))
	for ci, c := range cols {
		buf := &b.Cols[ci]
		if buf.Type != c.Type {
			return nil, fmt.Errorf("column %s: batch holds %s, the dataset declares %s", c.Name, buf.Type, c.Type)
		}
		if ci == 0 {
			col := new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC)
			for i := lo; i < hi; i++ {
				if buf.IsNull(i) {
					return nil, fmt.Errorf("row %d has no %s (the time column)", i, c.Name)
				}
				col.Data = append(col.Data, proto.DateTime64(buf.Times[i]))
			}
			input = append(input, proto.InputColumn{Name: c.Name, Data: col})
			continue
		}
		var data proto.ColInput
		switch c.Type {
		case dataset.String:
			data = nullableColumn(new(proto.ColStr).Nullable(), buf, buf.Strings, lo, hi)
		case dataset.Int:
			data = nullableColumn(new(proto.ColInt64).Nullable(), buf, buf.Ints, lo, hi)
		case dataset.Float:
			data = nullableColumn(new(proto.ColFloat64).Nullable(), buf, buf.Floats, lo, hi)
		case dataset.Bool:
			data = nullableColumn(new(proto.ColBool).Nullable(), buf, buf.Bools, lo, hi)
		case dataset.Timestamp:
			times := make([]time.Time, 0, hi-lo)
			for i := lo; i < hi; i++ {
				times = append(times, time.UnixMicro(buf.Times[i]).UTC())
			}
			inner := new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC)
			data = nullableColumn(inner.Nullable(), buf, times, 0, hi-lo, lo)
		default:
			return nil, fmt.Errorf("column %s: type %q has no ClickHouse column", c.Name, c.Type)
		}
		input = append(input, proto.InputColumn{Name: c.Name, Data: data})
	}
	return input, nil
}

// nullableColumn appends vals[lo:hi] to col, null where the batch's row (lo+nullShift...) is.
// nullShift[0], when given, is the batch row of vals[lo] (vals is then a copy starting at 0).
func nullableColumn[T any](col *proto.ColNullable[T], buf *store.ColumnBuf, vals []T, lo, hi int, nullShift ...int) *proto.ColNullable[T] {
	shift := 0
	if len(nullShift) > 0 {
		shift = nullShift[0] - lo
	}
	for i := lo; i < hi; i++ {
		if buf.IsNull(i + shift) {
			col.Append(proto.Null[T]())
			continue
		}
		col.Append(proto.NewNullable(vals[i]))
	}
	return col
}

// contentToken is a SHA-256 of the block as it goes on the wire: names, types, data.
func contentToken(input proto.Input) string {
	h := sha256.New()
	var buf proto.Buffer
	for _, c := range input {
		buf.Reset()
		buf.PutString(c.Name)
		buf.PutString(string(c.Data.Type()))
		buf.PutInt(c.Data.Rows())
		c.Data.EncodeColumn(&buf)
		h.Write(buf.Buf)
	}
	return "olapgate-sha256-" + hex.EncodeToString(h.Sum(nil))
}
