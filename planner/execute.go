package planner

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// Querier runs statements; every store.Store is one.
type Querier interface {
	Query(ctx context.Context, st store.Statement) (*store.Result, error)
}

// Execute runs the plan on a backend and returns the finished answer: one statement for a
// plain query; for SeriesLimit the ranking, then the series statement; for ComparePrevious
// the previous period's statement too. Series folding, the previous-period join, time-series
// filling and the final order and limit of multi-step answers are done here, in Go, the same
// for every backend. The answer's Meta merges every statement's.
func (p *Plan) Execute(ctx context.Context, st Querier) (*store.Result, error) {
	q := p.q
	if q.SeriesLimit == 0 && !q.ComparePrevious && !q.TimeSeries {
		res, err := st.Query(ctx, p.Stmt)
		if err != nil {
			return nil, err
		}
		return res, p.Finish(res)
	}
	var meta []store.ResultMeta
	run := func(s store.Statement) (*store.Result, error) {
		r, err := st.Query(ctx, s)
		if err != nil {
			return nil, err
		}
		meta = append(meta, r.Meta)
		return r, p.finish(r, s.Output)
	}

	var top [][]any
	current := func(start, end time.Time, limit int, having bool) (*store.Result, error) {
		if q.SeriesLimit == 0 {
			s, _, err := build(q, p.dialect, spec{start: start, end: end, limit: limit, having: having})
			if err != nil {
				return nil, err
			}
			return run(s)
		}
		s, _, err := build(q, p.dialect, spec{start: start, end: end, limit: limit, series: true, top: top})
		if err != nil {
			return nil, err
		}
		r, err := run(s)
		if err != nil {
			return nil, err
		}
		p.foldSeries(r, top)
		return r, nil
	}

	var res *store.Result
	var err error
	switch {
	case q.SeriesLimit > 0:
		rank, err := run(p.Stmt)
		if err != nil {
			return nil, err
		}
		for _, row := range rank.Rows {
			top = append(top, row[:len(q.GroupBy)])
		}
		if res, err = current(q.Start, q.End, q.MaxRows+1, false); err != nil {
			return nil, err
		}
	case q.TimeSeries:
		if res, err = current(q.Start, q.End, q.Limit+1, true); err != nil {
			return nil, err
		}
	default:
		if res, err = run(p.Stmt); err != nil {
			return nil, err
		}
	}
	if len(res.Rows) > q.MaxRows {
		return nil, p.tooMany("rows", q.MaxRows)
	}

	if q.ComparePrevious {
		ps, pe := q.PreviousPeriod()
		prev, err := current(ps, pe, q.MaxRows+1, false)
		if err != nil {
			return nil, err
		}
		if len(prev.Rows) > q.MaxRows {
			return nil, p.tooMany("rows in the previous period", q.MaxRows)
		}
		p.joinPrevious(res, prev)
	}

	res.Columns = p.columns()
	if q.TimeSeries {
		p.fill(res, top)
		if len(res.Rows) > q.Limit {
			return nil, p.tooMany("rows once every series has every bucket", q.Limit)
		}
	} else if q.SeriesLimit > 0 {
		sortRows(res, orderKeys(q))
		if len(res.Rows) > q.Limit {
			res.Rows = res.Rows[:q.Limit]
		}
	}
	res.Meta = MergeMeta(meta)
	return res, nil
}

func (p *Plan) tooMany(what string, limit int) error {
	return &query.Error{Field: "limit", Msg: fmt.Sprintf("the answer has more than %d %s; narrow the range, coarsen the granularity or set seriesLimit", limit, what)}
}

// columns are the final answer's columns: the query's outputs, marked approximate where the
// dialect estimates.
func (p *Plan) columns() []store.ResultColumn {
	q := p.q
	cols := q.Outputs()
	first := len(cols) - len(q.Metrics)
	if q.ComparePrevious {
		first -= len(q.Metrics)
	}
	for i, m := range q.Metrics {
		approx := p.dialect.approximate(m)
		if m.Agg == query.Ratio {
			approx = p.dialect.approximate(q.Metrics[m.Ratio[0]]) || p.dialect.approximate(q.Metrics[m.Ratio[1]])
		}
		if approx {
			cols[first+i].Approximate = true
			if q.ComparePrevious {
				cols[first+len(q.Metrics)+i].Approximate = true
			}
		}
	}
	return cols
}

