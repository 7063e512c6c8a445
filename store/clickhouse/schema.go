package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
)

// DefaultDedupWindow is the non_replicated_deduplication_window new tables get: how many of
// the latest insert blocks' hashes (or insert_deduplication_tokens) a MergeTree table remembers,
// so a retried insert is stored once. Without it (the MergeTree default is 0) a non-replicated
// table ignores insert_deduplication_token altogether.
const DefaultDedupWindow = 10000

// ColumnType is the ClickHouse type a dataset field is stored as. The time column is the only
// non-Nullable one (it is the sort key and every row has one). Timestamps are microseconds in
// UTC, as on the embedded store; DateTime64(6) covers the years 1900 to 2299.
func ColumnType(c dataset.Column, timeColumn bool) (string, error) {
	var t string
	switch c.Type {
	case dataset.String:
		t = "String"
	case dataset.Int:
		t = "Int64"
	case dataset.Float:
		t = "Float64"
	case dataset.Bool:
		t = "Bool"
	case dataset.Timestamp:
		t = "DateTime64(6, 'UTC')"
	default:
		return "", fmt.Errorf("field %s: type %q has no ClickHouse column type", c.Name, c.Type)
	}
	if timeColumn {
		return t, nil
	}
	return "Nullable(" + t + ")", nil
}

// CreateTableSQL is the dataset's table: a MergeTree sorted by the tenant column (when the
// dataset has one: every tenant's query reads only its rows) and time, partitioned by month so
// old data drops a partition at a time. The tenant column may be null, hence
// allow_nullable_key. dedupWindow is non_replicated_deduplication_window (0:
// DefaultDedupWindow).
func CreateTableSQL(d *dataset.Dataset, dedupWindow int) (string, error) {
	if dedupWindow <= 0 {
		dedupWindow = DefaultDedupWindow
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + chsql.Ident(d.Name) + " (")
	for i, c := range d.Columns() {
		t, err := ColumnType(c, i == 0)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  " + chsql.Ident(c.Name) + " " + t)
	}
	time := chsql.Ident(d.Columns()[0].Name)
	key := time
	nullableKey := false
	if d.TenantColumn != "" {
		tc, ok := d.Column(d.TenantColumn)
		if !ok {
			return "", fmt.Errorf("tenant column %s is not a column", d.TenantColumn)
		}
		key = "(" + chsql.Ident(tc.Name) + ", " + time + ")"
		nullableKey = true
	}
	b.WriteString("\n) ENGINE = MergeTree")
	b.WriteString("\nPARTITION BY toYYYYMM(" + time + ")")
	b.WriteString("\nORDER BY " + key)
	b.WriteString("\nSETTINGS non_replicated_deduplication_window = " + strconv.Itoa(dedupWindow))
	if nullableKey {
		b.WriteString(", allow_nullable_key = 1")
	}
	return b.String(), nil
}

// AddColumnsSQL is the ALTER TABLE that adds the declared columns the table lacks; existing
// maps the table's column names to their ClickHouse types (system.columns). It returns "" when
// nothing is missing, and an error when a declared column is stored with another type: a
// field's type cannot change in place (as on the embedded store).
func AddColumnsSQL(d *dataset.Dataset, existing map[string]string) (string, error) {
	var adds []string
	for i, c := range d.Columns() {
		t, err := ColumnType(c, i == 0)
		if err != nil {
			return "", err
		}
		have, ok := existing[c.Name]
		if !ok {
			if i == 0 {
				return "", fmt.Errorf("time column %s is not in the table; a dataset's time column cannot change", c.Name)
			}
			adds = append(adds, "ADD COLUMN IF NOT EXISTS "+chsql.Ident(c.Name)+" "+t)
			continue
		}
		if normalizeType(have) != normalizeType(t) {
			return "", fmt.Errorf("field %s is declared %s (%s) but the table stores it as %s; a field's type cannot change: declare a new field instead", c.Name, c.Type, t, have)
		}
	}
	if len(adds) == 0 {
		return "", nil
	}
	return "ALTER TABLE " + chsql.Ident(d.Name) + " " + strings.Join(adds, ", "), nil
}

// normalizeType drops the spaces ClickHouse may print differently ("DateTime64(6,'UTC')").
func normalizeType(t string) string { return strings.ReplaceAll(t, " ", "") }

// EnsureDataset creates the dataset's table (CreateTableSQL), or adds the declared columns it
// lacks (AddColumnsSQL). Columns are never dropped or retyped: a column the dataset no longer
// declares stays, and is left NULL by later inserts.
func (s *Store) EnsureDataset(ctx context.Context, d *dataset.Dataset) error {
	what := "ensure clickhouse table"
	if d == nil || len(d.Columns()) == 0 {
		return &Error{grpc: codes.Internal, msg: what + ": dataset has no columns (was it validated?)"}
	}
	what += " " + d.Name
	ctx, end, err := s.begin(ctx, what)
	if err != nil {
		return err
	}
	defer end()
	existing, err := s.tableColumns(ctx, d.Name)
	if err != nil {
		return mapError(ctx, what+": read columns", err)
	}
	if len(existing) == 0 {
		ddl, err := CreateTableSQL(d, s.cfg.DedupWindow)
		if err != nil {
			return &Error{grpc: codes.InvalidArgument, msg: what + ": " + err.Error(), err: err}
		}
		if err := s.pool.Do(ctx, ch.Query{Body: ddl}); err != nil {
			return mapError(ctx, what+": create table", err)
		}
		return nil
	}
	alter, err := AddColumnsSQL(d, existing)
	if err != nil {
		return &Error{grpc: codes.FailedPrecondition, msg: what + ": " + err.Error(), err: err}
	}
	if alter == "" {
		return nil
	}
	if err := s.pool.Do(ctx, ch.Query{Body: alter}); err != nil {
		return mapError(ctx, what+": add columns", err)
	}
	return nil
}

// tableColumns maps a table's column names to their types; empty when there is no table.
func (s *Store) tableColumns(ctx context.Context, table string) (map[string]string, error) {
	var names, types proto.ColStr
	out := map[string]string{}
	err := s.pool.Do(ctx, ch.Query{
		Body: "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = " + chsql.String(table),
		Result: proto.Results{
			{Name: "name", Data: &names},
			{Name: "type", Data: &types},
		},
		OnResult: func(context.Context, proto.Block) error {
			for i := 0; i < names.Rows(); i++ {
				out[names.Row(i)] = types.Row(i)
			}
			return nil
		},
	})
	return out, err
}
