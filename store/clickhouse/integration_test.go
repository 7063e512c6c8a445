package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// TestServer runs the store against a real ClickHouse server at CLICKHOUSE_ADDR (host:port of
// the native protocol; CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE optional).
// Unset, it skips; set and unreachable, it fails. It creates and drops its own table.
func TestServer(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR is not set: skipping the ClickHouse server test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{
		Addr: addr, User: os.Getenv("CLICKHOUSE_USER"), Password: os.Getenv("CLICKHOUSE_PASSWORD"),
		Database: os.Getenv("CLICKHOUSE_DATABASE"), InsertRows: 7,
	})
	if err != nil {
		t.Fatalf("CLICKHOUSE_ADDR=%s is set but the server is unreachable: %v", addr, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	}()

	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	d := allTypes(t)
	d.Name = "olapgate_it_" + hex.EncodeToString(suffix[:])
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.pool.Do(context.Background(), ch.Query{Body: "DROP TABLE IF EXISTS " + chsql.Ident(d.Name)}); err != nil {
			t.Errorf("drop table: %v", err)
		}
	}()
	for range 2 {
		if err := s.EnsureDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	grown := *d
	grown.Metrics = append(append([]dataset.Field(nil), d.Metrics...), dataset.Field{Name: "cost", Type: dataset.Float})
	if err := grown.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureDataset(ctx, &grown); err != nil {
		t.Fatalf("add a column: %v", err)
	}

	count := func() int64 {
		t.Helper()
		res, err := s.Query(ctx, store.Statement{SQL: "SELECT count() FROM " + chsql.Ident(d.Name), Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0][0].(int64)
	}
	b := batchOf(t, d, 20) // three INSERTs of at most 7 rows
	for i := range 2 {     // the second write is a retry: every block is a duplicate
		if wr, err := s.Write(ctx, b); err != nil || wr.Rows != 20 {
			t.Fatalf("write %d: %+v %v", i, wr, err)
		}
	}
	if n := count(); n != 20 {
		t.Fatalf("after a write and its retry: %d rows, want 20", n)
	}
	tokCtx := WithInsertToken(ctx, "source-a/0-99")
	for i := range 2 {
		other := batchOf(t, d, 5+i) // rebuilt differently, same token: still one
		if _, err := s.Write(tokCtx, other); err != nil {
			t.Fatalf("token write %d: %v", i, err)
		}
	}
	if n := count(); n != 25 {
		t.Fatalf("after two writes with one caller token: %d rows, want 25", n)
	}

	// Values round-trip with their types, nulls included.
	st := store.Statement{
		SQL: "SELECT `time`, `s`, `n`, `f`, `b`, `ts`, `mi` FROM " + chsql.Ident(d.Name) + " WHERE `id` = 'id-2' OR `time` = toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') ORDER BY `time`, `n` NULLS LAST LIMIT 2",
		Output: []store.ResultColumn{{Name: "time", Type: store.TypeTimestamp}, {Name: "s", Type: store.TypeString}, {Name: "n", Type: store.TypeInt64},
			{Name: "f", Type: store.TypeDouble}, {Name: "b", Type: store.TypeBool}, {Name: "ts", Type: store.TypeTimestamp}, {Name: "mi", Type: store.TypeInt64}},
	}
	res, err := s.Query(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.QueryID == "" || res.Meta.RowsScanned < 0 {
		t.Errorf("meta %+v", res.Meta)
	}
	if len(res.Rows) != 2 {
		t.Fatalf("rows %v", res.Rows)
	}
	want := []any{time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), "s-0", int64(0), 0.0, true, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), int64(0)}
	for j, w := range want {
		if g := res.Rows[0][j]; g != w {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(w.(time.Time)) {
				t.Errorf("row 0 column %s = %#v, want %#v", st.Output[j].Name, g, w)
			}
		}
	}

	// A planned query through the planner's ClickHouse dialect.
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(`{"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h",
		"timeZone": "Asia/Kolkata", "groupBy": ["b"], "metrics": [{"agg": "COUNT"}, {"agg": "SUM", "field": "mi"}, {"agg": "MAX", "field": "ts"}]}`), pb); err != nil {
		t.Fatal(err)
	}
	q, err := query.FromProto(pb, d, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.New(q, s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.Execute(ctx, s)
	if err != nil {
		t.Fatalf("%v\n%s", err, planner.Render(p))
	}
	var total int64
	for _, row := range ans.Rows {
		total += row[2].(int64)
	}
	if total != 25 {
		t.Errorf("planned query counted %d rows, want 25: %v", total, ans.Rows)
	}

	// The server stops at the deadline, and the error says DeadlineExceeded.
	short, cancelShort := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err = s.Query(short, store.Statement{SQL: "SELECT sleepEachRow(0.1) FROM numbers(100) SETTINGS max_block_size = 1",
		Output: []store.ResultColumn{{Name: "x", Type: store.TypeInt64}}})
	if st, _ := status.FromError(err); st.Code() != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Errorf("slow query: %v (%s) after %s", err, st.Code(), time.Since(start))
	}

	_, err = s.Query(ctx, store.Statement{SQL: "SELECT 1 FROM `olapgate_no_such_table`", Output: []store.ResultColumn{{Name: "x", Type: store.TypeInt64}}})
	var e *Error
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || !errors.As(err, &e) || e.Code != 60 {
		t.Errorf("unknown table: %v", err)
	}
}
