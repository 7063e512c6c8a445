package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/query/refeval"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// propDataset has a column of every type; "tenant" is the implicit tenant column.
func propDataset(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "props", TimeColumn: "time", TenantColumn: "tenant",
		Dimensions: []dataset.Field{
			{Name: "s", Type: dataset.String}, {Name: "c", Type: dataset.String}, {Name: "n", Type: dataset.Int},
			{Name: "f", Type: dataset.Float}, {Name: "b", Type: dataset.Bool}, {Name: "ts", Type: dataset.Timestamp},
		},
		Metrics: []dataset.Field{{Name: "mi", Type: dataset.Int}, {Name: "mf", Type: dataset.Float}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// The rows fall in two windows: America/New_York's spring-forward (2026-03-08) and
// fall-back (2026-11-01) days, each with a few days around it.
var windows = [][2]time.Time{
	{time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
	{time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)},
}

var strPool = []string{"", "a", "b", "docs", "docs/intro", "O'Brien", `say "hi"`, "é", "ß", "Z", "z", "a--b", "x;y", "100%", "under_score", `back\slash`}

func randomRows(r *rand.Rand, n int) []map[string]any {
	rows := make([]map[string]any, n)
	maybe := func(v any) any {
		if r.IntN(10) == 0 {
			return nil
		}
		return v
	}
	for i := range rows {
		w := windows[r.IntN(len(windows))]
		span := w[1].Sub(w[0]).Microseconds()
		t := w[0].Add(time.Duration(r.Int64N(span)) * time.Microsecond)
		if r.IntN(5) == 0 {
			t = t.Truncate(time.Hour) // rows on bucket and zone-change boundaries
		}
		rows[i] = map[string]any{
			"time":   t,
			"s":      maybe(strPool[r.IntN(len(strPool))]),
			"c":      maybe([]string{"red", "green", "blue", "Red"}[r.IntN(4)]),
			"n":      maybe(int64(r.IntN(26) - 5)),
			"f":      maybe(float64(r.IntN(2000)) / 8),
			"b":      maybe(r.IntN(2) == 0),
			"ts":     maybe(w[0].Add(time.Duration(r.Int64N(span)) * time.Microsecond)),
			"mi":     maybe(int64(r.IntN(10000))),
			"mf":     maybe(r.Float64() * 1000),
			"tenant": maybe([]string{"acme", "globex"}[r.IntN(2)]),
		}
	}
	return rows
}

// toBatch lays rows out in the dataset's column order.
func toBatch(d *dataset.Dataset, rows []map[string]any) *store.Batch {
	b := store.NewBatch(d, len(rows))
	for ci, c := range d.Columns() {
		cb := &b.Cols[ci]
		cb.Null = make([]bool, len(rows))
		for i, row := range rows {
			v := row[c.Name]
			cb.Null[i] = v == nil
			switch c.Type {
			case dataset.String:
				s, _ := v.(string)
				cb.Strings = append(cb.Strings, s)
			case dataset.Int:
				n, _ := v.(int64)
				cb.Ints = append(cb.Ints, n)
			case dataset.Float:
				f, _ := v.(float64)
				cb.Floats = append(cb.Floats, f)
			case dataset.Bool:
				x, _ := v.(bool)
				cb.Bools = append(cb.Bools, x)
			case dataset.Timestamp:
				var us int64
				if tm, ok := v.(time.Time); ok {
					us = tm.UnixMicro()
				}
				cb.Times = append(cb.Times, us)
			}
		}
	}
	b.N = len(rows)
	return b
}

type metricSpec struct {
	agg, field string
	p          float64
	exact      bool   // an integer-valued answer: safe to order and filter by
	by         string // ARG_MAX, ARG_MIN
}

var metricPool = []metricSpec{
	{"COUNT", "", 0, true, ""}, {"count", "s", 0, true, ""}, {"SUM", "mi", 0, true, ""}, {"sum", "mf", 0, false, ""},
	{"AVG", "mi", 0, false, ""}, {"avg", "mf", 0, false, ""}, {"MIN", "mf", 0, false, ""}, {"MAX", "mi", 0, true, ""},
	{"MIN", "ts", 0, false, ""}, {"MAX", "time", 0, false, ""}, {"COUNT_DISTINCT", "s", 0, true, ""},
	{"COUNT_DISTINCT", "n", 0, true, ""}, {"APPROX_COUNT_DISTINCT", "s", 0, false, ""},
	{"PERCENTILE", "mi", 0.5, false, ""}, {"PERCENTILE", "mf", 0.99, false, ""}, {"percentile", "mi", 0.999, false, ""},
	{"APPROX_PERCENTILE", "mf", 0.9, false, ""}, {"MIN", "n", 0, true, ""},
	// Exemplars: ties on by (mi has many) go to the extreme field value on every evaluator.
	{"ARG_MAX", "s", 0, false, "mi"}, {"arg_min", "ts", 0, false, "mf"}, {"ARG_MAX", "n", 0, true, "time"},
	{"ARG_MIN", "b", 0, false, "mi"},
}

func num(f float64) *structpb.Value { return structpb.NewNumberValue(f) }
func str(s string) *structpb.Value  { return structpb.NewStringValue(s) }

// randomValue is a request value for a field, sometimes spelled as the other accepted form.
func randomValue(r *rand.Rand, field string) *structpb.Value {
	switch field {
	case "s":
		return str(strPool[r.IntN(len(strPool))])
	case "c":
		return str([]string{"red", "green", "blue", "Red", "purple"}[r.IntN(5)])
	case "tenant":
		return str([]string{"acme", "globex"}[r.IntN(2)])
	case "n":
		return num(float64(r.IntN(26) - 5))
	case "mi":
		if r.IntN(4) == 0 {
			return str(fmt.Sprint(r.IntN(10000)))
		}
		return num(float64(r.IntN(10000)))
	case "f":
		return num(float64(r.IntN(2000)) / 8)
	case "mf":
		return num(r.Float64() * 1000)
	case "b":
		return structpb.NewBoolValue(r.IntN(2) == 0)
	}
	w := windows[r.IntN(len(windows))]
	t := w[0].Add(time.Duration(r.Int64N(int64(w[1].Sub(w[0])))))
	if r.IntN(2) == 0 {
		return num(float64(t.UnixMilli()))
	}
	return str(t.Format(time.RFC3339Nano))
}

func randomFilter(r *rand.Rand, depth int) *olapgatev1.Filter {
	if depth < 2 && r.IntN(3) == 0 {
		switch r.IntN(3) {
		case 0:
			return &olapgatev1.Filter{Kind: &olapgatev1.Filter_And{And: &olapgatev1.FilterList{Filters: []*olapgatev1.Filter{randomFilter(r, depth+1), randomFilter(r, depth+1)}}}}
		case 1:
			return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Or{Or: &olapgatev1.FilterList{Filters: []*olapgatev1.Filter{randomFilter(r, depth+1), randomFilter(r, depth+1)}}}}
		}
		return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Not{Not: randomFilter(r, depth+1)}}
	}
	fields := []string{"s", "c", "tenant", "n", "mi", "f", "mf", "b", "ts", "time"}
	field := fields[r.IntN(len(fields))]
	ops := []string{"EQ", "NEQ", "IN", "NOT_IN", "LT", "LTE", "GT", "GTE", "BETWEEN", "IS_NULL"}
	switch field {
	case "s", "c", "tenant":
		ops = append(ops, "CONTAINS", "CONTAINS")
	case "b":
		ops = []string{"EQ", "NEQ", "IN", "NOT_IN", "IS_NULL"}
	}
	op := ops[r.IntN(len(ops))]
	c := &olapgatev1.Comparison{Field: field, Op: op}
	switch op {
	case "IS_NULL":
	case "IN", "NOT_IN":
		for range 1 + r.IntN(4) {
			c.Values = append(c.Values, randomValue(r, field))
		}
	case "BETWEEN":
		c.Values = []*structpb.Value{randomValue(r, field), randomValue(r, field)}
	case "CONTAINS":
		c.Values = []*structpb.Value{str([]string{"o", "", "docs", "'", "%", "_", "R", "e"}[r.IntN(8)])}
	default:
		c.Values = []*structpb.Value{randomValue(r, field)}
	}
	return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Cmp{Cmp: c}}
}

