// Package query is olapgate's validated aggregate query model: what a request means, resolved
// against a dataset's schema, independent of any backend.
//
// Semantics decided here (planners and the reference evaluator implement them):
//
//   - Time range: half-open [Start, End), in UTC, truncated to microseconds (the stores'
//     precision). Each bound is RFC 3339, epoch milliseconds, or relative to Options.Now:
//     "now", "now-6h", "now+1d" (units s m h d w; d is 24h and w is 7 days, not calendar
//     days). A missing end is now; a missing start is one hour before the end, so an empty
//     range means the last hour. The resolved range is what callers echo back.
//   - Limit: 0 means Limits.DefaultLimit; over Limits.MaxLimit is an error, not a silent cap.
//   - Nulls: aggregates other than COUNT(*) ignore nulls; COUNT(field) counts non-null values.
//     Filters follow SQL three-valued logic: a comparison with a null field is unknown, NOT of
//     unknown is unknown, and a row matches only when the whole filter is true. So NEQ, NOT_IN
//     and NOT never match rows whose field is null; add an IS_NULL branch to include them.
//   - Tenant: with Options.Tenant set on a dataset with a tenantColumn, `tenantColumn EQ tenant`
//     is ANDed into the filter here, so every cache or coalescing key sees it. Without a tenant
//     there is no tenant filter: a dataset with a tenantColumn is then served single-tenant.
//   - Order: nulls sort last in either direction; after the requested keys, rows are ordered
//     by __time then every group-by column (ascending), so LIMIT picks the same rows every time.
package query

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	// Zones must resolve the same on hosts without system tzdata (distroless images).
	_ "time/tzdata"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// TimeColumn is the output name of the bucketed time column.
const TimeColumn = "__time"

// Limits bound what a query may ask. Zero fields take the documented defaults.
type Limits struct {
	// DefaultLimit applies when a query sets no limit. Default 1000.
	DefaultLimit int
	// MaxLimit is the largest limit a query may set. Default 100,000.
	MaxLimit int
	// MaxRange bounds End-Start; 0 means unbounded.
	MaxRange time.Duration
}

// Default limits.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
)

func (l Limits) withDefaults() Limits {
	if l.DefaultLimit <= 0 {
		l.DefaultLimit = DefaultLimit
	}
	if l.MaxLimit <= 0 {
		l.MaxLimit = MaxLimit
	}
	return l
}

// Options carry what FromProto needs besides the request.
type Options struct {
	// Now resolves relative time bounds; zero means time.Now().
	Now time.Time
	// Tenant, when set on a dataset with a tenantColumn, restricts the query to that tenant.
	Tenant string
	Limits Limits
}

// Query is a validated aggregate query. Names in it are the schema's spelling of fields.
type Query struct {
	Dataset *dataset.Dataset
	// Start and End are the resolved half-open range, UTC, microsecond precision.
	Start, End time.Time
	// Granularity is the time bucket; zero means no __time column.
	Granularity Granularity
	// Location is the zone of buckets and of every output time; never nil.
	Location *time.Location
	Metrics  []Metric
	// GroupBy are dataset columns, in output order.
	GroupBy []dataset.Column
	// Filter selects rows (nil: all rows in range); it includes the tenant predicate.
	Filter *Filter
	// Having selects groups by metric output names (nil: all groups).
	Having  *Filter
	OrderBy []Order
	// Limit is the resolved row limit, >= 1.
	Limit int
	// MaxRows is Limits.MaxLimit: the most rows any statement of the query may bring back
	// (series, previous period, time-series fill), beyond which the query fails.
	MaxRows int
	// SeriesLimit keeps the top SeriesLimit series (group-by value combinations, ranked by the
	// first metric over the whole range, descending, nulls last, ties by group values
	// ascending) and folds every other row into the series Other; 0: off. Group-by output
	// columns are then STRING: values in their canonical text (FormatValue), null stays null.
	SeriesLimit int
	// ComparePrevious adds <metric>__prev columns: the same aggregate over the range moved
	// back by its length (PreviousPeriod), matched to the current row by group values and by
	// bucket moved by the same shift. A group or bucket absent from the previous period gets
	// the aggregate over no rows: 0 for COUNT-like metrics, null for the others.
	ComparePrevious bool
	// TimeSeries fills the answer for charts: every series (group) has a row for every bucket
	// of the range (Buckets), rows ordered by series then __time; a filled bucket's COUNT-like
	// metrics and SUMs are 0, the others null. Needs a granularity; excludes OrderBy. The
	// filled answer must fit in Limit, or the query fails (never truncated silently).
	TimeSeries bool
	// Hints tune execution; they do not change the answer and are not in Key.
	Hints Hints
}