// foldSeries turns a series statement's rows ([__time], __series, metrics) into the answer's
// layout ([__time], group columns as canonical text, metrics): series i takes top[i]'s
// values, series -1 is query.Other in every group column.
func (p *Plan) foldSeries(r *store.Result, top [][]any) {
	q := p.q
	lead := 0
	if !q.Granularity.IsZero() {
		lead = 1
	}
	for i, row := range r.Rows {
		out := make([]any, 0, len(row)-1+len(q.GroupBy))
		out = append(out, row[:lead]...)
		idx := row[lead].(int64)
		for j := range q.GroupBy {
			if idx < 0 {
				out = append(out, query.Other)
			} else {
				out = append(out, q.FormatValue(top[idx][j]))
			}
		}
		out = append(out, row[lead+1:]...)
		r.Rows[i] = out
	}
}

// groupKey identifies a row's series: its group values, typed so "1" and 1 never meet.
func (p *Plan) groupKey(row []any) string {
	lead := 0
	if !p.q.Granularity.IsZero() {
		lead = 1
	}
	var b strings.Builder
	for _, v := range row[lead : lead+len(p.q.GroupBy)] {
		switch x := v.(type) {
		case nil:
			b.WriteString("N|")
		case string:
			b.WriteString("S" + strconv.Quote(x) + "|")
		case int64:
			b.WriteString("I" + strconv.FormatInt(x, 10) + "|")
		case float64:
			if x == 0 {
				x = 0 // -0 and 0 are one group
			}
			b.WriteString("F" + strconv.FormatFloat(x, 'g', -1, 64) + "|")
		case bool:
			b.WriteString("B" + strconv.FormatBool(x) + "|")
		case time.Time:
			b.WriteString("T" + strconv.FormatInt(x.UnixMicro(), 10) + "|")
		}
	}
	return b.String()
}

// rowKey identifies a row: its bucket (as an instant) and its series.
func (p *Plan) rowKey(row []any, shift bool) string {
	k := p.groupKey(row)
	if !p.q.Granularity.IsZero() {
		t := row[0].(time.Time)
		if shift {
			t = p.q.ShiftForward(t)
		}
		k = strconv.FormatInt(t.UnixMicro(), 10) + "@" + k
	}
	return k
}

// joinPrevious appends each metric's previous-period value to every row of cur.
func (p *Plan) joinPrevious(cur, prev *store.Result) {
	q := p.q
	lead := len(q.GroupBy)
	if !q.Granularity.IsZero() {
		lead++
	}
	byKey := make(map[string][]any, len(prev.Rows))
	for _, row := range prev.Rows {
		k := p.rowKey(row, true)
		if _, dup := byKey[k]; !dup { // only at DST changes with buckets wider than the change
			byKey[k] = row[lead:]
		}
	}
	for i, row := range cur.Rows {
		vals, ok := byKey[p.rowKey(row, false)]
		if !ok {
			vals = p.emptyMetrics(false)
		}
		cur.Rows[i] = append(row, vals...)
	}
}

// emptyMetrics are the metric values over no rows: 0 for COUNT-like aggregates (and SUM when
// filling a chart), null otherwise.
func (p *Plan) emptyMetrics(chart bool) []any {
	out := make([]any, len(p.q.Metrics))
	for i, m := range p.q.Metrics {
		switch {
		case m.Agg.CountLike():
			out[i] = int64(0)
		case chart && m.Agg == query.Sum && m.Type == store.TypeInt64:
			out[i] = int64(0)
		case chart && m.Agg == query.Sum:
			out[i] = float64(0)
		}
	}
	return out
}