type randomQuery struct {
	pb     *olapgatev1.Query
	tenant string
}

func newRandomQuery(r *rand.Rand) randomQuery {
	pb := &olapgatev1.Query{Dataset: "props"}
	// The whole data (a range with two zone changes), one window, or a cut through one.
	switch r.IntN(4) {
	case 0:
		pb.TimeRange = &olapgatev1.TimeRange{Start: "2026-03-01T00:00:00Z", End: "2026-11-10T00:00:00Z"}
	case 1, 2:
		w := windows[r.IntN(len(windows))]
		pb.TimeRange = &olapgatev1.TimeRange{Start: w[0].Format(time.RFC3339), End: fmt.Sprint(w[1].UnixMilli())}
	default:
		w := windows[r.IntN(len(windows))]
		s := w[0].Add(time.Duration(r.IntN(72))*time.Hour + 17*time.Minute + 3*time.Second)
		pb.TimeRange = &olapgatev1.TimeRange{Start: s.Format(time.RFC3339Nano), End: s.Add(time.Duration(3+r.IntN(60)) * time.Hour).Format(time.RFC3339)}
	}
	pb.Granularity = []string{"", "", "15m", "1h", "2h", "30s", "1d", "1w", "6h"}[r.IntN(9)]
	pb.TimeZone = []string{"", "UTC", "America/New_York", "America/New_York", "Asia/Kolkata", "Europe/London"}[r.IntN(6)]

	perm := r.Perm(len(metricPool))
	var exact []string
	for i := range 1 + r.IntN(4) {
		m := metricPool[perm[i]]
		pm := &olapgatev1.Metric{Agg: m.agg, Field: m.field, P: m.p, By: m.by}
		if r.IntN(4) == 0 {
			pm.As = fmt.Sprintf("m %d \"x\"", i)
		}
		pb.Metrics = append(pb.Metrics, pm)
		if m.exact {
			exact = append(exact, metricName(pm))
		}
	}
	dims := []string{"c", "b", "n", "s", "tenant", "f", "ts"}
	r.Shuffle(len(dims), func(i, j int) { dims[i], dims[j] = dims[j], dims[i] })
	if k := r.IntN(4); k > 0 {
		pb.GroupBy = dims[:min(k, 2)]
	}
	if r.IntN(3) > 0 {
		pb.Filter = randomFilter(r, 0)
	}
	// Having and order only on integer-valued metrics: a float's last bits differ between
	// evaluators, and the order of near-ties with them.
	if len(exact) > 0 && r.IntN(3) == 0 {
		ops := []string{"GT", "GTE", "LT", "NEQ", "BETWEEN", "IS_NULL"}
		c := &olapgatev1.Comparison{Field: exact[r.IntN(len(exact))], Op: ops[r.IntN(len(ops))]}
		switch c.Op {
		case "BETWEEN":
			c.Values = []*structpb.Value{num(float64(r.IntN(5))), num(float64(5 + r.IntN(5000)))}
		case "IS_NULL":
		default:
			c.Values = []*structpb.Value{num(float64(r.IntN(20)))}
		}
		pb.Having = &olapgatev1.Filter{Kind: &olapgatev1.Filter_Cmp{Cmp: c}}
		if r.IntN(2) == 0 {
			pb.Having = &olapgatev1.Filter{Kind: &olapgatev1.Filter_Not{Not: pb.Having}}
		}
	}
	keys := append(append([]string(nil), exact...), pb.GroupBy...)
	if pb.Granularity != "" {
		keys = append(keys, "__time")
	}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys[:r.IntN(min(len(keys), 2)+1)] {
		pb.OrderBy = append(pb.OrderBy, &olapgatev1.OrderBy{By: k, Desc: r.IntN(2) == 0})
	}
	if r.IntN(2) == 0 {
		pb.Limit = int32(1 + r.IntN(30))
	}
	rq := randomQuery{pb: pb}
	if r.IntN(3) == 0 {
		rq.tenant = "acme"
	}
	return rq
}

