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
// planner Finish: columns per q.Outputs, times in q.Location, rows ordered and limited.
// APPROX_* aggregates are computed exactly.
func Eval(q *query.Query, d *dataset.Dataset, rows []map[string]any) (*store.Result, error) {
	if d == nil {
		d = q.Dataset
	}
	type group struct {
		key  []any // __time (if bucketed), then group-by values
		rows []map[string]any
	}
	groups := map[string]*group{}
	var order []string // first-seen order; the final sort decides the answer's order
	global := q.Granularity.IsZero() && len(q.GroupBy) == 0
	if global {
		// An aggregate without GROUP BY answers one row even over no rows.
		groups[""] = &group{}
		order = append(order, "")
	}
	for i, row := range rows {
		tv, ok := row[d.TimeColumn]
		if !ok || tv == nil {
			continue // a row without a time is in no range
		}
		t, ok := tv.(time.Time)
		if !ok {
			return nil, fmt.Errorf("refeval: row %d: time column %s holds %T", i, d.TimeColumn, tv)
		}
		if t.Before(q.Start) || !t.Before(q.End) {
			continue
		}
		if q.Filter != nil {
			m, err := eval(q.Filter, func(name string) any { return row[name] })
			if err != nil {
				return nil, fmt.Errorf("refeval: row %d: %w", i, err)
			}
			if m != yes {
				continue
			}
		}
		var key []any
		if !q.Granularity.IsZero() {
			key = append(key, bucket(t, q))
		}
		for _, c := range q.GroupBy {
			key = append(key, row[c.Name])
		}
		k := keyString(key)
		g := groups[k]
		if g == nil {
			g = &group{key: key}
			groups[k] = g
			order = append(order, k)
		}
		g.rows = append(g.rows, row)
	}

	res := &store.Result{Columns: q.Outputs()}
	for _, k := range order {
		g := groups[k]
		vals := map[string]any{}
		out := append([]any(nil), g.key...)
		for _, m := range q.Metrics {
			v, err := aggregate(m, g.rows)
			if err != nil {
				return nil, fmt.Errorf("refeval: metric %s: %w", m.Name, err)
			}
			vals[m.Name] = v
			out = append(out, v)
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
		res.Rows = append(res.Rows, out)
	}

	sortRows(q, res)
	if len(res.Rows) > q.Limit {
		res.Rows = res.Rows[:q.Limit]
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
