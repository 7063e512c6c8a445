// Package planner turns a validated query into a backend's SQL and post-processes the answer.
//
// Every value from a request is bound as a positional parameter; identifiers come only from
// the dataset's schema and are always quoted; output names from the request never reach the
// SQL text (columns are aliased __time, their schema names, or __m0, __m1, ... and named by
// Statement.Output). Only numbers olapgate itself computed or validated (bucket widths, zone
// offsets, percentile ranks, the limit) are written as literals.
//
// Result columns: __time (with a granularity), group-by columns, metrics, in that order.
// GROUP BY and ORDER BY refer to them by position. Rows are ordered by the requested keys, then
// __time, then every group-by column ascending, with nulls last in either direction, so a
// LIMIT always keeps the same rows.
//
// Time buckets. Stored times are UTC. The zone's offset at an instant t, off(t), is computed
// by olapgate from Go's zone data over the query's range (no database time zone support is
// needed) and rendered as a constant, or as a CASE over the instants where it changes.
// local(t) = t + off(t) is the wall clock; buckets are aligned to the wall-clock origin
// 2000-01-03 00:00, a Monday:
//
//   - s, m, h: the bucket of t is the instant t - ((local(t) - origin) mod step), i.e.
//     time_bucket(step, t + off(t), origin) - off(t). Buckets are fixed-width and start on
//     wall-clock multiples of the step (09:00, 09:15 local; :30 UTC in Asia/Kolkata); the two
//     01:00 hours of a DST fall-back are two buckets, as they are two different hours. A
//     bucket's wall-clock start is read with its rows' offset, so one that starts in a
//     spring-forward gap (02:00 with 2h buckets in New York) is the instant 02:00 EDT, which
//     prints as 01:00-05:00.
//   - d, w: calendar buckets. time_bucket(step, t + off(t), origin) is a wall-clock local
//     midnight (weeks start on Monday); Finish turns it into that midnight's instant in the
//     zone (time.Date semantics), so a DST day is a 23 or 25 hour bucket.
//
// Finish gives every TIMESTAMP output value (buckets, timestamp group-by columns, MIN/MAX of
// timestamps) in the query's zone, so it prints with that zone's offset.
//
// Filters use SQL three-valued logic: a comparison with a null field is unknown and a row
// matches only when the filter is true, so NEQ, NOT_IN and NOT never match null fields.
// BETWEEN includes both ends; CONTAINS is a substring test without pattern characters.
package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// Plan is a planned query: the statement to run and what Finish needs to complete its answer.
type Plan struct {
	Stmt store.Statement

	q       *query.Query
	dialect dialect
	// params are the byte offsets of the placeholders in Stmt.SQL, one per argument.
	params []int
}

// dialect is what differs between backends' SQL. Each method writes a complete expression.
type dialect interface {
	// ident quotes an identifier from the schema.
	ident(name string) string
	// table names the dataset's table.
	table(q *query.Query) string
	// agg is a metric's aggregate expression over the quoted column col ("" for COUNT(*)).
	// It must yield the metric's output type exactly.
	agg(m query.Metric, col string) string
	// bucket writes the __time expression for the quoted time column.
	bucket(w *writer, q *query.Query, col string) error
	// contains writes a substring test of the quoted column against a bound string.
	contains(w *writer, col string, v any)
	// literal renders a value as SQL: for Render, and as the statement text itself in
	// dialects without bound parameters.
	literal(v any) string
	// placeholder is the parameter marker; "" means the backend takes no bound parameters
	// and values are written as escaped literals (Stmt.Args stays empty).
	placeholder() string
	// approximate reports whether the dialect's form of m may differ from the exact meaning
	// defined in package query (the answer column is then marked approximate).
	approximate(m query.Metric) bool
}

// dialects are registered by name (store.Store.Dialect) from each dialect's file.
var dialects = map[string]dialect{}

func register(name string, d dialect) { dialects[name] = d }