// Hints are the per-query options that tune execution, not results.
type Hints struct {
	Timeout      time.Duration // 0: server default
	MaxStaleness time.Duration // 0: no stale answers
	NoCache      bool
	Priority     string // "interactive" or "bulk"
}

// Unit is a granularity unit.
type Unit byte

// Granularity units.
const (
	Second Unit = 's'
	Minute Unit = 'm'
	Hour   Unit = 'h'
	Day    Unit = 'd'
	Week   Unit = 'w'
)

// Granularity is a bucket width: Count Units.
type Granularity struct {
	Count int
	Unit  Unit
}

// IsZero reports whether the query has no time buckets.
func (g Granularity) IsZero() bool { return g.Count == 0 }

// Calendar reports whether buckets are calendar days or weeks in the query's zone (d, w),
// rather than fixed steps aligned to the zone's wall clock (s, m, h).
func (g Granularity) Calendar() bool { return g.Unit == Day || g.Unit == Week }

// Step is the bucket width; for d and w it is the width on a wall clock without DST.
func (g Granularity) Step() time.Duration { return time.Duration(g.Count) * g.Unit.duration() }

func (g Granularity) String() string {
	if g.IsZero() {
		return ""
	}
	return itoa(g.Count) + string(g.Unit)
}

func (u Unit) duration() time.Duration {
	switch u {
	case Second:
		return time.Second
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	case Week:
		return 7 * 24 * time.Hour
	}
	return 0
}

// BucketOrigin is the wall-clock instant buckets are aligned to: a Monday, so weeks start on
// Mondays, and a midnight, so days start at midnight.
var BucketOrigin = time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)

// Agg is an aggregation.
type Agg int

// Aggregations.
const (
	Count Agg = iota + 1
	Sum
	Avg
	Min
	Max
	CountDistinct
	ApproxCountDistinct
	Percentile
	ApproxPercentile
	// Ratio is Metric.Ratio[0] / Metric.Ratio[1] (two other metrics' outputs), a DOUBLE; null
	// when either is null or the denominator is 0.
	Ratio
	// ArgMax is Field's value in the row with the largest By (an exemplar: the slowest span's
	// trace id). Rows where Field or By is null are skipped; among rows tied on By, the
	// largest Field value is taken, so every backend gives the same answer. ArgMin is the
	// same with the smallest By and, among ties, the smallest Field.
	ArgMax
	ArgMin
)

// Other is the group value of the series that holds every series past SeriesLimit.
const Other = "__other__"

// PrevSuffix names the previous period's column of a metric: <name>__prev.
const PrevSuffix = "__prev"

var aggNames = map[Agg]string{
	Count: "COUNT", Sum: "SUM", Avg: "AVG", Min: "MIN", Max: "MAX", CountDistinct: "COUNT_DISTINCT",
	ApproxCountDistinct: "APPROX_COUNT_DISTINCT", Percentile: "PERCENTILE", ApproxPercentile: "APPROX_PERCENTILE",
	Ratio: "RATIO", ArgMax: "ARG_MAX", ArgMin: "ARG_MIN",
}

func (a Agg) String() string { return aggNames[a] }

// Approximate reports whether the backend may answer with an estimate.
func (a Agg) Approximate() bool { return a == ApproxCountDistinct || a == ApproxPercentile }

// CountLike reports whether the aggregate over no rows is 0 (not null).
func (a Agg) CountLike() bool { return a == Count || a == CountDistinct || a == ApproxCountDistinct }

// Metric is one aggregate output column.
type Metric struct {
	Agg Agg
	// Field is the aggregated column; Field.Name is "" for COUNT(*).
	Field dataset.Column
	// P is the percentile rank in (0, 1) for PERCENTILE and APPROX_PERCENTILE.
	P float64
	// Name is the output column name.
	Name string
	// Type is the output column type.
	Type store.ColumnType
	// Filter restricts the rows this metric aggregates (within the query's rows); nil: all.
	Filter *Filter
	// Ratio holds the indexes in Query.Metrics of the numerator and denominator of a Ratio.
	Ratio [2]int
	// By is the field that picks the row of ArgMax and ArgMin.
	By dataset.Column
}

// Output describes the metric's result column.
func (m Metric) Output() store.ResultColumn {
	return store.ResultColumn{Name: m.Name, Type: m.Type, Approximate: m.Agg.Approximate()}
}

