package query

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Request size bounds: they keep planning, statements and keys small whatever a client sends.
const (
	MaxMetrics     = 100
	MaxFilterNodes = 1000
	MaxFilterDepth = 32
	maxNameBytes   = 256
)

var aggByName = map[string]Agg{}

var opByName = map[string]Op{}

func init() {
	for a, n := range aggNames {
		aggByName[n] = a
	}
	for o, n := range opNames {
		opByName[n] = o
	}
}

// FromProto validates a request against dataset d and resolves it: relative times against
// o.Now, defaults, the tenant predicate. Every error it returns is a *Error naming the field.
func FromProto(pb *olapgatev1.Query, d *dataset.Dataset, o Options) (*Query, error) {
	if pb == nil {
		return nil, errf("query", "required")
	}
	if d == nil || d.Columns() == nil {
		return nil, errf("dataset", "no dataset to validate against")
	}
	if pb.GetDataset() != "" && !strings.EqualFold(pb.GetDataset(), d.Name) {
		return nil, errf("dataset", "%q does not match dataset %s", pb.GetDataset(), d.Name)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	lim := o.Limits.withDefaults()
	v := &validator{d: d}
	q := &Query{Dataset: d}

	var err error
	if q.Start, q.End, err = resolveRange(pb.GetTimeRange(), o.Now, lim); err != nil {
		return nil, err
	}
	if q.Granularity, err = parseGranularity(pb.GetGranularity()); err != nil {
		return nil, errf("granularity", "%s", err.Error())
	}
	if q.Location, err = loadZone(pb.GetTimeZone()); err != nil {
		return nil, err
	}
	if !q.Granularity.IsZero() && q.Location != time.UTC {
		// Planners render one branch per offset change; bound that here so Plan cannot fail.
		if _, err := ZoneSpans(q.Location, q.Start, q.End, MaxZoneChanges); err != nil {
			return nil, errf("timeRange", "%s; narrow the range", err.Error())
		}
	}

	outputs := map[string]bool{}
	if !q.Granularity.IsZero() {
		outputs[TimeColumn] = true
	}
	for i, name := range pb.GetGroupBy() {
		path := fmt.Sprintf("groupBy[%d]", i)
		c, err := v.column(path, name)
		if err != nil {
			return nil, err
		}
		if outputs[c.Name] {
			return nil, errf(path, "%s is grouped by twice", c.Name)
		}
		outputs[c.Name] = true
		q.GroupBy = append(q.GroupBy, c)
	}

	if len(pb.GetMetrics()) == 0 {
		return nil, errf("metrics", "at least one metric is required (e.g. {\"agg\": \"COUNT\"})")
	}
	if len(pb.GetMetrics()) > MaxMetrics {
		return nil, errf("metrics", "%d metrics: at most %d", len(pb.GetMetrics()), MaxMetrics)
	}
	metricType := map[string]dataset.Type{}
	metricIndex := map[string]int{}
	for i, pm := range pb.GetMetrics() {
		path := fmt.Sprintf("metrics[%d]", i)
		m, err := v.metric(path, pm)
		if err != nil {
			return nil, err
		}
		if outputs[m.Name] {
			return nil, errf(path+nameField(pm), "output name %q is used twice", m.Name)
		}
		outputs[m.Name] = true
		metricType[m.Name] = fieldType(m.Type)
		metricIndex[m.Name] = i
		q.Metrics = append(q.Metrics, m)
	}
	// Ratios name other metrics, which may come after them.
	for i, pm := range pb.GetMetrics() {
		if q.Metrics[i].Agg != Ratio {
			continue
		}
		for j, name := range pm.GetRatio() {
			path := fmt.Sprintf("metrics[%d].ratio[%d]", i, j)
			k, ok := metricIndex[name]
			if !ok {
				return nil, errf(path, "unknown metric %q (a ratio divides two metric output names: %s)", name, strings.Join(metricNames(q), ", "))
			}
			if q.Metrics[k].Agg == Ratio {
				return nil, errf(path, "%q is itself a ratio; ratios divide plain metrics", name)
			}
			if t := q.Metrics[k].Type; t != store.TypeInt64 && t != store.TypeDouble {
				return nil, errf(path, "%q is %s; ratios divide numeric metrics", name, t)
			}
			q.Metrics[i].Ratio[j] = k
		}
	}

	if pb.GetFilter() != nil {
		if q.Filter, err = v.filter("filter", pb.GetFilter(), 0, v.rowField); err != nil {
			return nil, err
		}
	}
	if err := v.tenant(q, o.Tenant); err != nil {
		return nil, err
	}
	if pb.GetHaving() != nil {
		metricField := func(path, name string) (string, dataset.Type, error) {
			t, ok := metricType[name]
			if !ok {
				return "", "", errf(path, "unknown metric %q (having refers to metric output names: %s)", name, strings.Join(metricNames(q), ", "))
			}
			return name, t, nil
		}
		v.nodes = 0
		if q.Having, err = v.filter("having", pb.GetHaving(), 0, metricField); err != nil {
			return nil, err
		}
	}

	if q.OrderBy, err = orderBy(pb.GetOrderBy(), q, outputs); err != nil {
		return nil, err
	}

	switch l := int(pb.GetLimit()); {
	case l < 0:
		return nil, errf("limit", "%d is negative", l)
	case l == 0:
		q.Limit = lim.DefaultLimit
	case l > lim.MaxLimit:
		return nil, errf("limit", "%d is over the maximum %d", l, lim.MaxLimit)
	default:
		q.Limit = l
	}

	q.MaxRows = lim.MaxLimit
	if err := dashboard(pb, q, lim); err != nil {
		return nil, err
	}
	if q.Hints, err = hints(pb.GetOptions()); err != nil {
		return nil, err
	}
	return q, nil
}

// MaxSeriesLimit bounds seriesLimit: a chart with more series is unreadable, and the series
// are matched by one CASE branch each.
const MaxSeriesLimit = 100

// dashboard validates the chart-shaping options: seriesLimit, compare, timeSeries.
func dashboard(pb *olapgatev1.Query, q *Query, lim Limits) error {
	switch n := int(pb.GetSeriesLimit()); {
	case n < 0:
		return errf("seriesLimit", "%d is negative", n)
	case n > MaxSeriesLimit:
		return errf("seriesLimit", "%d is over the maximum %d", n, MaxSeriesLimit)
	case n > 0:
		if len(q.GroupBy) == 0 {
			return errf("seriesLimit", "needs groupBy: series are group-by value combinations")
		}
		if q.Having != nil {
			return errf("having", "not supported with seriesLimit (the other series has no single group to test)")
		}
		q.SeriesLimit = n
	}
	switch c := strings.ToLower(strings.TrimSpace(pb.GetCompare())); c {
	case "":
	case "previous_period":
		q.ComparePrevious = true
		// The previous period must be as valid as the current one (range, zone spans).
		ps, pe := q.PreviousPeriod()
		if _, err := checkTime(ps); err != nil {
			return errf("compare", "previous period starts at %s", err.Error())
		}
		if d := q.End.Sub(q.Start); !q.Granularity.IsZero() && d%q.Granularity.Step() != 0 {
			return errf("compare", "the range (%s) is not a whole number of %s buckets, so its buckets cannot be matched with the previous period's", d, q.Granularity)
		}
		if !q.Granularity.IsZero() && q.Location != time.UTC {
			if _, err := ZoneSpans(q.Location, ps, pe, MaxZoneChanges); err != nil {
				return errf("compare", "previous period: %s; narrow the range", err.Error())
			}
		}
	default:
		return errf("compare", "%q: want previous_period", pb.GetCompare())
	}
	if pb.GetTimeSeries() {
		if q.Granularity.IsZero() {
			return errf("timeSeries", "needs a granularity (the buckets to fill)")
		}
		if len(q.OrderBy) > 0 {
			return errf("orderBy", "not supported with timeSeries (rows are ordered by series, then time)")
		}
		if pb.GetLimit() == 0 {
			// A series answer is all of its buckets: the default is the maximum, not a cut.
			q.Limit = lim.MaxLimit
		}
		if n := len(q.Buckets(q.Limit)); n > q.Limit {
			return errf("timeSeries", "the range has more %s buckets than the limit %d; coarsen the granularity, narrow the range or raise the limit", q.Granularity, q.Limit)
		}
		q.TimeSeries = true
	}
	return nil
}

func resolveRange(tr *olapgatev1.TimeRange, now time.Time, lim Limits) (start, end time.Time, err error) {
	end, err = checkTime(now)
	if err != nil {
		return start, end, errf("timeRange.end", "now: %s", err.Error())
	}
	if s := tr.GetEnd(); s != "" {
		if end, err = parseBound(s, now); err != nil {
			return start, end, errf("timeRange.end", "%s", err.Error())
		}
	}
	if s := tr.GetStart(); s != "" {
		if start, err = parseBound(s, now); err != nil {
			return start, end, errf("timeRange.start", "%s", err.Error())
		}
	} else if start, err = checkTime(end.Add(-DefaultRange)); err != nil {
		return start, end, errf("timeRange.start", "end - 1h: %s", err.Error())
	}
	if !start.Before(end) {
		return start, end, errf("timeRange", "start %s is not before end %s", start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	if lim.MaxRange > 0 && end.Sub(start) > lim.MaxRange {
		return start, end, errf("timeRange", "%s is longer than the maximum %s", end.Sub(start), lim.MaxRange)
	}
	return start, end, nil
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		// The server's zone is not something a client can know or rely on.
		return nil, errf("timeZone", "%q: name an IANA zone such as America/New_York", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errf("timeZone", "unknown IANA zone %q", name)
	}
	return loc, nil
}

type validator struct {
	d     *dataset.Dataset
	nodes int
}

func (v *validator) column(path, name string) (dataset.Column, error) {
	if name == "" {
		return dataset.Column{}, errf(path, "field name required")
	}
	c, ok := v.d.Column(name)
	if !ok {
		return dataset.Column{}, errf(path, "unknown field %q in dataset %s", name, v.d.Name)
	}
	return c, nil
}

func (v *validator) metric(path string, pm *olapgatev1.Metric) (Metric, error) {
	if len(pm.GetRatio()) > 0 || strings.EqualFold(strings.TrimSpace(pm.GetAgg()), "RATIO") {
		return v.ratio(path, pm)
	}
	agg, ok := aggByName[strings.ToUpper(strings.TrimSpace(pm.GetAgg()))]
	if !ok || agg == Ratio {
		names := make([]string, 0, len(aggNames))
		for a := Count; a <= ArgMin; a++ {
			if a != Ratio {
				names = append(names, a.String())
			}
		}
		return Metric{}, errf(path+".agg", "unknown aggregation %q (want %s)", pm.GetAgg(), strings.Join(names, ", "))
	}
	m := Metric{Agg: agg}
	if pm.GetField() == "" {
		if agg != Count {
			return Metric{}, errf(path+".field", "required for %s", agg)
		}
	} else {
		c, err := v.column(path+".field", pm.GetField())
		if err != nil {
			return Metric{}, err
		}
		m.Field = c
	}
	numeric := m.Field.Type == dataset.Int || m.Field.Type == dataset.Float
	switch agg {
	case Count, CountDistinct, ApproxCountDistinct:
		m.Type = store.TypeInt64
	case Sum:
		if !numeric {
			return Metric{}, errf(path+".field", "%s needs a numeric field; %s is %s", agg, m.Field.Name, m.Field.Type)
		}
		// SUM of integers stays an integer (backends widen it; planners cast back).
		m.Type = ColumnType(m.Field.Type)
	case Avg, Percentile, ApproxPercentile:
		if !numeric {
			return Metric{}, errf(path+".field", "%s needs a numeric field; %s is %s", agg, m.Field.Name, m.Field.Type)
		}
		m.Type = store.TypeDouble
	case Min, Max:
		if !numeric && m.Field.Type != dataset.Timestamp {
			return Metric{}, errf(path+".field", "%s needs a numeric or timestamp field; %s is %s", agg, m.Field.Name, m.Field.Type)
		}
		m.Type = ColumnType(m.Field.Type)
	case ArgMax, ArgMin:
		if pm.GetBy() == "" {
			return Metric{}, errf(path+".by", "required for %s: the field whose extreme picks the row (e.g. \"Duration\")", agg)
		}
		by, err := v.column(path+".by", pm.GetBy())
		if err != nil {
			return Metric{}, err
		}
		if by.Type != dataset.Int && by.Type != dataset.Float && by.Type != dataset.Timestamp {
			return Metric{}, errf(path+".by", "%s needs a numeric or timestamp field to order by; %s is %s", agg, by.Name, by.Type)
		}
		m.By = by
		m.Type = ColumnType(m.Field.Type)
	}
	if pm.GetBy() != "" && agg != ArgMax && agg != ArgMin {
		return Metric{}, errf(path+".by", "only ARG_MAX and ARG_MIN take by")
	}
	if agg == Percentile || agg == ApproxPercentile {
		p := pm.GetP()
		if !(p > 0 && p < 1) {
			return Metric{}, errf(path+".p", "%v: %s needs p in (0, 1), e.g. 0.99", p, agg)
		}
		m.P = p
	} else if pm.GetP() != 0 {
		return Metric{}, errf(path+".p", "only PERCENTILE and APPROX_PERCENTILE take p")
	}
	if pm.GetFilter() != nil {
		f, err := v.filter(path+".filter", pm.GetFilter(), 0, v.rowField)
		if err != nil {
			return Metric{}, err
		}
		m.Filter = f
	}
	if as := pm.GetAs(); as != "" {
		if err := checkName(path+".as", as); err != nil {
			return Metric{}, err
		}
		m.Name = as
	} else {
		if m.Filter != nil {
			return Metric{}, errf(path+".as", "required for a filtered aggregation (its default name would clash with the unfiltered one)")
		}
		m.Name = defaultName(m)
	}
	return m, nil
}

// ratio validates a ratio metric; its operands are resolved once every metric is known.
func (v *validator) ratio(path string, pm *olapgatev1.Metric) (Metric, error) {
	switch {
	case pm.GetAgg() != "" && !strings.EqualFold(strings.TrimSpace(pm.GetAgg()), "RATIO"):
		return Metric{}, errf(path+".agg", "a ratio takes no agg (it divides two other metrics)")
	case len(pm.GetRatio()) != 2:
		return Metric{}, errf(path+".ratio", "needs 2 metric names (numerator, denominator), got %d", len(pm.GetRatio()))
	case pm.GetField() != "":
		return Metric{}, errf(path+".field", "a ratio takes no field")
	case pm.GetP() != 0:
		return Metric{}, errf(path+".p", "a ratio takes no p")
	case pm.GetFilter() != nil:
		return Metric{}, errf(path+".filter", "a ratio takes no filter; filter its operands")
	case pm.GetAs() == "":
		return Metric{}, errf(path+".as", "required for a ratio, e.g. \"error_rate\"")
	}
	if err := checkName(path+".as", pm.GetAs()); err != nil {
		return Metric{}, err
	}
	return Metric{Agg: Ratio, Name: pm.GetAs(), Type: store.TypeDouble}, nil
}

func checkName(path, as string) error {
	switch {
	case !utf8.ValidString(as):
		return errf(path, "%q is not valid UTF-8", as)
	case len(as) > maxNameBytes:
		return errf(path, "longer than %d bytes", maxNameBytes)
	case strings.HasPrefix(as, "__"):
		return errf(path, "%q: names starting with __ are reserved", as)
	case strings.HasSuffix(as, PrevSuffix):
		return errf(path, "%q: names ending in %s are reserved for compare", as, PrevSuffix)
	}
	return nil
}

// defaultName names a metric without `as`: count, sum_price, p99_price, p99_9_price, ...
func defaultName(m Metric) string {
	f := m.Field.Name
	switch m.Agg {
	case Count:
		if f == "" {
			return "count"
		}
		return "count_" + f
	case Percentile:
		return percentName(m.P) + "_" + f
	case ApproxPercentile:
		return "approx_" + percentName(m.P) + "_" + f
	case ArgMax:
		return f + "_at_max_" + m.By.Name
	case ArgMin:
		return f + "_at_min_" + m.By.Name
	}
	return strings.ToLower(m.Agg.String()) + "_" + f
}

// percentName spells p as a percentage without trailing zeros: 0.5 → p50, 0.999 → p99_9.
// It shifts the decimal point in p's shortest decimal spelling, so 0.07 is p7, not
// p7.000000000000001.
func percentName(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64) // "0.999"; p is in (0, 1)
	frac := strings.TrimPrefix(s, "0.")
	for len(frac) < 2 {
		frac += "0"
	}
	intPart, rest := strings.TrimLeft(frac[:2], "0"), frac[2:]
	if intPart == "" {
		intPart = "0"
	}
	if rest == "" {
		return "p" + intPart
	}
	return "p" + intPart + "_" + rest
}

func nameField(pm *olapgatev1.Metric) string {
	if pm.GetAs() != "" {
		return ".as"
	}
	return ""
}

func fieldType(t store.ColumnType) dataset.Type {
	switch t {
	case store.TypeInt64:
		return dataset.Int
	case store.TypeDouble:
		return dataset.Float
	case store.TypeTimestamp:
		return dataset.Timestamp
	case store.TypeBool:
		return dataset.Bool
	}
	return dataset.String
}

func metricNames(q *Query) []string {
	out := make([]string, len(q.Metrics))
	for i, m := range q.Metrics {
		out[i] = m.Name
	}
	return out
}

// fieldFunc resolves what a comparison compares: a column in row filters, a metric in having.
type fieldFunc func(path, name string) (string, dataset.Type, error)

func (v *validator) rowField(path, name string) (string, dataset.Type, error) {
	c, err := v.column(path, name)
	return c.Name, c.Type, err
}

func (v *validator) filter(path string, pf *olapgatev1.Filter, depth int, field fieldFunc) (*Filter, error) {
	if depth >= MaxFilterDepth {
		return nil, errf(path, "nested deeper than %d", MaxFilterDepth)
	}
	if v.nodes++; v.nodes > MaxFilterNodes {
		return nil, errf(path, "more than %d filter nodes", MaxFilterNodes)
	}
	list := func(kind Kind, name string, l *olapgatev1.FilterList) (*Filter, error) {
		if len(l.GetFilters()) == 0 {
			return nil, errf(path+"."+name+".filters", "%s needs at least 1 filter", name)
		}
		f := &Filter{Kind: kind}
		for i, sub := range l.GetFilters() {
			s, err := v.filter(fmt.Sprintf("%s.%s.filters[%d]", path, name, i), sub, depth+1, field)
			if err != nil {
				return nil, err
			}
			f.Filters = append(f.Filters, s)
		}
		return f, nil
	}
	switch k := pf.GetKind().(type) {
	case *olapgatev1.Filter_And:
		return list(And, "and", k.And)
	case *olapgatev1.Filter_Or:
		return list(Or, "or", k.Or)
	case *olapgatev1.Filter_Not:
		if k.Not == nil || k.Not.GetKind() == nil {
			return nil, errf(path+".not", "needs a filter")
		}
		s, err := v.filter(path+".not", k.Not, depth+1, field)
		if err != nil {
			return nil, err
		}
		return &Filter{Kind: Not, Filters: []*Filter{s}}, nil
	case *olapgatev1.Filter_Cmp:
		return v.cmp(path+".cmp", k.Cmp, field)
	}
	return nil, errf(path, "empty: want one of and, or, not, cmp")
}

func (v *validator) cmp(path string, c *olapgatev1.Comparison, field fieldFunc) (*Filter, error) {
	name, typ, err := field(path+".field", c.GetField())
	if err != nil {
		return nil, err
	}
	op, ok := opByName[strings.ToUpper(strings.TrimSpace(c.GetOp()))]
	if !ok {
		return nil, errf(path+".op", "unknown operator %q (want EQ, NEQ, IN, NOT_IN, LT, LTE, GT, GTE, BETWEEN, CONTAINS, IS_NULL)", c.GetOp())
	}
	f := &Filter{Kind: Cmp, Field: name, Type: typ, Op: op}
	n := len(c.GetValues())
	switch op {
	case IsNull:
		if n != 0 {
			return nil, errf(path+".values", "IS_NULL takes no values")
		}
	case IN, NotIn:
		if n == 0 {
			return nil, errf(path+".values", "%s needs at least 1 value", op)
		}
		if n > MaxValues {
			return nil, errf(path+".values", "%d values: at most %d", n, MaxValues)
		}
	case Between:
		if n != 2 {
			return nil, errf(path+".values", "BETWEEN needs 2 values (low, high), got %d", n)
		}
	default:
		if n != 1 {
			return nil, errf(path+".values", "%s needs 1 value, got %d", op, n)
		}
	}
	switch op {
	case Contains:
		if typ != dataset.String {
			return nil, errf(path+".op", "CONTAINS needs a string field; %s is %s", name, typ)
		}
	case LT, LTE, GT, GTE, Between:
		if typ == dataset.Bool {
			return nil, errf(path+".op", "%s does not apply to bool field %s", op, name)
		}
	}
	for i, pv := range c.GetValues() {
		val, err := convertValue(pv, typ)
		if err != nil {
			return nil, errf(fmt.Sprintf("%s.values[%d]", path, i), "%s (field %s is %s)", err.Error(), name, typ)
		}
		f.Values = append(f.Values, val)
	}
	return f, nil
}

// tenant ANDs the tenant predicate into the filter.
func (v *validator) tenant(q *Query, tenant string) error {
	if tenant == "" || v.d.TenantColumn == "" {
		return nil
	}
	c, ok := v.d.Column(v.d.TenantColumn)
	if !ok {
		return errf("tenant", "dataset %s: tenant column %s is not declared", v.d.Name, v.d.TenantColumn)
	}
	val, err := convertString(tenant, c.Type)
	if err != nil {
		return errf("tenant", "%s (tenant column %s is %s)", err.Error(), c.Name, c.Type)
	}
	t := &Filter{Kind: Cmp, Field: c.Name, Type: c.Type, Op: EQ, Values: []any{val}}
	if q.Filter == nil {
		q.Filter = t
	} else {
		q.Filter = &Filter{Kind: And, Filters: []*Filter{t, q.Filter}}
	}
	return nil
}

func orderBy(pbs []*olapgatev1.OrderBy, q *Query, outputs map[string]bool) ([]Order, error) {
	var out []Order
	seen := map[string]bool{}
	for i, o := range pbs {
		path := fmt.Sprintf("orderBy[%d].by", i)
		name := o.GetBy()
		if !outputs[name] {
			// Group-by fields may be spelled in any case, as in groupBy.
			if c, ok := q.Dataset.Column(name); ok && outputs[c.Name] && !isMetric(q, c.Name) {
				name = c.Name
			} else {
				names := make([]string, 0, len(outputs))
				for n := range outputs {
					names = append(names, n)
				}
				sort.Strings(names)
				return nil, errf(path, "%q is not an output column (%s)", o.GetBy(), strings.Join(names, ", "))
			}
		}
		if seen[name] {
			return nil, errf(path, "%q is ordered by twice", name)
		}
		seen[name] = true
		out = append(out, Order{By: name, Desc: o.GetDesc()})
	}
	return out, nil
}

func isMetric(q *Query, name string) bool {
	for _, m := range q.Metrics {
		if m.Name == name {
			return true
		}
	}
	return false
}

func hints(o *olapgatev1.QueryOptions) (Hints, error) {
	h := Hints{NoCache: o.GetNoCache(), Priority: "interactive"}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	if ms := o.GetTimeoutMs(); ms < 0 || ms > maxMs {
		return h, errf("options.timeoutMs", "%d: want 0 (server default) or a positive number of milliseconds", ms)
	}
	if ms := o.GetMaxStalenessMs(); ms < 0 || ms > maxMs {
		return h, errf("options.maxStalenessMs", "%d: want 0 or a positive number of milliseconds", ms)
	}
	if ms := o.GetMaxStalenessOnOverloadMs(); ms < 0 || ms > maxMs {
		return h, errf("options.maxStalenessOnOverloadMs", "%d: want 0 or a positive number of milliseconds", ms)
	}
	h.Timeout = time.Duration(o.GetTimeoutMs()) * time.Millisecond
	h.MaxStaleness = time.Duration(o.GetMaxStalenessMs()) * time.Millisecond
	switch p := strings.ToLower(o.GetPriority()); p {
	case "", "interactive":
	case "bulk":
		h.Priority = p
	default:
		return h, errf("options.priority", "%q: want interactive or bulk", o.GetPriority())
	}
	return h, nil
}
