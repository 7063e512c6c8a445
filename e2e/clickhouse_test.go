package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/chdbtest"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/query/refeval"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
	"github.com/olapgate/olapgate/store/embedded"
)

// chClicks is the planner golden tests' dataset (planner/planner_test.go clicks): the golden
// queries resolve against it, and the check below fails if the two drift apart.
func chClicks(t testing.TB) *dataset.Dataset {
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

// chCampaigns are campaign values: the golden queries' own, and strings that would break out
// of a badly escaped ClickHouse literal (backslash escapes, quotes, NUL, comments, unicode).
var chCampaigns = []string{
	"", "x", "NONE", "50%_off", "50x_off", "summer sale", "O'Brien", `back\slash`, `\'`, `\\'`, "''",
	"é", "🙂", "a\x00b", "line\nbreak\ttab", "--", "/*", "#", ";", "\u202e", "?", "$1", "＇", `\x27`, "`", `"`,
}

// chRows covers every type with nulls, on the golden queries' days (2026-11-22 and the day
// before, for compare), around the 2026-11-01 DST change, and across 2025-2026 (weekly
// buckets and their previous period). A fifth of the times sit on hour boundaries.
func chRows(r *rand.Rand, n int) []map[string]any {
	maybe := func(v any) any {
		if r.IntN(10) == 0 {
			return nil
		}
		return v
	}
	within := func(a, b time.Time) time.Time {
		return a.Add(time.Duration(r.Int64N(b.Sub(a).Microseconds())) * time.Microsecond)
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	rows := make([]map[string]any, n)
	for i := range rows {
		var t time.Time
		switch k := r.IntN(20); {
		case k < 8:
			t = within(day, day.AddDate(0, 0, 1))
		case k < 11:
			t = within(day.AddDate(0, 0, -1), day)
		case k < 16:
			t = within(time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
		default:
			t = within(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		if r.IntN(5) == 0 {
			t = t.Truncate(time.Hour)
		}
		price := float64(r.IntN(400)) / 100
		if r.IntN(20) == 0 {
			price = float64(100 + r.IntN(1000))
		}
		score := float64(r.IntN(1000)) / 10
		if r.IntN(20) == 0 {
			score = []float64{1e21, 3e21}[r.IntN(2)]
		}
		rows[i] = map[string]any{
			"time":     t,
			"campaign": maybe(chCampaigns[r.IntN(len(chCampaigns))]),
			"color":    maybe([]string{"red", "blue", "o'brien", "Red", "green"}[r.IntN(5)]),
			"slot":     maybe(int64(r.IntN(26) - 5)),
			"mobile":   maybe(r.IntN(2) == 0),
			"seen":     maybe(within(day.Add(-24*time.Hour), day.Add(24*time.Hour))),
			"score":    maybe(score),
			"price":    maybe(price),
			"qty":      maybe(int64(r.IntN(200))),
			"tenant":   maybe([]string{"acme", "globex", `it's "acme"`}[r.IntN(3)]),
		}
	}
	return rows
}

// chInsert is an INSERT of rows in JSONEachRow: values as JSON, independent of the dialect's
// literal escaping, which the queries test.
func chInsert(t *testing.T, d *dataset.Dataset, rows []map[string]any) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO `" + d.Name + "` FORMAT JSONEachRow\n")
	for _, row := range rows {
		obj := map[string]any{}
		for k, v := range row {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format("2006-01-02 15:04:05.000000")
			}
			obj[k] = v
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// chdbQuerier runs statements on a chdb session and converts the answers by store/clickhouse's
// rules (ConvertValue), as the store does with ch-go's columns.
type chdbQuerier struct{ s *chdbtest.Session }

func (c chdbQuerier) Query(_ context.Context, st store.Statement) (*store.Result, error) {
	if len(st.Args) > 0 {
		return nil, fmt.Errorf("the ClickHouse dialect binds no arguments, got %d", len(st.Args))
	}
	res, err := c.s.Run(st.SQL)
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	if len(res[0].Columns) != len(st.Output) {
		return nil, fmt.Errorf("statement returned %d columns, planner expected %d", len(res[0].Columns), len(st.Output))
	}
	vals, err := res[0].Values()
	if err != nil {
		return nil, err
	}
	for _, row := range vals {
		for j, v := range row {
			if row[j], err = clickhouse.ConvertValue(v, st.Output[j].Type); err != nil {
				return nil, fmt.Errorf("column %s (%s): %w", st.Output[j].Name, res[0].Columns[j].Type, err)
			}
		}
	}
	return &store.Result{Columns: append([]store.ResultColumn(nil), st.Output...), Rows: vals}, nil
}

// goldenQuery is a planner golden file's query and tenant.
type goldenQuery struct {
	name, query, tenant, sql string
}

func readGoldens(t *testing.T, dir string) []goldenQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s: %v", dir, err)
	}
	var out []goldenQuery
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		g := goldenQuery{name: strings.TrimSuffix(filepath.Base(f), ".sql"), sql: string(raw)}
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "-- query: "); ok {
				g.query = v
			} else if v, ok := strings.CutPrefix(line, "-- tenant: "); ok {
				if g.tenant, err = strconv.Unquote(v); err != nil {
					t.Fatalf("%s: tenant %s: %v", f, v, err)
				}
			} else if !strings.HasPrefix(line, "--") {
				break
			}
		}
		if g.query == "" {
			t.Fatalf("%s has no -- query: line", f)
		}
		out = append(out, g)
	}
	return out
}

// TestClickHouseMatchesEmbedded loads the same rows into chdb (ClickHouse 26.7, through the
// table store/clickhouse creates) and into the embedded store (DuckDB), runs every ClickHouse
// golden query of the planner on chdb and its DuckDB plan on the embedded store, and compares
// the answers: types exactly; values exactly (times with their zone's offset), but for floats
// (1e-9 relative: sums in another order) and the approximate aggregates (bounds below). Then
// the same for filters on hostile strings, which must reach ClickHouse intact.
func TestClickHouseMatchesEmbedded(t *testing.T) {
	runner := chdbtest.Require(t)
	ctx := context.Background()
	d := chClicks(t)
	rows := chRows(rand.New(rand.NewPCG(3, 3)), 4000)

	sess, err := runner.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	}()
	ddl, err := clickhouse.CreateTableSQL(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.Run(ddl, chInsert(t, d, rows), "SELECT count() FROM `clicks`")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("statement %d: %v\n%s", i, r.Err, ddl)
		}
	}
	if got := fmt.Sprint(res[2].Rows); got != fmt.Sprintf("[[%d]]", len(rows)) {
		t.Fatalf("chdb holds %s rows, want %d", got, len(rows))
	}
	// The table as ClickHouse describes it is what AddColumnsSQL reads: nothing to add.
	res, err = sess.Run("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'clicks'")
	if err != nil || res[0].Err != nil {
		t.Fatalf("describe: %v %v", err, res[0].Err)
	}
	existing := map[string]string{}
	for _, row := range res[0].Rows {
		existing[row[0].(string)] = row[1].(string)
	}
	if alter, err := clickhouse.AddColumnsSQL(d, existing); err != nil || alter != "" {
		t.Fatalf("AddColumnsSQL on the created table: %q, %v", alter, err)
	}

	duck, err := embedded.Open(ctx, embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := duck.Close(); err != nil {
			t.Errorf("close embedded store: %v", err)
		}
	}()
	if err := duck.EnsureDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := duck.Write(ctx, toBatch(d, rows)); err != nil {
		t.Fatal(err)
	}
	ch := chdbQuerier{sess}

	now := time.Date(2026, 11, 22, 12, 30, 0, 0, time.UTC) // the goldens' now
	compare := func(t *testing.T, what string, q *query.Query) (nonEmpty bool) {
		t.Helper()
		pc, err := planner.New(q, "clickhouse")
		if err != nil {
			t.Fatal(err)
		}
		pd, err := planner.New(q, duck.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		got, err := pc.Execute(ctx, ch)
		if err != nil {
			t.Fatalf("%s: on chdb: %v\n%s", what, err, planner.Render(pc))
		}
		want, err := pd.Execute(ctx, duck)
		if err != nil {
			t.Fatalf("%s: on the embedded store: %v", what, err)
		}
		chCompare(t, what+"\n"+planner.Render(pc), want, got)
		for _, row := range want.Rows {
			for _, v := range row[len(row)-len(q.Metrics):] {
				if v != nil && v != int64(0) {
					nonEmpty = true
				}
			}
		}
		return nonEmpty
	}

	goldens := readGoldens(t, filepath.Join("..", "planner", "testdata", "clickhouse"))
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			pb := &olapgatev1.Query{}
			if err := protojson.Unmarshal([]byte(g.query), pb); err != nil {
				t.Fatal(err)
			}
			q, err := query.FromProto(pb, d, query.Options{Now: now, Tenant: g.tenant})
			if err != nil {
				t.Fatal(err)
			}
			p, err := planner.New(q, "clickhouse")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(g.sql, p.Stmt.SQL+";\n") {
				t.Fatalf("the golden file is stale or the dataset differs from the planner tests' (go test ./planner -update):\n%s", p.Stmt.SQL)
			}
			if !compare(t, g.query, q) {
				t.Logf("%s: every metric is empty or zero on this data", g.name)
			}
		})
	}

	t.Run("hostile strings", func(t *testing.T) {
		for i, v := range chCampaigns {
			for _, js := range []string{
				`{"groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "campaign", "op": "EQ", "values": [%s]}}}`,
				`{"metrics": [{"agg": "COUNT"}, {"agg": "COUNT_DISTINCT", "field": "campaign"}], "filter": {"or": {"filters": [{"cmp": {"field": "campaign", "op": "CONTAINS", "values": [%[1]s]}}, {"cmp": {"field": "campaign", "op": "IN", "values": ["x", %[1]s]}}]}}}`,
			} {
				lit, _ := json.Marshal(v)
				body := fmt.Sprintf(js, lit)
				body = `{"timeRange": {"start": "2025-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}, ` + body[1:]
				pb := &olapgatev1.Query{}
				if err := protojson.Unmarshal([]byte(body), pb); err != nil {
					t.Fatal(err)
				}
				q, err := query.FromProto(pb, d, query.Options{Now: now, Tenant: `it's "acme"`})
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("campaign %d %q: %s", i, v, body)
				if strings.Contains(v, "\x00") {
					// The embedded store does not match NUL in strings (it stores them, but
					// DuckDB's comparisons end at the NUL): check ClickHouse against the
					// reference evaluator alone.
					p, err := planner.New(q, "clickhouse")
					if err != nil {
						t.Fatal(err)
					}
					got, err := p.Execute(ctx, ch)
					if err != nil {
						t.Fatalf("%s: on chdb: %v", what, err)
					}
					want, err := refeval.Eval(q, d, rows)
					if err != nil {
						t.Fatal(err)
					}
					chCompare(t, what, want, got)
					if len(got.Rows) == 0 || got.Rows[0][len(got.Rows[0])-1] == int64(0) {
						t.Errorf("%s: no rows matched; the check proves nothing", what)
					}
					continue
				}
				if !compare(t, what, q) && v != "x" {
					t.Errorf("campaign %q: no rows matched on either store; the check proves nothing", v)
				}
			}
		}
	})
}