// Dialects lists the supported SQL dialect names, sorted.
func Dialects() []string {
	names := make([]string, 0, len(dialects))
	for n := range dialects {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New plans q for a store's dialect (store.Store.Dialect).
// (Not func Plan: Go cannot have a function and a type of one name in a package.)
//
// A query with SeriesLimit runs in two steps: Stmt ranks the series, and the main statement,
// built by Execute from the ranking's answer, tags each row with its series (a CASE over the
// top group values) so every other row folds into the "other" series on the backend, whatever
// the aggregate. ComparePrevious adds a statement over the previous period of the same shape.
func New(q *query.Query, dialectName string) (*Plan, error) {
	dl, ok := dialects[dialectName]
	if !ok {
		return nil, fmt.Errorf("plan query on dataset %s: SQL dialect %q is not supported (supported: %s)", q.Dataset.Name, dialectName, strings.Join(Dialects(), ", "))
	}
	p := &Plan{q: q, dialect: dl}
	var err error
	switch {
	case q.SeriesLimit > 0:
		p.Stmt, p.params, err = build(q, dl, spec{rank: true, start: q.Start, end: q.End, limit: q.SeriesLimit})
	default:
		p.Stmt, p.params, err = build(q, dl, spec{start: q.Start, end: q.End, limit: q.Limit, order: true, having: true})
		if q.TimeSeries {
			// One more row than the limit tells a full answer from one that does not fit.
			p.Stmt, p.params, err = build(q, dl, spec{start: q.Start, end: q.End, limit: q.Limit + 1, having: true})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("plan query on dataset %s: %w", q.Dataset.Name, err)
	}
	return p, nil
}

// spec says which statement of a query to build.
type spec struct {
	start, end time.Time
	limit      int
	// order: ORDER BY the requested keys and the tiebreak; without it rows come in any order
	// and the caller orders them.
	order, having bool
	// rank: the series ranking statement: group-by columns and the first metric, ordered by it.
	rank bool
	// series: tag rows with their index in top (-1: the other series) instead of grouping by
	// the group-by columns.
	series bool
	top    [][]any
}

// build writes one SELECT of the query.
func build(q *query.Query, dl dialect, sp spec) (store.Statement, []int, error) {
	w := &writer{ph: dl.placeholder(), lit: dl.literal}
	b := &builder{w: w, q: q, dl: dl}
	var outputs []store.ResultColumn

	w.s("SELECT ")
	sep := ""
	next := func() { w.s(sep); sep = ",\n       " }
	timeCol := dl.ident(q.Dataset.TimeColumn)
	groups := 0
	if !q.Granularity.IsZero() && !sp.rank {
		next()
		bq := q
		if !sp.start.Equal(q.Start) || !sp.end.Equal(q.End) {
			// Zone offsets are rendered for the statement's own range (the previous period's).
			c := *q
			c.Start, c.End = sp.start, sp.end
			bq = &c
		}
		if err := dl.bucket(w, bq, timeCol); err != nil {
			return store.Statement{}, nil, err
		}
		w.s(" AS ", dl.ident(query.TimeColumn))
		outputs = append(outputs, store.ResultColumn{Name: query.TimeColumn, Type: store.TypeTimestamp})
		groups++
	}
	if sp.series {
		next()
		b.seriesCase(sp.top)
		w.s(" AS ", dl.ident(seriesColumn))
		outputs = append(outputs, store.ResultColumn{Name: seriesColumn, Type: store.TypeInt64})
		groups++
	} else {
		for _, c := range q.GroupBy {
			next()
			w.s(dl.ident(c.Name))
			outputs = append(outputs, store.ResultColumn{Name: c.Name, Type: query.ColumnType(c.Type)})
			groups++
		}
	}
	metrics := q.Metrics
	if sp.rank {
		metrics = metrics[:1]
	}
	for i, m := range metrics {
		next()
		b.metric(i)
		w.s(" AS ", dl.ident(metricAlias(i)))
		o := m.Output()
		o.Approximate = q.Approximate(i) || dl.approximate(m) ||
			(m.Agg == query.Ratio && (dl.approximate(q.Metrics[m.Ratio[0]]) || dl.approximate(q.Metrics[m.Ratio[1]])))
		outputs = append(outputs, o)
	}

	w.s("\nFROM ", dl.table(q))
	w.s("\nWHERE ", timeCol, " >= ")
	w.arg(sp.start)
	w.s(" AND ", timeCol, " < ")
	w.arg(sp.end)
	if q.Filter != nil {
		w.s("\n  AND ")
		b.filter(q.Filter, b.column)
	}

	if groups > 0 {
		w.s("\nGROUP BY ")
		for i := 1; i <= groups; i++ {
			if i > 1 {
				w.s(", ")
			}
			w.s(strconv.Itoa(i))
		}
	}
	if sp.having && q.Having != nil {
		index := make(map[string]int, len(q.Metrics))
		for i, m := range q.Metrics {
			index[m.Name] = i
		}
		w.s("\nHAVING ")
		// Repeat the aggregate rather than use the alias: aliases in HAVING are not portable.
		b.filter(q.Having, func(name string) { b.metric(index[name]) })
	}

	pos := make(map[string]int, len(outputs)) // output name → 1-based position
	for i, o := range outputs {
		pos[o.Name] = i + 1
	}
	var keys []query.Order
	switch {
	case sp.rank:
		keys = append(keys, query.Order{By: q.Metrics[0].Name, Desc: true})
		for _, c := range q.GroupBy {
			keys = append(keys, query.Order{By: c.Name})
		}
	case sp.order:
		keys = orderKeys(q)
	}
	if len(keys) > 0 {
		w.s("\nORDER BY ")
		for i, k := range keys {
			if i > 0 {
				w.s(", ")
			}
			dir := " ASC"
			if k.Desc {
				dir = " DESC"
			}
			w.s(strconv.Itoa(pos[k.By]), dir, " NULLS LAST")
		}
	}
	w.s("\nLIMIT ", strconv.Itoa(sp.limit))
	return store.Statement{SQL: w.sb.String(), Args: w.args, Output: outputs}, w.params, nil
}

// seriesColumn is the series index column of a seriesLimit statement (-1: other).
const seriesColumn = "__series"

// builder writes the parts of a statement that refer to the query.
type builder struct {
	w  *writer
	q  *query.Query
	dl dialect
}

func (b *builder) column(name string) { b.w.s(b.dl.ident(name)) }

// metric writes metric i's expression: the aggregate, restricted by its filter, or a ratio.
func (b *builder) metric(i int) {
	m := b.q.Metrics[i]
	if m.Agg == query.Ratio {
		num, den := func() { b.metric(m.Ratio[0]) }, func() { b.metric(m.Ratio[1]) }
		if r, ok := b.dl.(ratioer); ok {
			r.ratio(b.w, num, den)
			return
		}
		// Both parts as DOUBLE, so integer division never happens and 0 becomes null.
		b.w.s("(CAST(")
		num()
		b.w.s(" AS DOUBLE) / NULLIF(CAST(")
		den()
		b.w.s(" AS DOUBLE), 0))")
		return
	}
	col := metricCol(b.dl, m)
	if m.Filter == nil {
		b.w.s(b.dl.agg(m, col))
		return
	}
	// A filtered aggregate aggregates CASE WHEN <filter> THEN <field> END: rows the filter
	// does not select (false or unknown) give null, which every aggregate but COUNT(*) skips,
	// and COUNT(*) becomes COUNT(CASE WHEN <filter> THEN 1 END). Unlike FILTER (WHERE ...),
	// this works inside any wrapper a dialect puts around the aggregate, on every backend.
	if col == "" {
		col = "1"
	}
	parts := strings.Split(b.dl.agg(m, argSentinel), argSentinel)
	if len(parts) < 2 {
		panic(fmt.Sprintf("planner: dialect's %s form must use its argument", m.Agg))
	}
	b.w.s(parts[0])
	for _, p := range parts[1:] {
		b.w.s("CASE WHEN ")
		b.filter(m.Filter, b.column)
		b.w.s(" THEN ", col, " END", p)
	}
}

// argSentinel stands for an aggregate's argument while a filtered aggregate is written.
const argSentinel = "\x00arg\x00"

// ratioer is implemented by dialects with their own form of a ratio.
type ratioer interface {
	ratio(w *writer, num, den func())
}

// seriesCase writes CASE WHEN <row is in top[0]> THEN 0 ... ELSE -1 END. A group value that
// is null is matched with IS NULL; a comparison with a null field is unknown and falls
// through, so every row lands in exactly one branch.
func (b *builder) seriesCase(top [][]any) {
	w := b.w
	if len(top) == 0 {
		w.s("-1") // no series at all: CASE needs a WHEN
		return
	}
	w.s("CASE")
	for i, vals := range top {
		w.s(" WHEN ")
		for j, c := range b.q.GroupBy {
			if j > 0 {
				w.s(" AND ")
			}
			if vals[j] == nil {
				w.s(b.dl.ident(c.Name), " IS NULL")
				continue
			}
			w.s(b.dl.ident(c.Name), " = ")
			w.arg(vals[j])
		}
		w.s(" THEN ", strconv.Itoa(i))
	}
	w.s(" ELSE -1 END")
}

// orderKeys is the requested order followed by the tiebreak: __time, then group-by columns.
func orderKeys(q *query.Query) []query.Order {
	keys := append([]query.Order(nil), q.OrderBy...)
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		seen[k.By] = true
	}
	if !q.Granularity.IsZero() && !seen[query.TimeColumn] {
		keys = append(keys, query.Order{By: query.TimeColumn})
	}
	for _, c := range q.GroupBy {
		if !seen[c.Name] {
			keys = append(keys, query.Order{By: c.Name})
		}
	}
	return keys
}

func metricAlias(i int) string { return "__m" + strconv.Itoa(i) }

func metricCol(dl dialect, m query.Metric) string {
	if m.Agg == query.ArgMax || m.Agg == query.ArgMin {
		// The ordering field is the argument a filter restricts: rows it does not select
		// get a null By, which ARG_MAX and ARG_MIN skip.
		return dl.ident(m.By.Name)
	}
	if m.Field.Name == "" {
		return ""
	}
	return dl.ident(m.Field.Name)
}

var cmpOps = map[query.Op]string{
	query.EQ: " = ", query.NEQ: " <> ", query.LT: " < ", query.LTE: " <= ", query.GT: " > ", query.GTE: " >= ",
}

// filter writes a filter tree; subject writes what a comparison's Field names.
func (b *builder) filter(f *query.Filter, subject func(string)) {
	w := b.w
	switch f.Kind {
	case query.And, query.Or:
		op := " AND "
		if f.Kind == query.Or {
			op = " OR "
		}
		w.s("(")
		for i, sub := range f.Filters {
			if i > 0 {
				w.s(op)
			}
			b.filter(sub, subject)
		}
		w.s(")")
		return
	case query.Not:
		w.s("NOT (")
		b.filter(f.Filters[0], subject)
		w.s(")")
		return
	}
	switch f.Op {
	case query.EQ, query.NEQ, query.LT, query.LTE, query.GT, query.GTE:
		subject(f.Field)
		w.s(cmpOps[f.Op])
		w.arg(f.Values[0])
	case query.IN, query.NotIn:
		subject(f.Field)
		if f.Op == query.NotIn {
			w.s(" NOT")
		}
		w.s(" IN (")
		for i, v := range f.Values {
			if i > 0 {
				w.s(", ")
			}
			w.arg(v)
		}
		w.s(")")
	case query.Between:
		subject(f.Field)
		w.s(" BETWEEN ")
		w.arg(f.Values[0])
		w.s(" AND ")
		w.arg(f.Values[1])
	case query.Contains:
		// Only row filters use CONTAINS (string columns), so the subject is a column.
		b.dl.contains(w, b.dl.ident(f.Field), f.Values[0])
	case query.IsNull:
		subject(f.Field)
		w.s(" IS NULL")
	}
}

// zoneOffset writes off(t) for the time column col: a constant, or a CASE over the instants where
// the zone's offset changes (bound or inlined like any value: olapgate's own times). lit
// renders an offset in seconds in the dialect's unit.
func zoneOffset(w *writer, col string, spans []query.ZoneSpan, lit func(sec int) string) {
	if len(spans) == 1 {
		w.s(lit(spans[0].Offset))
		return
	}
	w.s("CASE")
	for i := 1; i < len(spans); i++ {
		w.s(" WHEN ", col, " < ")
		w.arg(spans[i].From)
		w.s(" THEN ", lit(spans[i-1].Offset))
	}
	w.s(" ELSE ", lit(spans[len(spans)-1].Offset), " END")
}

// writer accumulates SQL text and its arguments, remembering where each placeholder is.
// With an empty placeholder it writes values as the dialect's escaped literals instead.
type writer struct {
	sb     strings.Builder
	args   []any
	params []int
	ph     string
	lit    func(any) string
}

func (w *writer) s(parts ...string) {
	for _, p := range parts {
		w.sb.WriteString(p)
	}
}

func (w *writer) arg(v any) {
	if w.ph == "" {
		w.sb.WriteString(w.lit(v))
		return
	}
	w.params = append(w.params, w.sb.Len())
	w.sb.WriteString(w.ph)
	w.args = append(w.args, v)
}

// Render is the statement with every argument inlined as an escaped literal, for Explain. It is
// for people to read; stores always get the parameterised form.
func Render(p *Plan) string { return render(p.dialect, p.Stmt, p.params) }

func render(dl dialect, st store.Statement, params []int) string {
	if len(params) == 0 {
		return st.SQL
	}
	var b strings.Builder
	sql, last := st.SQL, 0
	ph := len(dl.placeholder())
	for i, at := range params {
		b.WriteString(sql[last:at])
		b.WriteString(dl.literal(st.Args[i]))
		last = at + ph
	}
	b.WriteString(sql[last:])
	return b.String()
}

// Finish completes the answer to Stmt: columns named and typed as planned, every timestamp in
// the query's zone, calendar buckets turned from wall-clock midnights into instants. Stores
// return TIMESTAMP values as UTC time.Time.
func (p *Plan) Finish(r *store.Result) error { return p.finish(r, p.Stmt.Output) }

func (p *Plan) finish(r *store.Result, out []store.ResultColumn) error {
	if len(r.Columns) != len(out) {
		return fmt.Errorf("finish query on dataset %s: store returned %d columns, planned %d", p.q.Dataset.Name, len(r.Columns), len(out))
	}
	r.Columns = append([]store.ResultColumn(nil), out...)
	loc := p.q.Location
	calendar := !p.q.Granularity.IsZero() && p.q.Granularity.Calendar()
	for i, row := range r.Rows {
		if len(row) != len(out) {
			return fmt.Errorf("finish query on dataset %s: row %d has %d values, want %d", p.q.Dataset.Name, i, len(row), len(out))
		}
		for j, v := range row {
			if v == nil {
				continue
			}
			if !hasType(v, out[j].Type) {
				return fmt.Errorf("finish query on dataset %s: row %d column %s: store returned %T for %s", p.q.Dataset.Name, i, out[j].Name, v, out[j].Type)
			}
			t, ok := v.(time.Time)
			if !ok {
				continue
			}
			if calendar && out[j].Name == query.TimeColumn {
				u := t.UTC()
				row[j] = time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), u.Nanosecond(), loc)
			} else {
				row[j] = t.In(loc)
			}
		}
	}
	return nil
}

func hasType(v any, t store.ColumnType) bool {
	switch v.(type) {
	case string:
		return t == store.TypeString
	case int64:
		return t == store.TypeInt64
	case float64:
		return t == store.TypeDouble
	case bool:
		return t == store.TypeBool
	case time.Time:
		return t == store.TypeTimestamp
	}
	return false
}