// newDashboardQuery is a random query with the dashboard features: filtered aggregates,
// ratios, seriesLimit, compare and timeSeries. Metrics are the integer-valued ones (and
// ratios of them), so rankings, orders and joins have no near-ties between evaluators.
func newDashboardQuery(r *rand.Rand) randomQuery {
	rq := newRandomQuery(r)
	pb := rq.pb
	pb.Metrics, pb.Having, pb.OrderBy = nil, nil, nil
	var exact []metricSpec
	for _, m := range metricPool {
		if m.exact {
			exact = append(exact, m)
		}
	}
	perm := r.Perm(len(exact))
	var names []string
	for i := range 1 + r.IntN(3) {
		m := exact[perm[i]]
		pm := &olapgatev1.Metric{Agg: m.agg, Field: m.field, By: m.by}
		if r.IntN(3) == 0 {
			pm.Filter = randomFilter(r, 1)
			pm.As = fmt.Sprintf("filtered %d", i)
		}
		pb.Metrics = append(pb.Metrics, pm)
		names = append(names, metricName(pm))
	}
	if len(names) >= 2 && r.IntN(2) == 0 {
		pb.Metrics = append(pb.Metrics, &olapgatev1.Metric{Ratio: []string{names[0], names[1]}, As: "rate"})
		names = append(names, "rate")
	}
	if len(pb.GroupBy) > 0 && r.IntN(2) == 0 {
		pb.SeriesLimit = int32(1 + r.IntN(3))
	} else if r.IntN(4) == 0 {
		pb.Having = &olapgatev1.Filter{Kind: &olapgatev1.Filter_Cmp{Cmp: &olapgatev1.Comparison{Field: names[0], Op: "GTE", Values: []*structpb.Value{num(float64(r.IntN(3)))}}}}
	}
	if r.IntN(3) == 0 {
		pb.Compare = "previous_period"
	}
	if pb.Granularity != "" && r.IntN(3) == 0 {
		pb.TimeSeries = true
		pb.Limit = 0
	} else {
		keys := append(append([]string(nil), names...), pb.GroupBy...)
		if pb.Granularity != "" {
			keys = append(keys, "__time")
		}
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys[:r.IntN(min(len(keys), 2)+1)] {
			pb.OrderBy = append(pb.OrderBy, &olapgatev1.OrderBy{By: k, Desc: r.IntN(2) == 0})
		}
	}
	return rq
}

