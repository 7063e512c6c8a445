// Package refeval evaluates queries over in-memory rows, the obvious way: the oracle that
// property tests hold the planners and stores to. It is written to be checked by reading, not
// to be fast, and shares no code with the planner.
package refeval

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// Eval answers q over rows, each a map from column name (the schema's spelling) to nil, string,
// int64, float64, bool or time.Time (UTC). The answer is what a store's answer is after
// planner Finish (or Execute, for seriesLimit, compare and timeSeries): columns per
// q.Outputs, times in q.Location, rows ordered and limited. APPROX_* aggregates are computed
// exactly.
func Eval(q *query.Query, d *dataset.Dataset, rows []map[string]any) (*store.Result, error) {
	if d == nil {
		d = q.Dataset
	}
	e := &evaluator{q: q, d: d, rows: rows}
	if q.SeriesLimit > 0 {
		if err := e.rankSeries(); err != nil {
			return nil, err
		}
	}
	res := &store.Result{Columns: q.Outputs()}
	cur, order, err := e.groups(q.Start, q.End)
	if err != nil {
		return nil, err
	}
	var prev map[string]*group
	if q.ComparePrevious {
		d := q.End.Sub(q.Start)
		if prev, _, err = e.groups(q.Start.Add(-d), q.Start); err != nil {
			return nil, err
		}
	}
	// Previous-period groups by the current bucket they compare with.
	prevByKey := map[string]*group{}
	for _, g := range prev {
		key := append([]any(nil), g.key...)
		if !q.Granularity.IsZero() {
			key[0] = e.shiftForward(key[0].(time.Time))
		}
		if _, dup := prevByKey[keyString(key)]; !dup {
			prevByKey[keyString(key)] = g
		}
	}
	for _, k := range order {
		g := cur[k]
		out, vals, err := e.metrics(g)
		if err != nil {
			return nil, err
		}
		if q.Having != nil {
			m, err := eval(q.Having, func(name string) any { return vals[name] })
			if err != nil {
				return nil, fmt.Errorf("refeval: having: %w", err)
			}
			if m != yes {
				continue
			}
		}
		row := append(append([]any(nil), g.key...), out...)
		if q.ComparePrevious {
			pg := prevByKey[k]
			if pg == nil {
				pg = &group{}
			}
			pout, _, err := e.metrics(pg)
			if err != nil {
				return nil, err
			}
			row = append(row, pout...)
		}
		res.Rows = append(res.Rows, row)
	}

	if q.TimeSeries {
		if err := e.fill(res); err != nil {
			return nil, err
		}
	} else {
		sortRows(q, res)
		if len(res.Rows) > q.Limit {
			res.Rows = res.Rows[:q.Limit]
		}
	}
	for _, row := range res.Rows {
		for j, v := range row {
			if t, ok := v.(time.Time); ok {
				row[j] = t.In(q.Location)
			}
		}
	}
	return res, nil
}

type evaluator struct {
	q    *query.Query
	d    *dataset.Dataset
	rows []map[string]any
	// top are the kept series' group-value keys, in rank order (SeriesLimit).
	top []string
	// topVals are their group values.
	topVals [][]any
}

type group struct {
	key  []any // __time (if bucketed), then group-by values (series labels with SeriesLimit)
	rows []map[string]any
}