// Approximate reports whether metric i may be an estimate (a ratio is when either part is).
func (q *Query) Approximate(i int) bool {
	m := q.Metrics[i]
	if m.Agg == Ratio {
		return q.Metrics[m.Ratio[0]].Agg.Approximate() || q.Metrics[m.Ratio[1]].Agg.Approximate()
	}
	return m.Agg.Approximate()
}

// Kind is a filter node's kind.
type Kind int

// Filter node kinds.
const (
	And Kind = iota + 1
	Or
	Not
	Cmp
)

// Op is a comparison operator.
type Op int

// Comparison operators.
const (
	EQ Op = iota + 1
	NEQ
	IN
	NotIn
	LT
	LTE
	GT
	GTE
	Between
	Contains
	IsNull
)

var opNames = map[Op]string{
	EQ: "EQ", NEQ: "NEQ", IN: "IN", NotIn: "NOT_IN", LT: "LT", LTE: "LTE", GT: "GT", GTE: "GTE",
	Between: "BETWEEN", Contains: "CONTAINS", IsNull: "IS_NULL",
}

func (o Op) String() string { return opNames[o] }

// Filter is a node of a filter tree.
type Filter struct {
	Kind Kind
	// Filters are the operands of And and Or (at least one) and the single operand of Not.
	Filters []*Filter
	// Field is what a Cmp compares: a dataset column's schema name in a row filter, a metric
	// output name in a having filter.
	Field string
	// Type is the compared field's type; Values hold its Go type: string, int64, float64,
	// bool, or time.Time (UTC, microseconds).
	Type dataset.Type
	Op   Op
	// Values: one for EQ NEQ LT LTE GT GTE CONTAINS, two for BETWEEN (inclusive), one or more
	// for IN and NOT_IN, none for IS_NULL. Never nil values.
	Values []any
}

// Order is one ORDER BY key: an output column name.
type Order struct {
	By   string
	Desc bool
}

// Outputs lists the result columns in order: __time (with a granularity), group-by columns,
// metrics.
func (q *Query) Outputs() []store.ResultColumn {
	var out []store.ResultColumn
	if !q.Granularity.IsZero() {
		out = append(out, store.ResultColumn{Name: TimeColumn, Type: store.TypeTimestamp})
	}
	for _, c := range q.GroupBy {
		t := ColumnType(c.Type)
		if q.SeriesLimit > 0 {
			t = store.TypeString
		}
		out = append(out, store.ResultColumn{Name: c.Name, Type: t})
	}
	for i, m := range q.Metrics {
		o := m.Output()
		o.Approximate = q.Approximate(i)
		out = append(out, o)
	}
	if q.ComparePrevious {
		for i, m := range q.Metrics {
			o := m.Output()
			o.Name += PrevSuffix
			o.Approximate = q.Approximate(i)
			out = append(out, o)
		}
	}
	return out
}

// ColumnType is the result column type of a dataset field type.
func ColumnType(t dataset.Type) store.ColumnType {
	switch t {
	case dataset.String:
		return store.TypeString
	case dataset.Int:
		return store.TypeInt64
	case dataset.Float:
		return store.TypeDouble
	case dataset.Bool:
		return store.TypeBool
	case dataset.Timestamp:
		return store.TypeTimestamp
	}
	return 0
}

