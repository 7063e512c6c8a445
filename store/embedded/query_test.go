package embedded

import (
	"context"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func TestQueryConversions(t *testing.T) {
	s := openStore(t, Config{})
	d := mustValidate(t, &dataset.Dataset{Name: "m", TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "s", Type: dataset.String}, {Name: "ok", Type: dataset.Bool}},
		Metrics:    []dataset.Field{{Name: "i", Type: dataset.Int}, {Name: "f", Type: dataset.Float}}})
	ensure(t, s, d)
	b := store.NewBatch(d, 3)
	b.N = 3
	b.Cols[0].Times = []int64{baseTime.UnixMicro(), baseTime.Add(time.Hour).UnixMicro() + 7, 0}
	b.Cols[1].Strings = []string{"x", "y", ""}
	b.Cols[2].Bools = []bool{true, false, false}
	b.Cols[3].Ints = []int64{math.MaxInt64, 5, 0}
	b.Cols[4].Floats = []float64{1.5, 2.25, 0}
	for c := range b.Cols {
		b.Cols[c].Null = []bool{false, false, true} // the third row is all nulls
	}
	if _, err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		sql  string
		typ  store.ColumnType
		want any
	}{
		{"bigint", `SELECT i FROM m WHERE s = 'y'`, store.TypeInt64, int64(5)},
		{"count", `SELECT count(*) FROM m`, store.TypeInt64, int64(3)},
		{"sum is hugeint", `SELECT sum(i) FROM m WHERE s = 'y'`, store.TypeInt64, int64(5)},
		{"sum hugeint as double", `SELECT sum(i) FROM m`, store.TypeDouble, float64(math.MaxInt64) + 5},
		{"integer", `SELECT 7::INTEGER`, store.TypeInt64, int64(7)},
		{"smallint", `SELECT (-7)::SMALLINT`, store.TypeInt64, int64(-7)},
		{"tinyint", `SELECT 7::TINYINT`, store.TypeInt64, int64(7)},
		{"ubigint", `SELECT 7::UBIGINT`, store.TypeInt64, int64(7)},
		{"utinyint", `SELECT 7::UTINYINT`, store.TypeInt64, int64(7)},
		{"integral double", `SELECT 42.0::DOUBLE`, store.TypeInt64, int64(42)},
		{"integral decimal", `SELECT 42.00::DECIMAL(10,2)`, store.TypeInt64, int64(42)},
		{"double", `SELECT f FROM m WHERE s = 'y'`, store.TypeDouble, 2.25},
		{"avg", `SELECT avg(f) FROM m`, store.TypeDouble, 1.875},
		{"bigint as double", `SELECT i FROM m WHERE s = 'y'`, store.TypeDouble, 5.0},
		{"decimal as double", `SELECT 1.25::DECIMAL(10,2)`, store.TypeDouble, 1.25},
		{"sum of decimal", `SELECT sum(x) FROM (VALUES (1.25::DECIMAL(10,2)), (2.5)) v(x)`, store.TypeDouble, 3.75},
		{"float", `SELECT 0.5::FLOAT`, store.TypeDouble, 0.5},
		{"hugeint as double", `SELECT 170141183460469231731687303715884105727::HUGEINT`, store.TypeDouble, 1.7014118346046923e38},
		{"quantile_cont", `SELECT quantile_cont(i, 0.5) FROM (VALUES (1), (2)) v(i)`, store.TypeDouble, 1.5},
		{"string", `SELECT s FROM m WHERE i = 5`, store.TypeString, "y"},
		{"int as string", `SELECT i FROM m WHERE s = 'y'`, store.TypeString, "5"},
		{"bool", `SELECT ok FROM m WHERE s = 'x'`, store.TypeBool, true},
		{"timestamp", `SELECT time FROM m WHERE s = 'y'`, store.TypeTimestamp, baseTime.Add(time.Hour + 7*time.Microsecond)},
		{"time bucket", `SELECT time_bucket(INTERVAL 1 DAY, time) FROM m WHERE s = 'y'`, store.TypeTimestamp,
			time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"date", `SELECT DATE '2026-11-22'`, store.TypeTimestamp, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"null int", `SELECT i FROM m WHERE s IS NULL`, store.TypeInt64, nil},
		{"null double", `SELECT f FROM m WHERE s IS NULL`, store.TypeDouble, nil},
		{"null string", `SELECT s FROM m WHERE i IS NULL`, store.TypeString, nil},
		{"null bool", `SELECT ok FROM m WHERE s IS NULL`, store.TypeBool, nil},
		{"null timestamp", `SELECT time FROM m WHERE s IS NULL`, store.TypeTimestamp, nil},
		{"sum of nothing", `SELECT sum(i) FROM m WHERE false`, store.TypeInt64, nil},
		{"bound args", `SELECT count(*) FROM m WHERE s = ? AND time >= ?`, store.TypeInt64, int64(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []any
			if tc.name == "bound args" {
				args = []any{"y", baseTime.Add(time.Minute)}
			}
			res, err := s.Query(context.Background(), store.Statement{SQL: tc.sql, Args: args,
				Output: []store.ResultColumn{{Name: "v", Type: tc.typ}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
				t.Fatalf("rows = %v, want one value", res.Rows)
			}
			got := res.Rows[0][0]
			if ts, ok := got.(time.Time); ok {
				if ts.Location() != time.UTC || !ts.Equal(tc.want.(time.Time)) {
					t.Fatalf("got %v (%s), want %v in UTC", ts, ts.Location(), tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			if res.Columns[0].Name != "v" || res.Columns[0].Type != tc.typ {
				t.Fatalf("columns = %+v", res.Columns)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	s := openStore(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		sql  string
		out  []store.ResultColumn
		want string
	}{
		{"column count", `SELECT 1, 2`, []store.ResultColumn{{Type: store.TypeInt64}}, "statement returned 2 columns, planner expected 1"},
		{"fractional to int", `SELECT 1.5::DOUBLE`, []store.ResultColumn{{Name: "x", Type: store.TypeInt64}}, "column x: 1.5 is not an integral INT64"},
		{"hugeint overflow", `SELECT 170141183460469231731687303715884105727::HUGEINT`, []store.ResultColumn{{Type: store.TypeInt64}}, "overflows INT64"},
		{"string to bool", `SELECT 'yes'`, []store.ResultColumn{{Type: store.TypeBool}}, "cannot convert string to BOOL"},
		{"syntax", `SELEC 1`, []store.ResultColumn{{Type: store.TypeInt64}}, "query dataset: Parser Error"},
		{"missing table", `SELECT count(*) FROM nowhere`, []store.ResultColumn{{Type: store.TypeInt64}}, "query dataset: Catalog Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Query(ctx, store.Statement{SQL: tc.sql, Output: tc.out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Query = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestQueryCancel(t *testing.T) {
	s := openStore(t, Config{})
	long := store.Statement{SQL: `SELECT sum(hash(i)) FROM range(1000000000000) r(i)`, Output: []store.ResultColumn{{Type: store.TypeDouble}}}
	for _, tc := range []struct {
		name   string
		cancel func() (context.Context, context.CancelFunc)
		want   error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.cancel()
			defer cancel()
			start := time.Now()
			_, err := s.Query(ctx, long)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Query = %v, want %v", err, tc.want)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("cancelled query returned after %s", el)
			}
		})
	}
	// The pool connection that was interrupted still works.
	if n := countRows(t, s, `SELECT 41 + 1`); n != 42 {
		t.Fatal(n)
	}
}

// Readers run beside the committer: a long query does not hold up writes, and writes do not
// hold up queries.
func TestQueryWhileWriting(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir()})
	d := dataset.Sample()
	ensure(t, s, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Query(ctx, store.Statement{SQL: `SELECT sum(hash(i)) FROM range(1000000000000) r(i)`,
			Output: []store.ResultColumn{{Type: store.TypeDouble}}})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := s.Write(context.Background(), genBatch(d, 100, int64(i*100))); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Fatalf("writes beside a long query took %s", el)
	}
	if n := countRows(t, s, `SELECT count(*) FROM pageviews`); n != 500 {
		t.Fatalf("rows = %d", n)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("long query = %v", err)
	}
}

func TestConvertValue(t *testing.T) {
	dec := func(v int64, scale uint8) duckdb.Decimal {
		return duckdb.Decimal{Width: 18, Scale: scale, Value: big.NewInt(v)}
	}
	for _, tc := range []struct {
		in   any
		typ  store.ColumnType
		want any
		err  bool
	}{
		{uint64(math.MaxUint64), store.TypeInt64, nil, true},
		{uint64(math.MaxUint64), store.TypeString, "18446744073709551615", false},
		{math.NaN(), store.TypeInt64, nil, true},
		{1e19, store.TypeInt64, nil, true},
		{float64(-(1 << 63)), store.TypeInt64, int64(math.MinInt64), false},
		{dec(-1200, 2), store.TypeInt64, int64(-12), false},
		{dec(-1250, 2), store.TypeInt64, nil, true},
		{dec(-1250, 2), store.TypeDouble, -12.5, false},
		{dec(-1250, 2), store.TypeString, "-12.5", false},
		{big.NewInt(-3), store.TypeDouble, -3.0, false},
		{big.NewInt(-3), store.TypeString, "-3", false},
		{[]byte("raw"), store.TypeString, "raw", false},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), store.TypeString, "2026-01-02T02:04:05Z", false},
		{true, store.TypeString, "true", false},
		{int32(3), store.TypeBool, nil, true},
		{"x", store.ColumnType(0), nil, true},
	} {
		got, err := convertValue(tc.in, tc.typ)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("convertValue(%#v, %s) = %#v, %v; want %#v, error %v", tc.in, tc.typ, got, err, tc.want, tc.err)
		}
	}
}
