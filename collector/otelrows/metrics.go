package otelrows

import (
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/olapgate/olapgate/store"
)

// metricRow is one otel_metrics row before it is appended; unset optional values are NULL.
type metricRow struct {
	typ                     string
	attrs                   string
	start, ts               pcommon.Timestamp
	flags                   uint32
	temporality             int64
	hasTemporality          bool
	monotonic, hasMonotonic bool
	bucketCounts, bounds    string
	scale, zeroCount        int64
	posOffset, negOffset    int64
	posCounts, negCounts    string
	hasExp                  bool
	quantiles               string
	exemplars               string
	value                   float64
	hasValue                bool
	count                   uint64
	hasCount                bool
	sum, minV, maxV         float64
	hasSum, hasMin, hasMax  bool
}

// metricContext is what a data point's row shares with its metric's other points.
type metricContext struct {
	svc, resAttrs, resSchema       string
	scopeName, scopeVersion        string
	scopeAttrs, scopeSchema        string
	name, description, unit        string
	resIndex, scopeIndex, mIndex   int
	limit                          int
	sharedBytes                    int64
	bucketScratch, exemplarScratch []byte
	deltas                         *Deltas
}

// seriesKey identifies a point's series for delta conversion.
func (mc *metricContext) seriesKey(typ, attrs string) string {
	return mc.resAttrs + "\x00" + mc.scopeName + "\x00" + mc.scopeVersion + "\x00" + mc.name + "\x00" + mc.unit + "\x00" + typ + "\x00" + attrs
}

// AppendMetrics appends one otel_metrics row per data point of md to b, a batch of
// MetricsDataset(). With opt.Deltas, cumulative sums and histograms are converted to deltas
// (see Deltas; points that only seed a series are counted in Result.Dropped); without, they
// are stored as sent. A data point with a text value over the field limit is rejected and
// counted. Metrics without a type (empty) carry no data points and add nothing.
func AppendMetrics(b *store.Batch, md pmetric.Metrics, opt Options) Result {
	var res Result
	mc := metricContext{limit: opt.maxField(), deltas: opt.Deltas}
	var scratch []byte
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		mc.resIndex = i
		mc.svc = serviceName(rm.Resource())
		scratch = appendMap(scratch[:0], rm.Resource().Attributes())
		mc.resAttrs = string(scratch)
		mc.resSchema = rm.SchemaUrl()
		res.Bytes += int64(len(mc.resAttrs))
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			mc.scopeIndex = j
			mc.scopeName, mc.scopeVersion, mc.scopeSchema = sm.Scope().Name(), sm.Scope().Version(), sm.SchemaUrl()
			scratch = appendMap(scratch[:0], sm.Scope().Attributes())
			mc.scopeAttrs = string(scratch)
			res.Bytes += int64(len(mc.scopeAttrs))
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				mc.mIndex = k
				mc.name, mc.description, mc.unit = m.Name(), m.Description(), m.Unit()
				mc.appendMetric(b, m, &res)
			}
		}
	}
	padNulls(b, b.N)
	return res
}