// Key is a canonical serialization of everything that determines the answer (dataset,
// resolved range, zone, granularity, metrics, group-by, filters with the tenant predicate,
// having, order, limit), for result caches and request coalescing. Hints are left out. Equal
// keys mean equal answers over the same data; the key is not meant to be parsed.
func (q *Query) Key() string {
	// Hand-written rather than encoding/json: it is on every request's path, cache hits
	// included. Strings are quoted (strconv.Quote), so no value can forge a separator.
	b := make([]byte, 0, 256)
	b = append(b, "v2|"...)
	b = strconv.AppendQuote(b, q.Dataset.Name)
	b = append(b, '|')
	b = strconv.AppendQuote(b, q.Dataset.TimeColumn) // in case a dataset is redeclared
	b = append(b, '|')
	b = strconv.AppendInt(b, q.Start.UnixMicro(), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, q.End.UnixMicro(), 10)
	b = append(b, '|')
	b = append(b, q.Granularity.String()...)
	b = append(b, '|')
	b = strconv.AppendQuote(b, q.Location.String())
	b = append(b, "|m"...)
	for _, m := range q.Metrics {
		b = append(b, '(')
		b = append(b, m.Agg.String()...)
		b = append(b, ',')
		b = strconv.AppendQuote(b, m.Field.Name)
		b = append(b, ',')
		b = strconv.AppendFloat(b, m.P, 'g', -1, 64)
		b = append(b, ',')
		b = strconv.AppendQuote(b, m.Name)
		if m.By.Name != "" {
			b = append(b, ",b"...)
			b = strconv.AppendQuote(b, m.By.Name)
		}
		if m.Agg == Ratio {
			b = append(b, ",r"...)
			b = strconv.AppendInt(b, int64(m.Ratio[0]), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(m.Ratio[1]), 10)
		}
		if m.Filter != nil {
			b = append(b, ",w"...)
			b = appendFilterKey(b, m.Filter)
		}
		b = append(b, ')')
	}
	b = append(b, "|b"...)
	for _, c := range q.GroupBy {
		b = strconv.AppendQuote(b, c.Name)
		b = append(b, ',')
	}
	b = append(b, "|w"...)
	b = appendFilterKey(b, q.Filter)
	b = append(b, "|h"...)
	b = appendFilterKey(b, q.Having)
	b = append(b, "|o"...)
	for _, o := range q.OrderBy {
		b = strconv.AppendQuote(b, o.By)
		if o.Desc {
			b = append(b, '-')
		}
		b = append(b, ',')
	}
	b = append(b, "|l"...)
	b = strconv.AppendInt(b, int64(q.Limit), 10)
	b = append(b, "|s"...)
	b = strconv.AppendInt(b, int64(q.SeriesLimit), 10)
	b = append(b, "|c"...)
	b = strconv.AppendBool(b, q.ComparePrevious)
	b = append(b, "|t"...)
	b = strconv.AppendBool(b, q.TimeSeries)
	return string(b)
}

// appendFilterKey writes a filter canonically; times become microseconds so the key does not
// depend on how a value was spelled, and -0 is 0.
func appendFilterKey(b []byte, f *Filter) []byte {
	if f == nil {
		return append(b, '-')
	}
	switch f.Kind {
	case And, Or, Not:
		b = append(b, "(k"...)
		b = strconv.AppendInt(b, int64(f.Kind), 10)
		for _, s := range f.Filters {
			b = append(b, ' ')
			b = appendFilterKey(b, s)
		}
		return append(b, ')')
	}
	b = append(b, "(c"...)
	b = strconv.AppendQuote(b, f.Field)
	b = append(b, ' ')
	b = append(b, f.Op.String()...)
	for _, v := range f.Values {
		b = append(b, ' ')
		switch x := v.(type) {
		case string:
			b = append(b, 's')
			b = strconv.AppendQuote(b, x)
		case int64:
			b = append(b, 'i')
			b = strconv.AppendInt(b, x, 10)
		case float64:
			if x == 0 {
				x = 0
			}
			b = append(b, 'f')
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		case bool:
			b = append(b, 'b')
			b = strconv.AppendBool(b, x)
		case time.Time:
			b = append(b, 't')
			b = strconv.AppendInt(b, x.UnixMicro(), 10)
		}
	}
	return append(b, ')')
}

// Shape identifies the query's form without its values: dataset, granularity, metrics,
// group-by, the filter's fields and operators, having, order, the dashboard options and the
// range's length to within a factor of two. Queries of one shape cost about the same, so the
// query log groups them by it (slow-query views, admission cost classes).
func (q *Query) Shape() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|", q.Dataset.Name, q.Granularity, q.Location)
	for _, m := range q.Metrics {
		fmt.Fprintf(&b, "%s(%s,%g,%s)", m.Agg, m.Field.Name, m.P, m.By.Name)
		if m.Filter != nil {
			b.WriteString("[" + filterShape(m.Filter) + "]")
		}
		b.WriteString(",")
	}
	for _, c := range q.GroupBy {
		b.WriteString(c.Name + ",")
	}
	fmt.Fprintf(&b, "|%s|%s|%d|%d|%v|%v|%d", filterShape(q.Filter), filterShape(q.Having), len(q.OrderBy),
		q.SeriesLimit, q.ComparePrevious, q.TimeSeries, bits.Len64(uint64(q.End.Sub(q.Start)/time.Second)))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

func filterShape(f *Filter) string {
	if f == nil {
		return ""
	}
	switch f.Kind {
	case And, Or, Not:
		parts := make([]string, len(f.Filters))
		for i, s := range f.Filters {
			parts[i] = filterShape(s)
		}
		return fmt.Sprintf("%d(%s)", f.Kind, strings.Join(parts, ","))
	}
	return fmt.Sprintf("%s %s %d", f.Field, f.Op, len(f.Values))
}