// fill gives every series a row for every bucket and orders rows by series, then time.
// Series are ordered by rank with seriesLimit (the other series last), else by group values.
func (p *Plan) fill(res *store.Result, top [][]any) {
	q := p.q
	type series struct {
		key  string
		rank int
		vals []any // group values
		rows map[int64][]any
	}
	all := map[string]*series{}
	var list []*series
	add := func(key string, vals []any) *series {
		s := all[key]
		if s == nil {
			s = &series{key: key, rank: len(top), vals: vals, rows: map[int64][]any{}}
			all[key] = s
			list = append(list, s)
		}
		return s
	}
	if len(q.GroupBy) == 0 {
		add("", nil) // one series, even with no rows at all
	}
	rankOf := map[string]int{}
	for i, vals := range top {
		row := make([]any, 1, 1+len(vals))
		for _, v := range vals {
			row = append(row, q.FormatValue(v))
		}
		rankOf[p.groupKey(row)] = i
	}
	for _, row := range res.Rows {
		k := p.groupKey(row)
		s := add(k, row[1:1+len(q.GroupBy)])
		if r, ok := rankOf[k]; ok {
			s.rank = r
		}
		s.rows[row[0].(time.Time).UnixMicro()] = row
	}
	if q.SeriesLimit > 0 {
		sort.SliceStable(list, func(a, b int) bool { return list[a].rank < list[b].rank })
	} else {
		sort.SliceStable(list, func(a, b int) bool { return lessValues(list[a].vals, list[b].vals) })
	}
	buckets := q.Buckets(q.MaxRows)
	rows := make([][]any, 0, len(list)*len(buckets))
	for _, s := range list {
		for _, b := range buckets {
			row, ok := s.rows[b.UnixMicro()]
			if !ok {
				row = append(append([]any{b}, s.vals...), p.emptyMetrics(true)...)
				if q.ComparePrevious {
					row = append(row, p.emptyMetrics(false)...)
				}
			}
			rows = append(rows, row)
			if len(rows) > q.Limit {
				res.Rows = rows
				return
			}
		}
	}
	res.Rows = rows
}

// lessValues orders group value lists ascending, nulls last.
func lessValues(a, b []any) bool {
	for i := range a {
		if c := compareNullsLast(a[i], b[i]); c != 0 {
			return c < 0
		}
	}
	return false
}

// compareNullsLast compares two values of one column type; null sorts after every value.
func compareNullsLast(x, y any) int {
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return 1
	case y == nil:
		return -1
	}
	switch a := x.(type) {
	case string:
		return strings.Compare(a, y.(string))
	case int64:
		b := y.(int64)
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	case float64:
		b := y.(float64)
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	case bool:
		b := y.(bool)
		switch {
		case a == b:
			return 0
		case !a:
			return -1
		}
		return 1
	case time.Time:
		return a.Compare(y.(time.Time))
	}
	return 0
}