// resolveDashboard resolves a dashboard query, dropping compare and then timeSeries when the
// random range does not allow them (a range that is not a whole number of buckets, more
// buckets than the limit).
func resolveDashboard(pb *olapgatev1.Query, d *dataset.Dataset, o query.Options) (*query.Query, error) {
	for {
		q, err := query.FromProto(pb, d, o)
		var qe *query.Error
		switch {
		case err == nil:
			return q, nil
		case errors.As(err, &qe) && qe.Field == "compare":
			pb.Compare = ""
		case errors.As(err, &qe) && qe.Field == "timeSeries":
			pb.TimeSeries = false
		default:
			return nil, err
		}
	}
}

// metricName is the default output name (query's rules, restated).
func metricName(m *olapgatev1.Metric) string {
	if m.As != "" {
		return m.As
	}
	agg := strings.ToLower(m.Agg)
	switch {
	case agg == "count" && m.Field == "":
		return "count"
	case agg == "percentile":
		return strings.ReplaceAll(fmt.Sprintf("p%g_%s", m.P*100, m.Field), ".", "_")
	case agg == "approx_percentile":
		return strings.ReplaceAll(fmt.Sprintf("approx_p%g_%s", m.P*100, m.Field), ".", "_")
	case agg == "arg_max":
		return m.Field + "_at_max_" + m.By
	case agg == "arg_min":
		return m.Field + "_at_min_" + m.By
	}
	return agg + "_" + m.Field
}

