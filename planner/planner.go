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
func New(q *query.Query, dialectName string) (*Plan, error) {
	dl, ok := dialects[dialectName]
	if !ok {
		return nil, fmt.Errorf("plan query on dataset %s: SQL dialect %q is not supported (supported: %s)", q.Dataset.Name, dialectName, strings.Join(Dialects(), ", "))
	}
	w := &writer{ph: dl.placeholder(), lit: dl.literal}
	p := &Plan{q: q, dialect: dl}
	outputs := q.Outputs()
	pos := make(map[string]int, len(outputs)) // output name → 1-based position
	for i, o := range outputs {
		pos[o.Name] = i + 1
	}

	w.s("SELECT ")
	sep := ""
	next := func() { w.s(sep); sep = ",\n       " }
	timeCol := dl.ident(q.Dataset.TimeColumn)
	if !q.Granularity.IsZero() {
		next()
		if err := dl.bucket(w, q, timeCol); err != nil {
			return nil, fmt.Errorf("plan query on dataset %s: %w", q.Dataset.Name, err)
		}
		w.s(" AS ", dl.ident(query.TimeColumn))
	}
	for _, c := range q.GroupBy {
		next()
		w.s(dl.ident(c.Name))
	}
	for i, m := range q.Metrics {
		next()
		w.s(dl.agg(m, metricCol(dl, m)), " AS ", dl.ident(metricAlias(i)))
	}

	w.s("\nFROM ", dl.table(q))
	w.s("\nWHERE ", timeCol, " >= ")
	w.arg(q.Start)
	w.s(" AND ", timeCol, " < ")
	w.arg(q.End)
	if q.Filter != nil {
		w.s("\n  AND ")
		p.filter(w, q.Filter, func(name string) string { return dl.ident(name) })
	}

	groups := len(q.GroupBy)
	if !q.Granularity.IsZero() {
		groups++
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
	if q.Having != nil {
		metrics := make(map[string]query.Metric, len(q.Metrics))
		for _, m := range q.Metrics {
			metrics[m.Name] = m
		}
		w.s("\nHAVING ")
		// Repeat the aggregate rather than use the alias: aliases in HAVING are not portable.
		p.filter(w, q.Having, func(name string) string {
			m := metrics[name]
			return dl.agg(m, metricCol(dl, m))
		})
	}

	if keys := orderKeys(q); len(keys) > 0 {
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
	w.s("\nLIMIT ", strconv.Itoa(q.Limit))

	for i, m := range q.Metrics {
		if dl.approximate(m) {
			outputs[len(outputs)-len(q.Metrics)+i].Approximate = true
		}
	}
	p.Stmt = store.Statement{SQL: w.sb.String(), Args: w.args, Output: outputs}
	p.params = w.params
	return p, nil
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
	if m.Field.Name == "" {
		return ""
	}
	return dl.ident(m.Field.Name)
}

var cmpOps = map[query.Op]string{
	query.EQ: " = ", query.NEQ: " <> ", query.LT: " < ", query.LTE: " <= ", query.GT: " > ", query.GTE: " >= ",
}

// filter writes a filter tree; subject renders what a comparison's Field names.
func (p *Plan) filter(w *writer, f *query.Filter, subject func(string) string) {
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
			p.filter(w, sub, subject)
		}
		w.s(")")
		return
	case query.Not:
		w.s("NOT (")
		p.filter(w, f.Filters[0], subject)
		w.s(")")
		return
	}
	x := subject(f.Field)
	switch f.Op {
	case query.EQ, query.NEQ, query.LT, query.LTE, query.GT, query.GTE:
		w.s(x, cmpOps[f.Op])
		w.arg(f.Values[0])
	case query.IN, query.NotIn:
		w.s(x)
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
		w.s(x, " BETWEEN ")
		w.arg(f.Values[0])
		w.s(" AND ")
		w.arg(f.Values[1])
	case query.Contains:
		p.dialect.contains(w, x, f.Values[0])
	case query.IsNull:
		w.s(x, " IS NULL")
	}
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
func Render(p *Plan) string {
	if len(p.params) == 0 {
		return p.Stmt.SQL
	}
	var b strings.Builder
	sql, last := p.Stmt.SQL, 0
	ph := len(p.dialect.placeholder())
	for i, at := range p.params {
		b.WriteString(sql[last:at])
		b.WriteString(p.dialect.literal(p.Stmt.Args[i]))
		last = at + ph
	}
	b.WriteString(sql[last:])
	return b.String()
}

// Finish completes a store's answer: columns named and typed as planned, every timestamp in
// the query's zone, calendar buckets turned from wall-clock midnights into instants. Stores
// return TIMESTAMP values as UTC time.Time.
func (p *Plan) Finish(r *store.Result) error {
	out := p.Stmt.Output
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
			if j == 0 && calendar {
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