// sortRows orders rows by keys (output names), nulls last in either direction.
func sortRows(res *store.Result, keys []query.Order) {
	col := make(map[string]int, len(res.Columns))
	for j, c := range res.Columns {
		col[c.Name] = j
	}
	sort.SliceStable(res.Rows, func(a, b int) bool {
		for _, k := range keys {
			x, y := res.Rows[a][col[k.By]], res.Rows[b][col[k.By]]
			c := compareNullsLast(x, y)
			if k.Desc && x != nil && y != nil {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// MergeMeta combines the metadata of statements answering one query (a multi-step plan, or
// bucket reuse's segments): partial or trimmed if any was, rows scanned
// summed, the oldest freshness bound.
func MergeMeta(ms []store.ResultMeta) store.ResultMeta {
	var out store.ResultMeta
	for i, m := range ms {
		out.Partial = out.Partial || m.Partial
		out.Trimmed = out.Trimmed || m.Trimmed
		switch {
		case i == 0:
			out.RowsScanned = m.RowsScanned
		case out.RowsScanned < 0 || m.RowsScanned < 0:
			out.RowsScanned = -1 // unknown in one statement: unknown in all
		default:
			out.RowsScanned += m.RowsScanned
		}
		if out.QueryID == "" {
			out.QueryID = m.QueryID
		}
		if !m.CompleteUpTo.IsZero() && (out.CompleteUpTo.IsZero() || m.CompleteUpTo.Before(out.CompleteUpTo)) {
			out.CompleteUpTo = m.CompleteUpTo
		}
	}
	return out
}

// Explain is every statement the plan runs, rendered with values inlined (Render), numbered
// and labelled when there is more than one. The series statement of a seriesLimit query is
// shown with stand-in values for the series the ranking picks at run time.
func Explain(p *Plan) string {
	q := p.q
	if q.SeriesLimit == 0 && !q.ComparePrevious && !q.TimeSeries {
		return Render(p)
	}
	var b strings.Builder
	step := 0
	add := func(label string, s store.Statement, params []int, err error) {
		step++
		if err != nil {
			fmt.Fprintf(&b, "-- %d. %s: %v\n", step, label, err)
			return
		}
		fmt.Fprintf(&b, "-- %d. %s\n%s;\n", step, label, render(p.dialect, s, params))
	}
	var top [][]any
	sp := spec{start: q.Start, end: q.End, limit: q.Limit + 1, having: true}
	if q.SeriesLimit > 0 {
		add(fmt.Sprintf("rank the series: the top %d by %s", q.SeriesLimit, q.Metrics[0].Name), p.Stmt, p.params, nil)
		for i := range q.SeriesLimit {
			row := make([]any, len(q.GroupBy))
			for j := range row {
				row[j] = standIn(q.GroupBy[j].Type, i)
			}
			top = append(top, row)
		}
		sp = spec{start: q.Start, end: q.End, limit: q.MaxRows + 1, series: true, top: top}
	}
	label := "aggregate"
	switch {
	case q.SeriesLimit > 0:
		label = "aggregate per series (stand-in values for the series step 1 picks; the rest are series -1, " + query.Other + ")"
	case !q.TimeSeries:
		sp = spec{start: q.Start, end: q.End, limit: q.Limit, order: true, having: true}
	}
	s, params, err := build(q, p.dialect, sp)
	add(label, s, params, err)
	if q.ComparePrevious {
		ps, pe := q.PreviousPeriod()
		sp.start, sp.end, sp.limit, sp.order, sp.having = ps, pe, q.MaxRows+1, false, false
		s, params, err := build(q, p.dialect, sp)
		add("the previous period, joined by group and shifted bucket", s, params, err)
	}
	if q.TimeSeries {
		fmt.Fprintf(&b, "-- then every series gets every %s bucket of the range\n", q.Granularity)
	}
	return b.String()
}

// standIn is an example group value of type t for Explain.
func standIn(t dataset.Type, i int) any {
	switch t {
	case dataset.Int:
		return int64(i + 1)
	case dataset.Float:
		return float64(i + 1)
	case dataset.Bool:
		return i%2 == 0
	case dataset.Timestamp:
		return query.BucketOrigin.Add(time.Duration(i) * time.Hour)
	}
	return fmt.Sprintf("<series %d>", i+1)
}

// Splittable reports whether the query's answer can be assembled from parts of its range cut
// at bucket boundaries (Segment, Assemble): it has buckets of one width (no zone offset change
// over the range), and no seriesLimit or compare, whose rankings and joins span the range.
func (p *Plan) Splittable() bool {
	q := p.q
	if q.Granularity.IsZero() || q.SeriesLimit > 0 || q.ComparePrevious {
		return false
	}
	if q.Location == time.UTC {
		return true
	}
	spans, err := query.ZoneSpans(q.Location, q.Start, q.End, query.MaxZoneChanges)
	return err == nil && len(spans) == 1
}

// Segment runs the aggregate over [start, end), a part of the query's range. Every bucket of
// the range that lies wholly inside [start, end) gets the rows the whole query would give it;
// rows come unordered and unlimited (bounded by MaxRows), finished, with the answer's columns.
func (p *Plan) Segment(ctx context.Context, st Querier, start, end time.Time) (*store.Result, error) {
	s, _, err := build(p.q, p.dialect, spec{start: start, end: end, limit: p.q.MaxRows + 1, having: true})
	if err != nil {
		return nil, err
	}
	r, err := st.Query(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := p.finish(r, s.Output); err != nil {
		return nil, err
	}
	if len(r.Rows) > p.q.MaxRows {
		return nil, p.tooMany("rows", p.q.MaxRows)
	}
	r.Columns = p.columns()
	return r, nil
}

// Assemble completes rows gathered from Segments as Execute would answer: ordered and limited,
// or filled as time series.
func (p *Plan) Assemble(r *store.Result) error {
	r.Columns = p.columns()
	if p.q.TimeSeries {
		p.fill(r, nil)
		if len(r.Rows) > p.q.Limit {
			return p.tooMany("rows once every series has every bucket", p.q.Limit)
		}
		return nil
	}
	sortRows(r, orderKeys(p.q))
	if len(r.Rows) > p.q.Limit {
		r.Rows = r.Rows[:p.q.Limit]
	}
	return nil
}