// TestPlannerAgainstReference plans random queries, runs them on the embedded store, and
// compares the answers with the reference evaluator's over the same rows. Each query runs
// twice: with bound arguments, and as Render's inlined SQL (what Explain shows).
func TestPlannerAgainstReference(t *testing.T) {
	ctx := context.Background()
	d := propDataset(t)
	st, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	}()
	if err := st.EnsureDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, seed := range []uint64{1, 2, 3} {
		part := randomRows(rand.New(rand.NewPCG(seed, 7)), 2000)
		if _, err := st.Write(ctx, toBatch(d, part)); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, part...)
		// Each seed's queries see every row written so far.
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			for i := range 120 {
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
				p, err := planner.New(q, st.Dialect())
				if err != nil {
					t.Fatalf("%s: plan: %v", what, err)
				}
				for _, inline := range []bool{false, true} {
					stmt := p.Stmt
					if inline {
						stmt = store.Statement{SQL: planner.Render(p), Output: p.Stmt.Output}
					}
					got, err := st.Query(ctx, stmt)
					if err == nil {
						err = p.Finish(got)
					}
					if err != nil {
						t.Fatalf("%s: run (inline %v): %v\n%s", what, inline, err, planner.Render(p))
					}
					compareAnswers(t, fmt.Sprintf("%s (inline %v)\n%s", what, inline, planner.Render(p)), q, d, rows, want, got)
				}
			}
			seen := map[string]int{}
			defer func() {
				// The generator must keep exercising every feature, not fall back to plain queries.
				for _, f := range []string{"seriesLimit", "compare", "timeSeries", "filtered", "ratio", "filled"} {
					if seen[f] == 0 {
						t.Errorf("no dashboard query compared with %s (%v)", f, seen)
					}
				}
				t.Logf("dashboard features compared: %v", seen)
			}()
			for i := range 80 {
				rq := newDashboardQuery(r)
				q, err := resolveDashboard(rq.pb, d, query.Options{Now: time.Now(), Tenant: rq.tenant})
				raw, _ := protojson.Marshal(rq.pb)
				what := fmt.Sprintf("dashboard query %d (tenant %q): %s", i, rq.tenant, raw)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				p, err := planner.New(q, st.Dialect())
				if err != nil {
					t.Fatalf("%s: plan: %v", what, err)
				}
				want, werr := refeval.Eval(q, d, rows)
				got, gerr := p.Execute(ctx, st)
				switch {
				case werr != nil && gerr != nil:
					// Both refuse (a filled answer over the limit): the planner's error must say why.
					var qe *query.Error
					if !errors.As(gerr, &qe) {
						t.Fatalf("%s: refeval: %v; execute: %v (want a *query.Error)", what, werr, gerr)
					}
					continue
				case werr != nil:
					t.Fatalf("%s: refeval: %v", what, werr)
				case gerr != nil:
					t.Fatalf("%s: execute: %v\n%s", what, gerr, planner.Render(p))
				}
				compareAnswers(t, what+"\n"+planner.Render(p), q, d, rows, want, got)
				for f, on := range map[string]bool{"seriesLimit": q.SeriesLimit > 0, "compare": q.ComparePrevious,
					"timeSeries": q.TimeSeries, "filled": q.TimeSeries && len(got.Rows) > 0,
					"filtered": slices.ContainsFunc(q.Metrics, func(m query.Metric) bool { return m.Filter != nil }),
					"ratio":    slices.ContainsFunc(q.Metrics, func(m query.Metric) bool { return m.Agg == query.Ratio })} {
					if on {
						seen[f]++
					}
				}
			}
		})
	}
}

// compareAnswers checks got against want row by row (both are in the plan's full order).
// Floats agree to 1e-9 relative; approximate aggregates are checked against bounds.
func compareAnswers(t *testing.T, what string, q *query.Query, d *dataset.Dataset, rows []map[string]any, want, got *store.Result) {
	t.Helper()
	if len(got.Columns) != len(want.Columns) {
		t.Fatalf("%s: columns %v, want %v", what, got.Columns, want.Columns)
	}
	for j := range want.Columns {
		if got.Columns[j] != want.Columns[j] {
			t.Fatalf("%s: column %d is %+v, want %+v", what, j, got.Columns[j], want.Columns[j])
		}
	}
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", what, len(got.Rows), len(want.Rows), headRows(got.Rows), headRows(want.Rows))
	}
	bounds := approxBounds(t, q, d, rows)
	for i := range want.Rows {
		for j := range want.Rows[i] {
			w, g := want.Rows[i][j], got.Rows[i][j]
			if b, ok := bounds[j]; ok {
				if !b.admits(i, w, g) {
					t.Fatalf("%s: row %d %s = %v, exact %v, outside %s", what, i, want.Columns[j].Name, g, w, b.describe(i))
				}
				continue
			}
			if !sameValue(w, g) {
				t.Fatalf("%s: row %d column %s = %v, want %v\ngot  %v\nwant %v", what, i, want.Columns[j].Name, g, w, got.Rows[i], want.Rows[i])
			}
		}
	}
}

