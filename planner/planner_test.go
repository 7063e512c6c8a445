package planner

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 11, 22, 12, 30, 0, 0, time.UTC)

func clicks(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "clicks", TimeColumn: "time", TenantColumn: "tenant",
		Dimensions: []dataset.Field{
			{Name: "campaign", Type: dataset.String}, {Name: "color", Type: dataset.String},
			{Name: "slot", Type: dataset.Int}, {Name: "mobile", Type: dataset.Bool},
			{Name: "seen", Type: dataset.Timestamp}, {Name: "score", Type: dataset.Float},
		},
		Metrics: []dataset.Field{{Name: "price", Type: dataset.Float}, {Name: "qty", Type: dataset.Int}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func resolve(t testing.TB, js string, o query.Options) *query.Query {
	t.Helper()
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(js), pb); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	if o.Now.IsZero() {
		o.Now = now
	}
	q, err := query.FromProto(pb, clicks(t), o)
	if err != nil {
		t.Fatalf("FromProto %s: %v", js, err)
	}
	return q
}

const day = `"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}`

// fallBack spans the 2026-11-01 DST change in America/New_York.
const fallBack = `"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}`

// goldenCases covers every query shape; each has testdata/duckdb/<name>.sql.
var goldenCases = []struct {
	name, query, tenant string
}{
	{"count_only", `{` + day + `, "metrics": [{"agg": "COUNT"}]}`, ""},
	{"count_field", `{` + day + `, "metrics": [{"agg": "count", "field": "color"}]}`, ""},
	{"sum_int", `{` + day + `, "metrics": [{"agg": "SUM", "field": "qty"}]}`, ""},
	{"sum_float", `{` + day + `, "metrics": [{"agg": "sum", "field": "price", "as": "revenue"}]}`, ""},
	{"avg", `{` + day + `, "metrics": [{"agg": "AVG", "field": "qty"}, {"agg": "avg", "field": "price"}]}`, ""},
	{"min_max", `{` + day + `, "metrics": [{"agg": "MIN", "field": "price"}, {"agg": "MAX", "field": "qty"}, {"agg": "max", "field": "seen"}]}`, ""},
	{"count_distinct", `{` + day + `, "metrics": [{"agg": "COUNT_DISTINCT", "field": "campaign"}]}`, ""},
	{"approx_count_distinct", `{` + day + `, "metrics": [{"agg": "APPROX_COUNT_DISTINCT", "field": "campaign"}]}`, ""},
	{"percentile", `{` + day + `, "metrics": [{"agg": "PERCENTILE", "field": "price", "p": 0.99}, {"agg": "percentile", "field": "qty", "p": 0.999}]}`, ""},
	{"approx_percentile", `{` + day + `, "metrics": [{"agg": "APPROX_PERCENTILE", "field": "qty", "p": 0.5}]}`, ""},
	{"group_by", `{` + day + `, "groupBy": ["campaign", "mobile"], "metrics": [{"agg": "COUNT"}, {"agg": "SUM", "field": "qty"}]}`, ""},
	{"filter_eq", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}}`, ""},
	{"filter_neq", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "mobile", "op": "neq", "values": [true]}}}`, ""},
	{"filter_in", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "color", "op": "IN", "values": ["red", "blue", "o'brien"]}}}`, ""},
	{"filter_not_in", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "slot", "op": "NOT_IN", "values": [1, 2]}}}`, ""},
	{"filter_lt", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "price", "op": "LT", "values": [9.99]}}}`, ""},
	{"filter_lte", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "qty", "op": "LTE", "values": [10]}}}`, ""},
	{"filter_gt", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "seen", "op": "GT", "values": ["2026-11-21T23:00:00-05:00"]}}}`, ""},
	{"filter_gte", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "score", "op": "GTE", "values": [1e21]}}}`, ""},
	{"filter_between", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "qty", "op": "BETWEEN", "values": [1, 100]}}}`, ""},
	{"filter_contains", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "campaign", "op": "CONTAINS", "values": ["50%_off"]}}}`, ""},
	{"filter_is_null", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "color", "op": "IS_NULL"}}}`, ""},
	{"filter_nested", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"or": {"filters": [
		{"and": {"filters": [{"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, {"not": {"cmp": {"field": "slot", "op": "IS_NULL"}}}]}},
		{"not": {"or": {"filters": [{"cmp": {"field": "campaign", "op": "CONTAINS", "values": ["x"]}}, {"cmp": {"field": "qty", "op": "GT", "values": [5]}}]}}}]}}}`, ""},
	{"having", `{` + day + `, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "qty"}, {"agg": "PERCENTILE", "field": "price", "p": 0.5}],
		"having": {"and": {"filters": [{"cmp": {"field": "n", "op": "GTE", "values": [10]}}, {"cmp": {"field": "p50_price", "op": "BETWEEN", "values": [1, 2.5]}}, {"not": {"cmp": {"field": "sum_qty", "op": "IS_NULL"}}}]}}}`, ""},
	{"order_limit", `{` + day + `, "groupBy": ["campaign", "color"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}],
		"orderBy": [{"by": "revenue", "desc": true}, {"by": "COLOR"}], "limit": 10}`, ""},
	{"granularity_s", `{` + day + `, "granularity": "30s", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"granularity_m", `{` + day + `, "granularity": "15m", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"granularity_h", `{` + day + `, "granularity": "1h", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}], "orderBy": [{"by": "count", "desc": true}]}`, ""},
	{"granularity_d", `{` + day + `, "granularity": "1d", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"granularity_w", `{` + day + `, "granularity": "2w", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_fixed_h", `{` + day + `, "granularity": "1h", "timeZone": "Asia/Kolkata", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_no_change_h", `{` + day + `, "granularity": "1h", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_utc_offset_d", `{` + day + `, "granularity": "1d", "timeZone": "Europe/London", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_dst_m", `{` + fallBack + `, "granularity": "15m", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_dst_d", `{` + fallBack + `, "granularity": "1d", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"zone_dst_w", `{"timeRange": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}, "granularity": "1w", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}`, ""},
	{"tenant", `{` + day + `, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}}`, "acme"},
	{"tenant_only", `{` + day + `, "metrics": [{"agg": "COUNT"}]}`, "it's \"acme\""},
	{"filtered_ratio", `{` + day + `, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"},
		{"agg": "COUNT", "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, "as": "reds"},
		{"agg": "SUM", "field": "qty", "filter": {"not": {"cmp": {"field": "slot", "op": "IN", "values": [1, 2]}}}, "as": "qty_off_slot"},
		{"agg": "PERCENTILE", "field": "price", "p": 0.9, "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "p90_mobile"},
		{"ratio": ["reds", "count"], "as": "red_share"}],
		"having": {"cmp": {"field": "red_share", "op": "GT", "values": [0.1]}}, "orderBy": [{"by": "red_share", "desc": true}]}`, ""},
	{"exemplar", `{` + day + `, "granularity": "1h", "metrics": [{"agg": "MAX", "field": "price"},
		{"agg": "ARG_MAX", "field": "campaign", "by": "price"},
		{"agg": "ARG_MIN", "field": "seen", "by": "qty", "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "first_mobile"}]}`, ""},
	{"series_limit", `{` + day + `, "granularity": "1h", "groupBy": ["campaign", "slot"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}, {"agg": "COUNT"}], "seriesLimit": 3}`, "acme"},
	{"compare", `{` + day + `, "granularity": "6h", "groupBy": ["color"], "metrics": [{"agg": "COUNT"}, {"agg": "AVG", "field": "price"}], "compare": "previous_period", "limit": 50}`, ""},
	{"time_series", `{` + day + `, "granularity": "1h", "timeZone": "Asia/Kolkata", "groupBy": ["mobile"], "metrics": [{"agg": "COUNT"}], "timeSeries": true}`, ""},
	{"dashboard_all", `{` + fallBack + `, "granularity": "1d", "timeZone": "America/New_York", "groupBy": ["campaign"],
		"metrics": [{"agg": "COUNT", "filter": {"cmp": {"field": "price", "op": "GTE", "values": [100]}}, "as": "big"}, {"agg": "COUNT"}, {"ratio": ["big", "count"], "as": "big_share"}],
		"seriesLimit": 2, "compare": "previous_period", "timeSeries": true}`, ""},
	{"design_example", `{"dataset": "clicks",
	 "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"},
	 "granularity": "1h",
	 "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "price", "as": "revenue"},
	             {"agg": "PERCENTILE", "field": "price", "p": 0.99}],
	 "groupBy": ["campaign"],
	 "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": ["red", "blue"]}},
	                                {"not": {"cmp": {"field": "campaign", "op": "EQ", "values": ["NONE"]}}}]}},
	 "orderBy": [{"by": "revenue", "desc": true}], "limit": 10}`, ""},
}

// TestGolden compares each case's statement, arguments, output columns and rendering with
// testdata/<dialect>/<case>.sql for every registered dialect; go test ./planner -update
// rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range Dialects() {
		for _, tc := range goldenCases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				q := resolve(t, tc.query, query.Options{Tenant: tc.tenant})
				p, err := New(q, name)
				if err != nil {
					t.Fatal(err)
				}
				if ph := dialects[name].placeholder(); ph != "" {
					if n := strings.Count(p.Stmt.SQL, ph); n != len(p.Stmt.Args) {
						t.Fatalf("%d placeholders, %d args", n, len(p.Stmt.Args))
					}
				} else if len(p.Stmt.Args) != 0 {
					t.Fatalf("dialect %s takes no parameters but the statement has %d args", name, len(p.Stmt.Args))
				}
				checkGolden(t, filepath.Join("testdata", name, tc.name+".sql"), golden(tc.query, tc.tenant, p))
			})
		}
	}
}