// chCompare checks got (chdb) against want (embedded) row by row: both are in the plan's full
// order, so rows line up.
func chCompare(t *testing.T, what string, want, got *store.Result) {
	t.Helper()
	if fmt.Sprint(got.Columns) != fmt.Sprint(want.Columns) {
		t.Fatalf("%s: columns %v, want %v", what, got.Columns, want.Columns)
	}
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", what, len(got.Rows), len(want.Rows), headRows(got.Rows), headRows(want.Rows))
	}
	for i := range want.Rows {
		for j, c := range want.Columns {
			w, g := want.Rows[i][j], got.Rows[i][j]
			if c.Approximate && w != nil && g != nil {
				if !approxClose(w, g) {
					t.Fatalf("%s: row %d %s = %v, embedded %v: too far apart for two estimates", what, i, c.Name, g, w)
				}
				continue
			}
			if !sameValue(w, g) {
				t.Fatalf("%s: row %d column %s = %v (%T), want %v (%T)\ngot  %v\nwant %v", what, i, c.Name, g, g, w, w, got.Rows[i], want.Rows[i])
			}
		}
	}
}

// approxClose: distinct counts within DuckDB's HyperLogLog error (64 registers, about 13%
// standard error: 4 sigma plus 3), since ClickHouse's uniq is exact on this little data;
// t-digest percentiles within 15% of their magnitude plus 1.
func approxClose(w, g any) bool {
	switch x := w.(type) {
	case int64:
		y := g.(int64)
		return math.Abs(float64(x-y)) <= 0.52*float64(max(x, y))+3
	case float64:
		y := g.(float64)
		return math.Abs(x-y) <= 0.15*math.Max(math.Abs(x), math.Abs(y))+1
	}
	return false
}