// selected returns the rows in [start, end) that the query's filter selects.
func (e *evaluator) selected(start, end time.Time) ([]map[string]any, error) {
	var out []map[string]any
	for i, row := range e.rows {
		tv, ok := row[e.d.TimeColumn]
		if !ok || tv == nil {
			continue // a row without a time is in no range
		}
		t, ok := tv.(time.Time)
		if !ok {
			return nil, fmt.Errorf("refeval: row %d: time column %s holds %T", i, e.d.TimeColumn, tv)
		}
		if t.Before(start) || !t.Before(end) {
			continue
		}
		if e.q.Filter != nil {
			m, err := eval(e.q.Filter, func(name string) any { return row[name] })
			if err != nil {
				return nil, fmt.Errorf("refeval: row %d: %w", i, err)
			}
			if m != yes {
				continue
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// groupValues are a row's group-by values, or with SeriesLimit its series labels.
func (e *evaluator) groupValues(row map[string]any) []any {
	var vals []any
	for _, c := range e.q.GroupBy {
		vals = append(vals, row[c.Name])
	}
	if e.q.SeriesLimit == 0 {
		return vals
	}
	k := keyString(vals)
	for i, t := range e.top {
		if t == k {
			labels := make([]any, len(vals))
			for j, v := range e.topVals[i] {
				labels[j] = e.text(v)
			}
			return labels
		}
	}
	labels := make([]any, len(vals))
	for j := range labels {
		labels[j] = query.Other
	}
	return labels
}

// groups groups the selected rows of [start, end) by bucket and group values.
func (e *evaluator) groups(start, end time.Time) (map[string]*group, []string, error) {
	q := e.q
	rows, err := e.selected(start, end)
	if err != nil {
		return nil, nil, err
	}
	groups := map[string]*group{}
	var order []string // first-seen order; the final sort decides the answer's order
	if q.Granularity.IsZero() && len(q.GroupBy) == 0 {
		// An aggregate without GROUP BY answers one row even over no rows.
		groups[""] = &group{}
		order = append(order, "")
	}
	for _, row := range rows {
		var key []any
		if !q.Granularity.IsZero() {
			key = append(key, bucket(row[e.d.TimeColumn].(time.Time), q))
		}
		key = append(key, e.groupValues(row)...)
		k := keyString(key)
		g := groups[k]
		if g == nil {
			g = &group{key: key}
			groups[k] = g
			order = append(order, k)
		}
		g.rows = append(g.rows, row)
	}
	return groups, order, nil
}

// metrics computes every metric over a group's rows, in order, and by name.
func (e *evaluator) metrics(g *group) ([]any, map[string]any, error) {
	vals := map[string]any{}
	out := make([]any, len(e.q.Metrics))
	for i, m := range e.q.Metrics {
		if m.Agg == query.Ratio {
			continue
		}
		rows := g.rows
		if m.Filter != nil {
			rows = nil
			for _, r := range g.rows {
				ok, err := eval(m.Filter, func(name string) any { return r[name] })
				if err != nil {
					return nil, nil, fmt.Errorf("refeval: metric %s filter: %w", m.Name, err)
				}
				if ok == yes {
					rows = append(rows, r)
				}
			}
		}
		v, err := aggregate(m, rows)
		if err != nil {
			return nil, nil, fmt.Errorf("refeval: metric %s: %w", m.Name, err)
		}
		out[i] = v
		vals[m.Name] = v
	}
	for i, m := range e.q.Metrics {
		if m.Agg != query.Ratio {
			continue
		}
		num, den := toFloat(out[m.Ratio[0]]), toFloat(out[m.Ratio[1]])
		if num != nil && den != nil && *den != 0 {
			out[i] = *num / *den
		}
		vals[m.Name] = out[i]
	}
	return out, vals, nil
}

func toFloat(v any) *float64 {
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	return &f
}

// rankSeries picks the top SeriesLimit group-value combinations by the first metric over
// the whole range: descending, nulls last, ties by group values ascending (nulls last).
func (e *evaluator) rankSeries() error {
	q := e.q
	rows, err := e.selected(q.Start, q.End)
	if err != nil {
		return err
	}
	type cand struct {
		vals  []any
		rows  []map[string]any
		score any
	}
	byKey := map[string]*cand{}
	var all []*cand
	for _, row := range rows {
		var vals []any
		for _, c := range q.GroupBy {
			vals = append(vals, row[c.Name])
		}
		k := keyString(vals)
		c := byKey[k]
		if c == nil {
			c = &cand{vals: vals}
			byKey[k] = c
			all = append(all, c)
		}
		c.rows = append(c.rows, row)
	}
	for _, c := range all {
		out, _, err := e.metrics(&group{rows: c.rows})
		if err != nil {
			return err
		}
		c.score = out[0]
	}
	sort.SliceStable(all, func(a, b int) bool {
		x, y := all[a].score, all[b].score
		switch {
		case x != nil && y == nil:
			return true
		case x == nil && y != nil:
			return false
		case x != nil && y != nil:
			if c := compare(x, y); c != 0 {
				return c > 0
			}
		}
		for i := range all[a].vals {
			u, v := all[a].vals[i], all[b].vals[i]
			switch {
			case u == nil && v == nil:
				continue
			case u == nil:
				return false
			case v == nil:
				return true
			}
			if c := compare(u, v); c != 0 {
				return c < 0
			}
		}
		return false
	})
	for i, c := range all {
		if i == q.SeriesLimit {
			break
		}
		e.top = append(e.top, keyString(c.vals))
		e.topVals = append(e.topVals, c.vals)
	}
	return nil
}

// text is a group value's canonical text for series labels.
func (e *evaluator) text(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case time.Time:
		return x.In(e.q.Location).Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// shiftForward maps a previous-period bucket to the current bucket it compares with.
func (e *evaluator) shiftForward(b time.Time) time.Time {
	q := e.q
	d := q.End.Sub(q.Start)
	if q.Granularity.Calendar() {
		l := b.In(q.Location)
		return bucket(time.Date(l.Year(), l.Month(), l.Day()+int(d.Hours()/24), 0, 0, 0, 0, q.Location), q)
	}
	return bucket(b.Add(d), q)
}

// fill gives every series a row for every bucket met by the range (found by scanning the range
// at a resolution fine enough to meet every bucket), ordered by series then time.
func (e *evaluator) fill(res *store.Result) error {
	q := e.q
	var buckets []time.Time
	seen := map[int64]bool{}
	// Bucket edges are where the local clock is a multiple of the step, or where the offset
	// changes; offsets are whole quarter hours, so scanning every gcd(step, 15m) meets them all.
	inc := gcd(int64(q.Granularity.Step()/time.Second), 900)
	first := q.Start.Truncate(time.Duration(inc) * time.Second)
	for t := first; t.Before(q.End); t = t.Add(time.Duration(inc) * time.Second) {
		at := t
		if at.Before(q.Start) {
			at = q.Start
		}
		b := bucket(at, q)
		if !seen[b.UnixMicro()] {
			seen[b.UnixMicro()] = true
			buckets = append(buckets, b)
		}
	}
	type series struct {
		vals []any
		rank int
		rows map[int64][]any
	}
	var list []*series
	byKey := map[string]*series{}
	add := func(vals []any) *series {
		k := keyString(vals)
		s := byKey[k]
		if s == nil {
			s = &series{vals: vals, rank: len(e.top), rows: map[int64][]any{}}
			for i, t := range e.topVals {
				labels := make([]any, len(t))
				for j, v := range t {
					labels[j] = e.text(v)
				}
				if keyString(labels) == k {
					s.rank = i
				}
			}
			byKey[k] = s
			list = append(list, s)
		}
		return s
	}
	if len(q.GroupBy) == 0 {
		add(nil)
	}
	for _, row := range res.Rows {
		s := add(row[1 : 1+len(q.GroupBy)])
		s.rows[row[0].(time.Time).UnixMicro()] = row
	}
	sort.SliceStable(list, func(a, b int) bool {
		if q.SeriesLimit > 0 {
			return list[a].rank < list[b].rank
		}
		for i := range list[a].vals {
			u, v := list[a].vals[i], list[b].vals[i]
			switch {
			case u == nil && v == nil:
				continue
			case u == nil:
				return false
			case v == nil:
				return true
			}
			if c := compare(u, v); c != 0 {
				return c < 0
			}
		}
		return false
	})
	var rows [][]any
	for _, s := range list {
		for _, b := range buckets {
			row, ok := s.rows[b.UnixMicro()]
			if !ok {
				row = append([]any{b}, s.vals...)
				for _, m := range q.Metrics {
					row = append(row, chartZero(m))
				}
				if q.ComparePrevious {
					out, _, err := e.metrics(&group{})
					if err != nil {
						return err
					}
					row = append(row, out...)
				}
			}
			rows = append(rows, row)
		}
	}
	if len(rows) > q.Limit {
		return fmt.Errorf("refeval: %d rows once filled, over the limit %d", len(rows), q.Limit)
	}
	res.Rows = rows
	return nil
}

// chartZero is a filled bucket's value: 0 for COUNT-like aggregates and SUM, else null.
func chartZero(m query.Metric) any {
	switch m.Agg {
	case query.Count, query.CountDistinct, query.ApproxCountDistinct:
		return int64(0)
	case query.Sum:
		if m.Type == store.TypeInt64 {
			return int64(0)
		}
		return float64(0)
	}
	return nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return 1
	}
	return a
}

// bucket is the start of t's time bucket (package planner's doc states the rules).
func bucket(t time.Time, q *query.Query) time.Time {
	l := t.In(q.Location)
	wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
	step := q.Granularity.Step().Microseconds()
	since := wall.UnixMicro() - query.BucketOrigin.UnixMicro()
	into := ((since % step) + step) % step // floor modulo: buckets before the origin too
	if q.Granularity.Calendar() {
		b := wall.Add(-time.Duration(into) * time.Microsecond)
		return time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), q.Location)
	}
	return t.Add(-time.Duration(into) * time.Microsecond)
}

// keyString identifies a group; values are typed so "1" and 1 never meet.
func keyString(key []any) string {
	var b strings.Builder
	for _, v := range key {
		switch x := v.(type) {
		case nil:
			b.WriteString("N|")
		case string:
			b.WriteString("S" + strconv.Quote(x) + "|")
		case int64:
			b.WriteString("I" + strconv.FormatInt(x, 10) + "|")
		case float64:
			if x == 0 {
				x = 0 // -0 and 0 are one group, as in SQL
			}
			b.WriteString("F" + strconv.FormatFloat(x, 'g', -1, 64) + "|")
		case bool:
			b.WriteString("B" + strconv.FormatBool(x) + "|")
		case time.Time:
			b.WriteString("T" + strconv.FormatInt(x.UnixMicro(), 10) + "|")
		default:
			b.WriteString(fmt.Sprintf("?%T%v|", v, v))
		}
	}
	return b.String()
}

func aggregate(m query.Metric, rows []map[string]any) (any, error) {
	if m.Agg == query.Count && m.Field.Name == "" {
		return int64(len(rows)), nil
	}
	if m.Agg == query.ArgMax || m.Agg == query.ArgMin {
		return argExtreme(m, rows), nil
	}
	var vals []any // non-null values: aggregates ignore nulls
	for _, r := range rows {
		if v := r[m.Field.Name]; v != nil {
			vals = append(vals, v)
		}
	}
	switch m.Agg {
	case query.Count:
		return int64(len(vals)), nil
	case query.CountDistinct, query.ApproxCountDistinct:
		seen := map[string]bool{}
		for _, v := range vals {
			seen[keyString([]any{v})] = true
		}
		return int64(len(seen)), nil
	}
	if len(vals) == 0 {
		return nil, nil
	}
	switch m.Agg {
	case query.Sum:
		if m.Field.Type == dataset.Int {
			var s int64
			for _, v := range vals {
				x := v.(int64)
				if (x > 0 && s > math.MaxInt64-x) || (x < 0 && s < math.MinInt64-x) {
					return nil, fmt.Errorf("SUM overflows int64")
				}
				s += x
			}
			return s, nil
		}
		s := 0.0
		for _, v := range vals {
			s += v.(float64)
		}
		return s, nil
	case query.Avg:
		if m.Field.Type == dataset.Int {
			s := new(big.Int)
			for _, v := range vals {
				s.Add(s, big.NewInt(v.(int64)))
			}
			f, _ := new(big.Float).SetInt(s).Float64()
			return f / float64(len(vals)), nil
		}
		s := 0.0
		for _, v := range vals {
			s += v.(float64)
		}
		return s / float64(len(vals)), nil
	case query.Min, query.Max:
		best := vals[0]
		for _, v := range vals[1:] {
			c := compare(v, best)
			if (m.Agg == query.Min && c < 0) || (m.Agg == query.Max && c > 0) {
				best = v
			}
		}
		return best, nil
	case query.Percentile, query.ApproxPercentile:
		xs := make([]float64, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case int64:
				xs[i] = float64(x)
			case float64:
				xs[i] = x
			}
		}
		sort.Float64s(xs)
		// Continuous percentile: linear interpolation between the closest ranks, as
		// quantile_cont and PERCENTILE_CONT.
		pos := m.P * float64(len(xs)-1)
		lo := math.Floor(pos)
		hi := math.Ceil(pos)
		a, b := xs[int(lo)], xs[int(hi)]
		return a + (pos-lo)*(b-a), nil
	}
	return nil, fmt.Errorf("unknown aggregation %v", m.Agg)
}

// argExtreme is ARG_MAX / ARG_MIN by its definition (query.ArgMax): Field's value in the row
// with the extreme By, skipping rows where either is null, ties going to the extreme Field.
func argExtreme(m query.Metric, rows []map[string]any) any {
	sign := 1
	if m.Agg == query.ArgMin {
		sign = -1
	}
	var bestBy, best any
	for _, r := range rows {
		by, v := r[m.By.Name], r[m.Field.Name]
		if by == nil || v == nil {
			continue
		}
		if best == nil {
			bestBy, best = by, v
			continue
		}
		c := sign * compare(by, bestBy)
		if c > 0 || (c == 0 && sign*compare(v, best) > 0) {
			bestBy, best = by, v
		}
	}
	return best
}

// tri is a value of SQL's three-valued logic.
type tri int

const (
	no tri = iota
	yes
	unknown
)

// eval evaluates a filter; get returns the value a comparison's Field names.
func eval(f *query.Filter, get func(string) any) (tri, error) {
	switch f.Kind {
	case query.And:
		out := yes
		for _, s := range f.Filters {
			r, err := eval(s, get)
			if err != nil {
				return no, err
			}
			if r == no {
				return no, nil
			}
			if r == unknown {
				out = unknown
			}
		}
		return out, nil
	case query.Or:
		out := no
		for _, s := range f.Filters {
			r, err := eval(s, get)
			if err != nil {
				return no, err
			}
			if r == yes {
				return yes, nil
			}
			if r == unknown {
				out = unknown
			}
		}
		return out, nil
	case query.Not:
		r, err := eval(f.Filters[0], get)
		switch r {
		case yes:
			return no, err
		case no:
			return yes, err
		}
		return unknown, err
	}
	v := get(f.Field)
	if f.Op == query.IsNull {
		return truth(v == nil), nil
	}
	if v == nil {
		return unknown, nil
	}
	switch f.Op {
	case query.EQ:
		return truth(compare(v, f.Values[0]) == 0), nil
	case query.NEQ:
		return truth(compare(v, f.Values[0]) != 0), nil
	case query.LT:
		return truth(compare(v, f.Values[0]) < 0), nil
	case query.LTE:
		return truth(compare(v, f.Values[0]) <= 0), nil
	case query.GT:
		return truth(compare(v, f.Values[0]) > 0), nil
	case query.GTE:
		return truth(compare(v, f.Values[0]) >= 0), nil
	case query.Between:
		return truth(compare(v, f.Values[0]) >= 0 && compare(v, f.Values[1]) <= 0), nil
	case query.IN, query.NotIn:
		found := false
		for _, x := range f.Values {
			found = found || compare(v, x) == 0
		}
		return truth(found == (f.Op == query.IN)), nil
	case query.Contains:
		s, ok := v.(string)
		if !ok {
			return no, fmt.Errorf("CONTAINS on %s: value is %T", f.Field, v)
		}
		return truth(strings.Contains(s, f.Values[0].(string))), nil
	}
	return no, fmt.Errorf("unknown operator %v", f.Op)
}

func truth(b bool) tri {
	if b {
		return yes
	}
	return no
}

// compare orders two non-null values of one type; strings by bytes, as the stores do.
func compare(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
		return cmpOrdered(float64(x), b.(float64))
	case float64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, float64(y))
		}
		return cmpOrdered(x, b.(float64))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	panic(fmt.Sprintf("refeval: cannot compare %T", a))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortRows orders the answer: the requested keys, then __time and the group-by columns
// ascending; nulls last whatever the direction.
func sortRows(q *query.Query, res *store.Result) {
	col := map[string]int{}
	for j, c := range res.Columns {
		col[c.Name] = j
	}
	keys := append([]query.Order(nil), q.OrderBy...)
	used := map[string]bool{}
	for _, k := range keys {
		used[k.By] = true
	}
	if !q.Granularity.IsZero() && !used[query.TimeColumn] {
		keys = append(keys, query.Order{By: query.TimeColumn})
	}
	for _, c := range q.GroupBy {
		if !used[c.Name] {
			keys = append(keys, query.Order{By: c.Name})
		}
	}
	sort.SliceStable(res.Rows, func(a, b int) bool {
		for _, k := range keys {
			x, y := res.Rows[a][col[k.By]], res.Rows[b][col[k.By]]
			var c int
			switch {
			case x == nil && y == nil:
				continue
			case x == nil:
				return false
			case y == nil:
				return true
			default:
				c = compare(x, y)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}