func (mc *metricContext) appendMetric(b *store.Batch, m pmetric.Metric, res *Result) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for p := 0; p < dps.Len(); p++ {
			r := mc.numberRow(dps.At(p), "Gauge")
			mc.appendRow(b, &r, dps.At(p).Attributes(), p, res)
		}
	case pmetric.MetricTypeSum:
		s := m.Sum()
		dps := s.DataPoints()
		cumulative := s.AggregationTemporality() == pmetric.AggregationTemporalityCumulative && mc.deltas != nil
		for p := 0; p < dps.Len(); p++ {
			dp := dps.At(p)
			r := mc.numberRow(dp, "Sum")
			r.temporality, r.hasTemporality = int64(s.AggregationTemporality()), true
			r.monotonic, r.hasMonotonic = s.IsMonotonic(), true
			if cumulative && r.hasValue {
				r.attrs = string(appendMap(nil, dp.Attributes()))
				switch v, delta, from := mc.deltas.sum(mc.seriesKey("Sum", r.attrs), dp, r.value, s.IsMonotonic()); v {
				case deltaDrop:
					res.Dropped++
					continue
				case deltaStore:
					r.value, r.start, r.temporality = delta, from, int64(pmetric.AggregationTemporalityDelta)
				}
			}
			mc.appendRow(b, &r, dp.Attributes(), p, res)
		}
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		dps := h.DataPoints()
		for p := 0; p < dps.Len(); p++ {
			dp := dps.At(p)
			r := metricRow{typ: "Histogram", start: dp.StartTimestamp(), ts: dp.Timestamp(), flags: uint32(dp.Flags())}
			r.temporality, r.hasTemporality = int64(h.AggregationTemporality()), true
			r.count, r.hasCount = dp.Count(), true
			r.sum, r.hasSum = dp.Sum(), dp.HasSum()
			r.minV, r.hasMin = dp.Min(), dp.HasMin()
			r.maxV, r.hasMax = dp.Max(), dp.HasMax()
			counts := dp.BucketCounts()
			if h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative && mc.deltas != nil {
				r.attrs = string(appendMap(nil, dp.Attributes()))
				v, delta := mc.deltas.histogram(mc.seriesKey("Histogram", r.attrs), dp, &r, counts.AsRaw())
				if v == deltaDrop {
					res.Dropped++
					continue
				}
				if v == deltaStore {
					r.temporality = int64(pmetric.AggregationTemporalityDelta)
					counts = pcommon.NewUInt64Slice()
					counts.FromRaw(delta)
				}
			}
			mc.bucketScratch = appendUint64s(mc.bucketScratch[:0], counts)
			r.bucketCounts = string(mc.bucketScratch)
			mc.bucketScratch = appendFloat64s(mc.bucketScratch[:0], dp.ExplicitBounds())
			r.bounds = string(mc.bucketScratch)
			r.exemplars = mc.exemplars(dp.Exemplars())
			mc.appendRow(b, &r, dp.Attributes(), p, res)
		}
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		dps := h.DataPoints()
		for p := 0; p < dps.Len(); p++ {
			dp := dps.At(p)
			r := metricRow{typ: "ExponentialHistogram", start: dp.StartTimestamp(), ts: dp.Timestamp(), flags: uint32(dp.Flags())}
			r.temporality, r.hasTemporality = int64(h.AggregationTemporality()), true
			r.count, r.hasCount = dp.Count(), true
			r.sum, r.hasSum = dp.Sum(), dp.HasSum()
			r.minV, r.hasMin = dp.Min(), dp.HasMin()
			r.maxV, r.hasMax = dp.Max(), dp.HasMax()
			r.hasExp = true
			r.scale, r.zeroCount = int64(dp.Scale()), clampUint(dp.ZeroCount())
			r.posOffset, r.negOffset = int64(dp.Positive().Offset()), int64(dp.Negative().Offset())
			mc.bucketScratch = appendUint64s(mc.bucketScratch[:0], dp.Positive().BucketCounts())
			r.posCounts = string(mc.bucketScratch)
			mc.bucketScratch = appendUint64s(mc.bucketScratch[:0], dp.Negative().BucketCounts())
			r.negCounts = string(mc.bucketScratch)
			r.exemplars = mc.exemplars(dp.Exemplars())
			mc.appendRow(b, &r, dp.Attributes(), p, res)
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for p := 0; p < dps.Len(); p++ {
			dp := dps.At(p)
			r := metricRow{typ: "Summary", start: dp.StartTimestamp(), ts: dp.Timestamp(), flags: uint32(dp.Flags())}
			r.count, r.hasCount = dp.Count(), true
			r.sum, r.hasSum = dp.Sum(), true
			buf := append(mc.bucketScratch[:0], '[')
			qs := dp.QuantileValues()
			for q := 0; q < qs.Len(); q++ {
				if q > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, `{"Quantile":`...)
				buf = appendFloat(buf, qs.At(q).Quantile())
				buf = append(buf, `,"Value":`...)
				buf = appendFloat(buf, qs.At(q).Value())
				buf = append(buf, '}')
			}
			buf = append(buf, ']')
			mc.bucketScratch = buf
			r.quantiles = string(buf)
			mc.appendRow(b, &r, dp.Attributes(), p, res)
		}
	}
}

func (mc *metricContext) numberRow(dp pmetric.NumberDataPoint, typ string) metricRow {
	r := metricRow{typ: typ, start: dp.StartTimestamp(), ts: dp.Timestamp(), flags: uint32(dp.Flags())}
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		r.value, r.hasValue = float64(dp.IntValue()), true
	case pmetric.NumberDataPointValueTypeDouble:
		r.value, r.hasValue = dp.DoubleValue(), true
	}
	r.exemplars = mc.exemplars(dp.Exemplars())
	return r
}