// checkGolden compares got with the file at path, or rewrites it under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./planner -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func golden(js, tenant string, p *Plan) string {
	var b strings.Builder
	b.WriteString("-- query: " + strings.Join(strings.Fields(js), " ") + "\n")
	if tenant != "" {
		fmt.Fprintf(&b, "-- tenant: %q\n", tenant)
	}
	b.WriteString(p.Stmt.SQL + ";\n\n-- args:\n")
	for i, a := range p.Stmt.Args {
		v := fmt.Sprintf("%q", a)
		switch x := a.(type) {
		case time.Time:
			v = x.Format(time.RFC3339Nano)
		case int64, float64, bool:
			v = fmt.Sprint(x)
		}
		fmt.Fprintf(&b, "--   $%d %T %s\n", i+1, a, v)
	}
	b.WriteString("-- output:\n")
	for _, c := range p.Stmt.Output {
		fmt.Fprintf(&b, "--   %q %s", c.Name, c.Type)
		if c.Approximate {
			b.WriteString(" approximate")
		}
		b.WriteString("\n")
	}
	if ex := Explain(p); ex != Render(p) {
		b.WriteString("\n-- explained:\n" + ex)
	} else {
		b.WriteString("\n-- rendered:\n" + ex + ";\n")
	}
	return b.String()
}

