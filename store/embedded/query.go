package embedded

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/olapgate/olapgate/store"
)

// Query runs st on the read pool, which is separate from the committer's connection: DuckDB
// serves concurrent readers in one process, each seeing the last committed state. Cancelling
// ctx interrupts the running statement. Each value is converted to its output column's type.
func (s *Store) Query(ctx context.Context, st store.Statement) (res *store.Result, err error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, store.ErrClosed
	}
	s.queries.Add(1) // under mu: Shutdown sets closed under mu before it waits
	s.mu.RUnlock()
	defer s.queries.Done()
	s.stats.queries.Add(1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.queryCtx, cancel)() // Shutdown out of patience interrupts queries

	// Every write acknowledged before the statement starts is committed, so it sees them all:
	// the data is complete up to now. DuckDB does not report rows scanned.
	meta := store.ResultMeta{RowsScanned: -1, CompleteUpTo: time.Now().UTC()}
	rows, err := s.db.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("query dataset: %w", preferCtxErr(ctx, err))
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			res, err = nil, fmt.Errorf("query dataset: close rows: %w", cerr)
		}
	}()
	names, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("query dataset: read columns: %w", err)
	}
	if len(names) != len(st.Output) {
		return nil, fmt.Errorf("query dataset: statement returned %d columns, planner expected %d", len(names), len(st.Output))
	}
	res = &store.Result{Columns: append([]store.ResultColumn(nil), st.Output...), Meta: meta}
	raw := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		// The driver materializes results; a huge one is still walked here, so look at ctx.
		if len(res.Rows)%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("query dataset: %w", err)
			}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("query dataset: scan row %d: %w", len(res.Rows), err)
		}
		row := make([]any, len(raw))
		for i, v := range raw {
			cv, err := convertValue(v, st.Output[i].Type)
			if err != nil {
				return nil, fmt.Errorf("query dataset: row %d column %s: %w", len(res.Rows), st.Output[i].Name, err)
			}
			row[i] = cv
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query dataset: %w", preferCtxErr(ctx, err))
	}
	return res, nil
}

// preferCtxErr reports an interrupted statement as the context's error, which callers map to
// DeadlineExceeded/Canceled, rather than as DuckDB's "INTERRUPT Error".
func preferCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// convertValue turns a value as go-duckdb scans it into the Go type of a result column type.
func convertValue(v any, t store.ColumnType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case store.TypeInt64:
		return toInt64(v)
	case store.TypeDouble:
		return toFloat64(v)
	case store.TypeString:
		return toString(v)
	case store.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case store.TypeTimestamp:
		if ts, ok := v.(time.Time); ok {
			return ts.UTC(), nil
		}
	default:
		return nil, fmt.Errorf("output type %d is not a result column type", t)
	}
	return nil, fmt.Errorf("cannot convert %T to %s", v, t)
}

func toInt64(v any) (any, error) {
	switch x := v.(type) {
	case *big.Int: // HUGEINT: SUM of BIGINT
		if !x.IsInt64() {
			return nil, fmt.Errorf("HUGEINT %s overflows INT64", x)
		}
		return x.Int64(), nil
	case duckdb.Decimal:
		return decimalToInt64(x)
	}
	if n, ok, err := store.Int64(v); ok {
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot convert %T to INT64", v)
}

func decimalToInt64(d duckdb.Decimal) (any, error) {
	if d.Value == nil {
		return nil, fmt.Errorf("DECIMAL without a value")
	}
	q, r := new(big.Int), new(big.Int)
	q.QuoRem(d.Value, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil), r)
	if r.Sign() != 0 {
		return nil, fmt.Errorf("DECIMAL %s is not integral", d.String())
	}
	if !q.IsInt64() {
		return nil, fmt.Errorf("DECIMAL %s overflows INT64", d.String())
	}
	return q.Int64(), nil
}

func toFloat64(v any) (any, error) {
	if f, ok := store.Float64(v); ok {
		return f, nil
	}
	switch x := v.(type) {
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case duckdb.Decimal:
		if x.Value == nil {
			return nil, fmt.Errorf("DECIMAL without a value")
		}
		return x.Float64(), nil
	}
	return nil, fmt.Errorf("cannot convert %T to DOUBLE", v)
}

func toString(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case duckdb.Decimal:
		return x.String(), nil
	case fmt.Stringer: // *big.Int, UUID
		return x.String(), nil
	}
	if i, err := toInt64(v); err == nil {
		return strconv.FormatInt(i.(int64), 10), nil
	}
	return nil, fmt.Errorf("cannot convert %T to STRING", v)
}