// TestClickHouseAgainstReference is TestPlannerAgainstReference for the ClickHouse dialect on
// chdb: random queries (every aggregate, filter, zone and granularity, tenants) and dashboard
// queries (filtered aggregates, ratios, seriesLimit, compare, timeSeries) over random rows
// with nulls, planned for ClickHouse and compared with the reference evaluator.
func TestClickHouseAgainstReference(t *testing.T) {
	runner := chdbtest.Require(t)
	ctx := context.Background()
	d := propDataset(t)
	sess, err := runner.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	}()
	ddl, err := clickhouse.CreateTableSQL(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows := randomRows(rand.New(rand.NewPCG(5, 7)), 2500)
	res, err := sess.Run(ddl, chInsert(t, d, rows))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("load statement %d: %v", i, r.Err)
		}
	}
	ch := chdbQuerier{sess}
	r := rand.New(rand.NewPCG(5, 11))
	for i := range 100 {
		rq := newRandomQuery(r)
		raw, _ := protojson.Marshal(rq.pb)
		what := fmt.Sprintf("query %d (tenant %q): %s", i, rq.tenant, raw)
		q, err := query.FromProto(rq.pb, d, query.Options{Now: time.Now(), Tenant: rq.tenant})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want, err := refeval.Eval(q, d, rows)
		if err != nil {
			t.Fatalf("%s: refeval: %v", what, err)
		}
		p, err := planner.New(q, "clickhouse")
		if err != nil {
			t.Fatalf("%s: plan: %v", what, err)
		}
		got, err := p.Execute(ctx, ch)
		if err != nil {
			t.Fatalf("%s: on chdb: %v\n%s", what, err, planner.Render(p))
		}
		compareAnswers(t, what+"\n"+planner.Render(p), q, d, rows, want, got)
	}
	for i := range 60 {
		rq := newDashboardQuery(r)
		q, err := resolveDashboard(rq.pb, d, query.Options{Now: time.Now(), Tenant: rq.tenant})
		raw, _ := protojson.Marshal(rq.pb)
		what := fmt.Sprintf("dashboard query %d (tenant %q): %s", i, rq.tenant, raw)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		p, err := planner.New(q, "clickhouse")
		if err != nil {
			t.Fatalf("%s: plan: %v", what, err)
		}
		want, werr := refeval.Eval(q, d, rows)
		got, gerr := p.Execute(ctx, ch)
		switch {
		case werr != nil && gerr != nil:
			continue // both refuse (a filled answer over the limit)
		case werr != nil:
			t.Fatalf("%s: refeval: %v", what, werr)
		case gerr != nil:
			t.Fatalf("%s: on chdb: %v\n%s", what, gerr, planner.Render(p))
		}
		compareAnswers(t, what+"\n"+planner.Render(p), q, d, rows, want, got)
	}
}