// exemplars writes a JSON array of {"FilteredAttributes","TimeUnix","Value","SpanId","TraceId"},
// the exporter's Exemplars.* columns zipped.
func (mc *metricContext) exemplars(es pmetric.ExemplarSlice) string {
	if es.Len() == 0 {
		return "[]"
	}
	buf := append(mc.exemplarScratch[:0], '[')
	for i := 0; i < es.Len(); i++ {
		e := es.At(i)
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"FilteredAttributes":`...)
		buf = appendMap(buf, e.FilteredAttributes())
		buf = append(buf, `,"TimeUnix":`...)
		buf = appendTime(buf, e.Timestamp())
		buf = append(buf, `,"Value":`...)
		if e.ValueType() == pmetric.ExemplarValueTypeInt {
			buf = strconv.AppendInt(buf, e.IntValue(), 10)
		} else {
			buf = appendFloat(buf, e.DoubleValue())
		}
		buf = append(buf, `,"SpanId":`...)
		buf = appendString(buf, e.SpanID().String())
		buf = append(buf, `,"TraceId":`...)
		buf = appendString(buf, e.TraceID().String())
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	mc.exemplarScratch = buf
	return string(buf)
}

func clampUint(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

func (mc *metricContext) appendRow(b *store.Batch, r *metricRow, attrs pcommon.Map, p int, res *Result) {
	if r.attrs == "" {
		r.attrs = string(appendMap(nil, attrs))
	}
	if len(mc.resAttrs) > mc.limit || len(mc.scopeAttrs) > mc.limit {
		res.reject("resource_metrics[%d].scope_metrics[%d]: resource or scope attributes are over the %d-byte limit", mc.resIndex, mc.scopeIndex, mc.limit)
		return
	}
	if n := max(len(r.attrs), len(r.exemplars), len(r.bucketCounts), len(r.bounds), len(r.posCounts), len(r.negCounts), len(r.quantiles),
		len(mc.name), len(mc.description)); n > mc.limit {
		res.reject("resource_metrics[%d].scope_metrics[%d].metrics[%d] (%s) data point %d: a value is %d bytes, over the %d-byte limit",
			mc.resIndex, mc.scopeIndex, mc.mIndex, mc.name, p, n, mc.limit)
		return
	}
	i := b.N
	c := b.Cols
	str := func(col int, s string, ok bool) {
		c[col].Strings = append(c[col].Strings, s)
		if !ok {
			setNull(&c[col], i)
		}
	}
	num := func(col int, v int64, ok bool) {
		c[col].Ints = append(c[col].Ints, v)
		if !ok {
			setNull(&c[col], i)
		}
	}
	flt := func(col int, v float64, ok bool) {
		c[col].Floats = append(c[col].Floats, v)
		if !ok {
			setNull(&c[col], i)
		}
	}
	c[MetricTimeUnix].Times = append(c[MetricTimeUnix].Times, micros(r.ts))
	str(MetricType, r.typ, true)
	str(MetricServiceName, mc.svc, true)
	str(MetricName, mc.name, true)
	str(MetricDescription, mc.description, true)
	str(MetricUnit, mc.unit, true)
	str(MetricResourceAttributes, mc.resAttrs, true)
	str(MetricResourceSchemaURL, mc.resSchema, true)
	str(MetricScopeName, mc.scopeName, true)
	str(MetricScopeVersion, mc.scopeVersion, true)
	str(MetricScopeAttributes, mc.scopeAttrs, true)
	str(MetricScopeSchemaURL, mc.scopeSchema, true)
	str(MetricAttributes, r.attrs, true)
	c[MetricStartTimeUnix].Times = append(c[MetricStartTimeUnix].Times, micros(r.start))
	if r.start == 0 {
		setNull(&c[MetricStartTimeUnix], i)
	}
	num(MetricFlags, int64(r.flags), true)
	num(MetricAggregationTemporality, r.temporality, r.hasTemporality)
	c[MetricIsMonotonic].Bools = append(c[MetricIsMonotonic].Bools, r.monotonic)
	if !r.hasMonotonic {
		setNull(&c[MetricIsMonotonic], i)
	}
	str(MetricBucketCounts, r.bucketCounts, r.bucketCounts != "")
	str(MetricExplicitBounds, r.bounds, r.bounds != "")
	num(MetricScale, r.scale, r.hasExp)
	num(MetricZeroCount, r.zeroCount, r.hasExp)
	num(MetricPositiveOffset, r.posOffset, r.hasExp)
	str(MetricPositiveBucketCounts, r.posCounts, r.hasExp)
	num(MetricNegativeOffset, r.negOffset, r.hasExp)
	str(MetricNegativeBucketCounts, r.negCounts, r.hasExp)
	str(MetricValueAtQuantiles, r.quantiles, r.quantiles != "")
	str(MetricExemplars, r.exemplars, r.exemplars != "")
	flt(MetricValue, r.value, r.hasValue)
	num(MetricCount, clampUint(r.count), r.hasCount)
	flt(MetricSum, r.sum, r.hasSum)
	flt(MetricMin, r.minV, r.hasMin)
	flt(MetricMax, r.maxV, r.hasMax)
	res.Bytes += rowBytes(b, i) - int64(len(mc.resAttrs)) - int64(len(mc.scopeAttrs))
	b.N++
	res.Rows++
}