func TestUnknownDialect(t *testing.T) {
	q := resolve(t, `{`+day+`, "metrics": [{"agg": "COUNT"}]}`, query.Options{})
	if _, err := New(q, "oracle"); err == nil || !strings.Contains(err.Error(), `SQL dialect "oracle" is not supported`) {
		t.Errorf("error %v", err)
	}
}

func TestRenderLiterals(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"it's", `'it''s'`},
		{`back\slash "q"`, `'back\slash "q"'`},
		{"a\x00b'", `('a' || chr(0) || 'b''')`},
		{int64(-42), "-42"},
		{1.5, "CAST(1.5 AS DOUBLE)"},
		{1e21, "CAST(1e+21 AS DOUBLE)"},
		{true, "TRUE"},
		{time.Date(2026, 11, 22, 1, 2, 3, 456000, time.UTC), "TIMESTAMP '2026-11-22 01:02:03.000456'"},
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.FixedZone("x", 3600)), "TIMESTAMP '2026-11-21 23:00:00'"},
		{nil, "NULL"},
	} {
		if got := (duckdb{}).literal(tc.v); got != tc.want {
			t.Errorf("literal(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestFinish(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	t.Run("calendar buckets become local midnights", func(t *testing.T) {
		q := resolve(t, `{`+fallBack+`, "granularity": "1d", "timeZone": "America/New_York", "metrics": [{"agg": "MAX", "field": "seen"}]}`, query.Options{})
		p, err := New(q, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		// What DuckDB returns: wall-clock midnights as UTC-labelled timestamps.
		r := &store.Result{Columns: []store.ResultColumn{{Name: "__time"}, {Name: "__m0"}}, Rows: [][]any{
			{utc("2026-10-31T00:00:00Z"), utc("2026-10-31T12:00:00Z")},
			{utc("2026-11-01T00:00:00Z"), nil},
			{utc("2026-11-02T00:00:00Z"), utc("2026-11-02T12:00:00Z")},
		}}
		if err := p.Finish(r); err != nil {
			t.Fatal(err)
		}
		want := []string{"2026-10-31T00:00:00-04:00", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"}
		for i, w := range want {
			if got := r.Rows[i][0].(time.Time); got.Format(time.RFC3339) != w || got.Location().String() != ny.String() {
				t.Errorf("row %d bucket %v, want %s", i, got, w)
			}
		}
		if got := r.Rows[0][1].(time.Time).Format(time.RFC3339); got != "2026-10-31T08:00:00-04:00" {
			t.Errorf("max_seen %s", got)
		}
		if r.Rows[1][1] != nil || r.Columns[1].Name != "max_seen" || r.Columns[1].Type != store.TypeTimestamp {
			t.Errorf("row 1 %v, columns %v", r.Rows[1], r.Columns)
		}
	})
	t.Run("fixed buckets are instants", func(t *testing.T) {
		q := resolve(t, `{`+fallBack+`, "granularity": "1h", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}`, query.Options{})
		p, err := New(q, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		r := &store.Result{Columns: make([]store.ResultColumn, 2), Rows: [][]any{
			{utc("2026-11-01T05:00:00Z"), int64(1)}, {utc("2026-11-01T06:00:00Z"), int64(2)},
		}}
		if err := p.Finish(r); err != nil {
			t.Fatal(err)
		}
		for i, w := range []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"} {
			if got := r.Rows[i][0].(time.Time).Format(time.RFC3339); got != w {
				t.Errorf("row %d: %s, want %s", i, got, w)
			}
		}
	})
	t.Run("shape errors", func(t *testing.T) {
		q := resolve(t, `{`+day+`, "metrics": [{"agg": "COUNT"}]}`, query.Options{})
		p, err := New(q, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]*store.Result{
			"columns": {Columns: make([]store.ResultColumn, 2)},
			"row":     {Columns: make([]store.ResultColumn, 1), Rows: [][]any{{int64(1), int64(2)}}},
			"type":    {Columns: make([]store.ResultColumn, 1), Rows: [][]any{{"1"}}},
		} {
			if err := p.Finish(r); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}