func headRows(rows [][]any) [][]any { return rows[:min(len(rows), 5)] }

func sameValue(w, g any) bool {
	switch x := w.(type) {
	case nil:
		return g == nil
	case float64:
		y, ok := g.(float64)
		return ok && (x == y || math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y)))
	case time.Time:
		y, ok := g.(time.Time)
		// The same instant, printed with the same offset.
		return ok && x.Equal(y) && x.Format(time.RFC3339Nano) == y.Format(time.RFC3339Nano)
	}
	return w == g
}

// bound admits an approximate value.
type bound struct {
	admits   func(row int, exact, got any) bool
	describe func(row int) string
}

// approxBounds builds, for each approximate column, the range its values may take.
//   - APPROX_COUNT_DISTINCT: DuckDB's HyperLogLog has 64 registers, a standard error of
//     about 13%, so within 4 sigma (52%) plus 3. Unchanged from DuckDB 1.1.3 to 1.5.6: 200
//     random sets each of 20-5000 distinct values gave an RMS relative error of 9-13% on both.
//   - APPROX_PERCENTILE(p): a t-digest's rank error, so between the exact percentiles at
//     p-0.05 and p+0.05; with under 50 values, anywhere between the group's min and max. The
//     bounds come from the reference evaluator over the same groups (having and order never
//     use approximate metrics, so rows line up).
func approxBounds(t *testing.T, q *query.Query, d *dataset.Dataset, rows []map[string]any) map[int]bound {
	t.Helper()
	first := len(q.Outputs()) - len(q.Metrics)
	out := map[int]bound{}
	for j, m := range q.Metrics {
		col := first + j
		switch m.Agg {
		case query.ApproxCountDistinct:
			out[col] = bound{
				admits: func(_ int, exact, got any) bool {
					e, g := exact.(int64), got.(int64)
					return math.Abs(float64(g-e)) <= 0.52*float64(e)+3
				},
				describe: func(int) string { return "52% + 3" },
			}
		case query.ApproxPercentile:
			v := *q
			field := m.Field
			v.Metrics = append(append([]query.Metric(nil), q.Metrics...),
				query.Metric{Agg: query.Percentile, Field: field, P: max(m.P-0.05, 0.0001), Name: "__lo", Type: store.TypeDouble},
				query.Metric{Agg: query.Percentile, Field: field, P: min(m.P+0.05, 0.9999), Name: "__hi", Type: store.TypeDouble},
				query.Metric{Agg: query.Min, Field: field, Name: "__min", Type: store.TypeDouble},
				query.Metric{Agg: query.Max, Field: field, Name: "__max", Type: store.TypeDouble},
				query.Metric{Agg: query.Count, Field: field, Name: "__n", Type: store.TypeInt64})
			ref, err := refeval.Eval(&v, d, rows)
			if err != nil {
				t.Fatal(err)
			}
			k := len(ref.Columns) - 5
			out[col] = bound{
				admits: func(i int, exact, got any) bool {
					if exact == nil || got == nil {
						return exact == got
					}
					g := got.(float64)
					lo, hi := ref.Rows[i][k].(float64), ref.Rows[i][k+1].(float64)
					if ref.Rows[i][k+4].(int64) < 50 {
						lo, hi = toFloat(ref.Rows[i][k+2]), toFloat(ref.Rows[i][k+3])
					}
					slack := 1e-6 * math.Max(math.Abs(lo), math.Abs(hi))
					return g >= lo-slack && g <= hi+slack
				},
				describe: func(i int) string { return fmt.Sprintf("%v", ref.Rows[i][k:]) },
			}
		}
	}
	return out
}

func toFloat(v any) float64 {
	if n, ok := v.(int64); ok {
		return float64(n)
	}
	return v.(float64)
}
