package clickhouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// The collector converts OTLP once, to otelrows batches (validated, size-bounded, cumulative
// metrics turned into deltas); these functions lay such a batch out as ch-go columns of the
// exporter's tables. Values are the exporter's: attribute maps hold each value as pdata's
// AsString writes it (strings as they are, numbers in JSON notation, maps and slices as JSON
// text), span kinds and status codes as pdata spells them, ids in hex. Differences, all from
// the batch: span, log and metric timestamps are whole microseconds (the store's unit;
// DateTime64(9) gets 000 nanoseconds; span event and exemplar times keep theirs);
// ScopeDroppedAttrCount is 0; and cumulative sums and histograms arrive as deltas
// (AggregationTemporality 1) unless the collector keeps them cumulative (keepCumulative).

// OTelBlock is one INSERT: a table of the schema and its columns.
type OTelBlock struct {
	// Table is the table's name (OTelSchema's), unqualified.
	Table string
	Input proto.Input
}

// Rows is the block's row count.
func (b OTelBlock) Rows() int {
	if len(b.Input) == 0 {
		return 0
	}
	return b.Input[0].Data.Rows()
}

type kvs = []proto.KV[string, string]

func newLowString() *proto.ColLowCardinality[string] {
	return proto.NewLowCardinality[string](new(proto.ColStr))
}

func newAttrMap() *proto.ColMap[string, string] {
	return proto.NewMap[string, string](newLowString(), new(proto.ColStr))
}

func newTime9() *proto.ColDateTime64 {
	return new(proto.ColDateTime64).WithPrecision(proto.PrecisionNano)
}

// nanos is a batch time (microseconds) as DateTime64(9).
func nanos(micros int64) proto.DateTime64 { return proto.DateTime64(micros * 1000) }

// appendMapRow appends one row to an Array(Map) column whose rows are given as KV lists,
// keeping the pairs' order (ColArr.Append of Go maps would not).
func appendMapRow(arr *proto.ColArr[map[string]string], rows []kvs) {
	m := arr.Data.(*proto.ColMap[string, string])
	for _, r := range rows {
		m.AppendKV(r)
	}
	arr.Offsets.Append(uint64(m.Rows()))
}

// OTelBlocks lays out a collector batch (a batch of otelrows' TracesDataset, LogsDataset or
// MetricsDataset) as the blocks to insert: one for spans or logs, one per metric type present
// for metrics. A batch of the trace-id lookup table yields none: the exporter's materialized
// view fills that table from otel_traces on the server. Promoted attribute columns are not
// written (the exporter's tables have none; the attribute maps hold the values).
func (s OTelSchema) OTelBlocks(b *store.Batch) ([]OTelBlock, error) {
	return s.otelBlocks(b, &blockCols{})
}

// blockCols are the span and log columns of one insert at a time, made on first use and
// reused by the next otelBlocks given the same blockCols (the blocks of the earlier call are
// then overwritten). Metric blocks are built anew each time: their tables vary per batch.
type blockCols struct {
	spans *spanCols
	logs  *logCols
	token []byte // batchToken's buffer
}

func (s OTelSchema) otelBlocks(b *store.Batch, cols *blockCols) ([]OTelBlock, error) {
	d := s.withDefaults("default")
	if b == nil || b.Dataset == nil {
		return nil, fmt.Errorf("otel block: batch without a dataset")
	}
	switch b.Dataset.Name {
	case otelrows.TracesTable:
		if cols.spans == nil {
			cols.spans = newSpanCols()
		}
		in, err := cols.spans.fill(b)
		return []OTelBlock{{Table: d.TracesTable, Input: in}}, err
	case otelrows.TraceIDTsTable:
		return nil, nil
	case otelrows.LogsTable:
		if cols.logs == nil {
			cols.logs = newLogCols()
		}
		in, err := cols.logs.fill(b)
		return []OTelBlock{{Table: d.LogsTable, Input: in}}, err
	case otelrows.MetricsTable:
		return d.metricBlocks(b)
	}
	return nil, fmt.Errorf("otel block: %s is not one of the collector's tables", b.Dataset.Name)
}

// spanCols are otel_traces' columns. OTelTables keeps them between inserts (blockCols): reset
// and refilled, their buffers are reused instead of grown from empty for every block, which
// under telemetrygen's load cost a tenth of olapgate's CPU in growslice and the GC work it made.
type spanCols struct {
	ts                                     *proto.ColDateTime64
	traceID, spanID, parentID, traceState  *proto.ColStr
	name, kind, service, statusCode        *proto.ColLowCardinality[string]
	resAttrs, spanAttrs                    *proto.ColMap[string, string]
	scopeName, scopeVersion, statusMessage *proto.ColStr
	duration                               *proto.ColUInt64
	evTime                                 *proto.ColArr[time.Time]
	evName                                 *proto.ColArr[string]
	evAttrs                                *proto.ColArr[map[string]string]
	lnTrace, lnSpan, lnState               *proto.ColArr[string]
	lnAttrs                                *proto.ColArr[map[string]string]
	in                                     proto.Input
}

func newSpanCols() *spanCols {
	s := &spanCols{
		ts:      newTime9(),
		traceID: new(proto.ColStr), spanID: new(proto.ColStr), parentID: new(proto.ColStr), traceState: new(proto.ColStr),
		name: newLowString(), kind: newLowString(), service: newLowString(), statusCode: newLowString(),
		resAttrs: newAttrMap(), spanAttrs: newAttrMap(),
		scopeName: new(proto.ColStr), scopeVersion: new(proto.ColStr), statusMessage: new(proto.ColStr),
		duration: new(proto.ColUInt64),
		evTime:   proto.NewArray[time.Time](newTime9()),
		evName:   proto.NewArray[string](newLowString()),
		evAttrs:  proto.NewArray[map[string]string](newAttrMap()),
		lnTrace:  proto.NewArray[string](new(proto.ColStr)), lnSpan: proto.NewArray[string](new(proto.ColStr)), lnState: proto.NewArray[string](new(proto.ColStr)),
		lnAttrs: proto.NewArray[map[string]string](newAttrMap()),
	}
	s.in = proto.Input{
		{Name: "Timestamp", Data: s.ts},
		{Name: "TraceId", Data: s.traceID},
		{Name: "SpanId", Data: s.spanID},
		{Name: "ParentSpanId", Data: s.parentID},
		{Name: "TraceState", Data: s.traceState},
		{Name: "SpanName", Data: s.name},
		{Name: "SpanKind", Data: s.kind},
		{Name: "ServiceName", Data: s.service},
		{Name: "ResourceAttributes", Data: s.resAttrs},
		{Name: "ScopeName", Data: s.scopeName},
		{Name: "ScopeVersion", Data: s.scopeVersion},
		{Name: "SpanAttributes", Data: s.spanAttrs},
		{Name: "Duration", Data: s.duration},
		{Name: "StatusCode", Data: s.statusCode},
		{Name: "StatusMessage", Data: s.statusMessage},
		{Name: "Events.Timestamp", Data: s.evTime},
		{Name: "Events.Name", Data: s.evName},
		{Name: "Events.Attributes", Data: s.evAttrs},
		{Name: "Links.TraceId", Data: s.lnTrace},
		{Name: "Links.SpanId", Data: s.lnSpan},
		{Name: "Links.TraceState", Data: s.lnState},
		{Name: "Links.Attributes", Data: s.lnAttrs},
	}
	return s
}

// fill resets the columns and lays out the batch's spans in them; the Input it returns is the
// columns' own, valid until the next fill.
func (s *spanCols) fill(b *store.Batch) (proto.Input, error) {
	s.in.Reset()
	c := b.Cols
	var scratch kvs
	durIdx := len(c) - 1
	cache := attrCache{}
	// Declared once: unmarshalList takes their address, which moves them to the heap.
	var events []struct {
		Timestamp  time.Time
		Name       string
		Attributes json.RawMessage
	}
	var links []struct {
		TraceID    string `json:"TraceId"`
		SpanID     string `json:"SpanId"`
		TraceState string
		Attributes json.RawMessage
	}
	for i := 0; i < b.N; i++ {
		s.ts.AppendRaw(nanos(c[otelrows.SpanTimestamp].Times[i]))
		s.traceID.Append(c[otelrows.SpanTraceID].Strings[i])
		s.spanID.Append(c[otelrows.SpanSpanID].Strings[i])
		s.parentID.Append(c[otelrows.SpanParentSpanID].Strings[i])
		s.traceState.Append(c[otelrows.SpanTraceState].Strings[i])
		s.name.Append(c[otelrows.SpanName].Strings[i])
		s.kind.Append(c[otelrows.SpanKind].Strings[i])
		s.service.Append(c[otelrows.SpanServiceName].Strings[i])
		attrs, err := cache.get(c[otelrows.SpanResourceAttributes].Strings[i])
		if err != nil {
			return nil, fmt.Errorf("span %d ResourceAttributes: %w", i, err)
		}
		s.resAttrs.AppendKV(attrs)
		s.scopeName.Append(c[otelrows.SpanScopeName].Strings[i])
		s.scopeVersion.Append(c[otelrows.SpanScopeVersion].Strings[i])
		if scratch, err = parseAttrs(scratch[:0], c[otelrows.SpanAttributes].Strings[i]); err != nil {
			return nil, fmt.Errorf("span %d SpanAttributes: %w", i, err)
		}
		s.spanAttrs.AppendKV(scratch)
		s.duration.Append(uint64(max(c[durIdx].Ints[i], 0)))
		s.statusCode.Append(c[otelrows.SpanStatusCode].Strings[i])
		s.statusMessage.Append(c[otelrows.SpanStatusMessage].Strings[i])

		events = nil
		if err := unmarshalList(c[otelrows.SpanEvents].Strings[i], &events); err != nil {
			return nil, fmt.Errorf("span %d Events: %w", i, err)
		}
		times, names, eattrs := make([]time.Time, len(events)), make([]string, len(events)), make([]kvs, len(events))
		for j, e := range events {
			times[j], names[j] = e.Timestamp, e.Name
			if eattrs[j], err = parseAttrs(nil, string(e.Attributes)); err != nil {
				return nil, fmt.Errorf("span %d event %d attributes: %w", i, j, err)
			}
		}
		s.evTime.Append(times)
		s.evName.Append(names)
		appendMapRow(s.evAttrs, eattrs)

		links = nil
		if err := unmarshalList(c[otelrows.SpanLinks].Strings[i], &links); err != nil {
			return nil, fmt.Errorf("span %d Links: %w", i, err)
		}
		tids, sids, states, lattrs := make([]string, len(links)), make([]string, len(links)), make([]string, len(links)), make([]kvs, len(links))
		for j, l := range links {
			tids[j], sids[j], states[j] = l.TraceID, l.SpanID, l.TraceState
			if lattrs[j], err = parseAttrs(nil, string(l.Attributes)); err != nil {
				return nil, fmt.Errorf("span %d link %d attributes: %w", i, j, err)
			}
		}
		s.lnTrace.Append(tids)
		s.lnSpan.Append(sids)
		s.lnState.Append(states)
		appendMapRow(s.lnAttrs, lattrs)
	}
	return s.in, nil
}

// logCols are otel_logs' columns, every one but TimestampTime, which the table computes
// (DEFAULT); kept between inserts as spanCols are.
type logCols struct {
	ts                                                     *proto.ColDateTime64
	traceID, spanID, body, scopeName, eventName            *proto.ColStr
	flags, sevNum                                          *proto.ColUInt8
	sevText, service, resSchema, scopeSchema, scopeVersion *proto.ColLowCardinality[string]
	resAttrs, scopeAttrs, logAttrs                         *proto.ColMap[string, string]
	in                                                     proto.Input
}

func newLogCols() *logCols {
	l := &logCols{
		ts:      newTime9(),
		traceID: new(proto.ColStr), spanID: new(proto.ColStr), body: new(proto.ColStr), scopeName: new(proto.ColStr), eventName: new(proto.ColStr),
		flags: new(proto.ColUInt8), sevNum: new(proto.ColUInt8),
		sevText: newLowString(), service: newLowString(), resSchema: newLowString(), scopeSchema: newLowString(), scopeVersion: newLowString(),
		resAttrs: newAttrMap(), scopeAttrs: newAttrMap(), logAttrs: newAttrMap(),
	}
	l.in = proto.Input{
		{Name: "Timestamp", Data: l.ts},
		{Name: "TraceId", Data: l.traceID},
		{Name: "SpanId", Data: l.spanID},
		{Name: "TraceFlags", Data: l.flags},
		{Name: "SeverityText", Data: l.sevText},
		{Name: "SeverityNumber", Data: l.sevNum},
		{Name: "ServiceName", Data: l.service},
		{Name: "Body", Data: l.body},
		{Name: "ResourceSchemaUrl", Data: l.resSchema},
		{Name: "ResourceAttributes", Data: l.resAttrs},
		{Name: "ScopeSchemaUrl", Data: l.scopeSchema},
		{Name: "ScopeName", Data: l.scopeName},
		{Name: "ScopeVersion", Data: l.scopeVersion},
		{Name: "ScopeAttributes", Data: l.scopeAttrs},
		{Name: "LogAttributes", Data: l.logAttrs},
		{Name: "EventName", Data: l.eventName},
	}
	return l
}

// fill resets the columns and lays out the batch's log records in them, as spanCols.fill.
func (l *logCols) fill(b *store.Batch) (proto.Input, error) {
	l.in.Reset()
	c := b.Cols
	cache := attrCache{}
	var scratch kvs
	for i := 0; i < b.N; i++ {
		l.ts.AppendRaw(nanos(c[otelrows.LogTimestamp].Times[i]))
		l.traceID.Append(c[otelrows.LogTraceID].Strings[i])
		l.spanID.Append(c[otelrows.LogSpanID].Strings[i])
		l.flags.Append(uint8(c[otelrows.LogTraceFlags].Ints[i]))
		l.sevText.Append(c[otelrows.LogSeverityText].Strings[i])
		l.sevNum.Append(uint8(c[otelrows.LogSeverityNumber].Ints[i]))
		l.service.Append(c[otelrows.LogServiceName].Strings[i])
		l.body.Append(c[otelrows.LogBody].Strings[i])
		l.resSchema.Append(c[otelrows.LogResourceSchemaURL].Strings[i])
		attrs, err := cache.get(c[otelrows.LogResourceAttributes].Strings[i])
		if err != nil {
			return nil, fmt.Errorf("log record %d ResourceAttributes: %w", i, err)
		}
		l.resAttrs.AppendKV(attrs)
		l.scopeSchema.Append(c[otelrows.LogScopeSchemaURL].Strings[i])
		l.scopeName.Append(c[otelrows.LogScopeName].Strings[i])
		l.scopeVersion.Append(c[otelrows.LogScopeVersion].Strings[i])
		if attrs, err = cache.get(c[otelrows.LogScopeAttributes].Strings[i]); err != nil {
			return nil, fmt.Errorf("log record %d ScopeAttributes: %w", i, err)
		}
		l.scopeAttrs.AppendKV(attrs)
		if scratch, err = parseAttrs(scratch[:0], c[otelrows.LogAttributes].Strings[i]); err != nil {
			return nil, fmt.Errorf("log record %d LogAttributes: %w", i, err)
		}
		l.logAttrs.AppendKV(scratch)
		l.eventName.Append(c[otelrows.LogEventName].Strings[i])
	}
	return l.in, nil
}

// metricCommon are the columns every metric table starts with.
type metricCommon struct {
	resAttrs, scopeAttrs, attrs                     *proto.ColMap[string, string]
	resSchema, scopeName, scopeVersion, scopeSchema *proto.ColStr
	metricName, description, unit                   *proto.ColStr
	dropped                                         *proto.ColUInt32
	service                                         *proto.ColLowCardinality[string]
	start, time                                     *proto.ColDateTime64
}

func newMetricCommon() *metricCommon {
	return &metricCommon{
		resAttrs: newAttrMap(), scopeAttrs: newAttrMap(), attrs: newAttrMap(),
		resSchema: new(proto.ColStr), scopeName: new(proto.ColStr), scopeVersion: new(proto.ColStr), scopeSchema: new(proto.ColStr),
		metricName: new(proto.ColStr), description: new(proto.ColStr), unit: new(proto.ColStr),
		dropped: new(proto.ColUInt32), service: newLowString(), start: newTime9(), time: newTime9(),
	}
}

func (m *metricCommon) input() proto.Input {
	return proto.Input{
		{Name: "ResourceAttributes", Data: m.resAttrs},
		{Name: "ResourceSchemaUrl", Data: m.resSchema},
		{Name: "ScopeName", Data: m.scopeName},
		{Name: "ScopeVersion", Data: m.scopeVersion},
		{Name: "ScopeAttributes", Data: m.scopeAttrs},
		{Name: "ScopeDroppedAttrCount", Data: m.dropped},
		{Name: "ScopeSchemaUrl", Data: m.scopeSchema},
		{Name: "ServiceName", Data: m.service},
		{Name: "MetricName", Data: m.metricName},
		{Name: "MetricDescription", Data: m.description},
		{Name: "MetricUnit", Data: m.unit},
		{Name: "Attributes", Data: m.attrs},
		{Name: "StartTimeUnix", Data: m.start},
		{Name: "TimeUnix", Data: m.time},
	}
}

// exemplarCols are the Exemplars.* columns.
type exemplarCols struct {
	attrs           *proto.ColArr[map[string]string]
	time            *proto.ColArr[time.Time]
	value           *proto.ColArr[float64]
	spanID, traceID *proto.ColArr[string]
}

func newExemplarCols() *exemplarCols {
	return &exemplarCols{
		attrs: proto.NewArray[map[string]string](newAttrMap()), time: proto.NewArray[time.Time](newTime9()),
		value: proto.NewArray[float64](new(proto.ColFloat64)), spanID: proto.NewArray[string](new(proto.ColStr)), traceID: proto.NewArray[string](new(proto.ColStr)),
	}
}

func (e *exemplarCols) append(text string) error {
	var ex []struct {
		FilteredAttributes json.RawMessage
		TimeUnix           time.Time
		Value              jsonFloat
		SpanID             string `json:"SpanId"`
		TraceID            string `json:"TraceId"`
	}
	if text != "" {
		if err := json.Unmarshal([]byte(text), &ex); err != nil {
			return fmt.Errorf("Exemplars: %w", err)
		}
	}
	attrs, times, values, sids, tids := make([]kvs, len(ex)), make([]time.Time, len(ex)), make([]float64, len(ex)), make([]string, len(ex)), make([]string, len(ex))
	for j, x := range ex {
		var err error
		if attrs[j], err = parseAttrs(nil, string(x.FilteredAttributes)); err != nil {
			return fmt.Errorf("exemplar %d attributes: %w", j, err)
		}
		times[j], values[j], sids[j], tids[j] = x.TimeUnix, float64(x.Value), x.SpanID, x.TraceID
	}
	appendMapRow(e.attrs, attrs)
	e.time.Append(times)
	e.value.Append(values)
	e.spanID.Append(sids)
	e.traceID.Append(tids)
	return nil
}

func (e *exemplarCols) input() proto.Input {
	return proto.Input{
		{Name: "Exemplars.FilteredAttributes", Data: e.attrs},
		{Name: "Exemplars.TimeUnix", Data: e.time},
		{Name: "Exemplars.Value", Data: e.value},
		{Name: "Exemplars.SpanId", Data: e.spanID},
		{Name: "Exemplars.TraceId", Data: e.traceID},
	}
}

// metricBuilder collects one metric type's rows.
type metricBuilder struct {
	common    *metricCommon
	exemplars *exemplarCols
	add       func(b *store.Batch, i int) error
	tail      func() proto.Input // the type's columns after the common ones, in table order
}

func (d OTelSchema) metricBlocks(b *store.Batch) ([]OTelBlock, error) {
	c := b.Cols
	flt := func(col, i int) float64 {
		if c[col].IsNull(i) {
			return 0
		}
		return c[col].Floats[i]
	}
	num := func(col, i int) int64 {
		if c[col].IsNull(i) {
			return 0
		}
		return c[col].Ints[i]
	}
	builders := map[string]*metricBuilder{}
	tables := map[string]string{
		"Gauge": d.MetricsTables.Gauge, "Sum": d.MetricsTables.Sum, "Summary": d.MetricsTables.Summary,
		"Histogram": d.MetricsTables.Histogram, "ExponentialHistogram": d.MetricsTables.ExponentialHistogram,
	}
	newBuilder := func(typ string) *metricBuilder {
		mb := &metricBuilder{common: newMetricCommon(), exemplars: newExemplarCols()}
		value, flags, temporality := new(proto.ColFloat64), new(proto.ColUInt32), new(proto.ColInt32)
		count, sum, minV, maxV := new(proto.ColUInt64), new(proto.ColFloat64), new(proto.ColFloat64), new(proto.ColFloat64)
		switch typ {
		case "Gauge", "Sum":
			monotonic := new(proto.ColBool)
			mb.add = func(b *store.Batch, i int) error {
				value.Append(flt(otelrows.MetricValue, i))
				flags.Append(uint32(num(otelrows.MetricFlags, i)))
				if typ == "Sum" {
					temporality.Append(int32(num(otelrows.MetricAggregationTemporality, i)))
					monotonic.Append(!c[otelrows.MetricIsMonotonic].IsNull(i) && c[otelrows.MetricIsMonotonic].Bools[i])
				}
				return mb.exemplars.append(c[otelrows.MetricExemplars].Strings[i])
			}
			mb.tail = func() proto.Input {
				in := append(proto.Input{{Name: "Value", Data: value}, {Name: "Flags", Data: flags}}, mb.exemplars.input()...)
				if typ == "Sum" {
					in = append(in, proto.InputColumn{Name: "AggregationTemporality", Data: temporality}, proto.InputColumn{Name: "IsMonotonic", Data: monotonic})
				}
				return in
			}
		case "Histogram":
			buckets, bounds := proto.NewArray[uint64](new(proto.ColUInt64)), proto.NewArray[float64](new(proto.ColFloat64))
			mb.add = func(b *store.Batch, i int) error {
				count.Append(uint64(num(otelrows.MetricCount, i)))
				sum.Append(flt(otelrows.MetricSum, i))
				var bc []uint64
				var eb []jsonFloat
				if err := unmarshalOptional(c[otelrows.MetricBucketCounts].Strings[i], &bc); err != nil {
					return fmt.Errorf("BucketCounts: %w", err)
				}
				if err := unmarshalOptional(c[otelrows.MetricExplicitBounds].Strings[i], &eb); err != nil {
					return fmt.Errorf("ExplicitBounds: %w", err)
				}
				buckets.Append(bc)
				bounds.Append(floats(eb))
				flags.Append(uint32(num(otelrows.MetricFlags, i)))
				minV.Append(flt(otelrows.MetricMin, i))
				maxV.Append(flt(otelrows.MetricMax, i))
				temporality.Append(int32(num(otelrows.MetricAggregationTemporality, i)))
				return mb.exemplars.append(c[otelrows.MetricExemplars].Strings[i])
			}
			mb.tail = func() proto.Input {
				in := proto.Input{{Name: "Count", Data: count}, {Name: "Sum", Data: sum}, {Name: "BucketCounts", Data: buckets}, {Name: "ExplicitBounds", Data: bounds}}
				in = append(in, mb.exemplars.input()...)
				return append(in, proto.Input{{Name: "Flags", Data: flags}, {Name: "Min", Data: minV}, {Name: "Max", Data: maxV}, {Name: "AggregationTemporality", Data: temporality}}...)
			}
		case "ExponentialHistogram":
			scale, posOff, negOff := new(proto.ColInt32), new(proto.ColInt32), new(proto.ColInt32)
			zero := new(proto.ColUInt64)
			pos, neg := proto.NewArray[uint64](new(proto.ColUInt64)), proto.NewArray[uint64](new(proto.ColUInt64))
			mb.add = func(b *store.Batch, i int) error {
				count.Append(uint64(num(otelrows.MetricCount, i)))
				sum.Append(flt(otelrows.MetricSum, i))
				scale.Append(int32(num(otelrows.MetricScale, i)))
				zero.Append(uint64(num(otelrows.MetricZeroCount, i)))
				posOff.Append(int32(num(otelrows.MetricPositiveOffset, i)))
				negOff.Append(int32(num(otelrows.MetricNegativeOffset, i)))
				var p, n []uint64
				if err := unmarshalOptional(c[otelrows.MetricPositiveBucketCounts].Strings[i], &p); err != nil {
					return fmt.Errorf("PositiveBucketCounts: %w", err)
				}
				if err := unmarshalOptional(c[otelrows.MetricNegativeBucketCounts].Strings[i], &n); err != nil {
					return fmt.Errorf("NegativeBucketCounts: %w", err)
				}
				pos.Append(p)
				neg.Append(n)
				flags.Append(uint32(num(otelrows.MetricFlags, i)))
				minV.Append(flt(otelrows.MetricMin, i))
				maxV.Append(flt(otelrows.MetricMax, i))
				temporality.Append(int32(num(otelrows.MetricAggregationTemporality, i)))
				return mb.exemplars.append(c[otelrows.MetricExemplars].Strings[i])
			}
			mb.tail = func() proto.Input {
				in := proto.Input{{Name: "Count", Data: count}, {Name: "Sum", Data: sum}, {Name: "Scale", Data: scale}, {Name: "ZeroCount", Data: zero},
					{Name: "PositiveOffset", Data: posOff}, {Name: "PositiveBucketCounts", Data: pos}, {Name: "NegativeOffset", Data: negOff}, {Name: "NegativeBucketCounts", Data: neg}}
				in = append(in, mb.exemplars.input()...)
				return append(in, proto.Input{{Name: "Flags", Data: flags}, {Name: "Min", Data: minV}, {Name: "Max", Data: maxV}, {Name: "AggregationTemporality", Data: temporality}}...)
			}
		case "Summary":
			quantile, qvalue := proto.NewArray[float64](new(proto.ColFloat64)), proto.NewArray[float64](new(proto.ColFloat64))
			mb.add = func(b *store.Batch, i int) error {
				count.Append(uint64(num(otelrows.MetricCount, i)))
				sum.Append(flt(otelrows.MetricSum, i))
				var qs []struct{ Quantile, Value jsonFloat }
				if err := unmarshalOptional(c[otelrows.MetricValueAtQuantiles].Strings[i], &qs); err != nil {
					return fmt.Errorf("ValueAtQuantiles: %w", err)
				}
				q, v := make([]float64, len(qs)), make([]float64, len(qs))
				for j, x := range qs {
					q[j], v[j] = float64(x.Quantile), float64(x.Value)
				}
				quantile.Append(q)
				qvalue.Append(v)
				flags.Append(uint32(num(otelrows.MetricFlags, i)))
				return nil
			}
			mb.tail = func() proto.Input {
				return proto.Input{{Name: "Count", Data: count}, {Name: "Sum", Data: sum},
					{Name: "ValueAtQuantiles.Quantile", Data: quantile}, {Name: "ValueAtQuantiles.Value", Data: qvalue}, {Name: "Flags", Data: flags}}
			}
		default:
			return nil
		}
		return mb
	}
	var order []string
	cache := attrCache{}
	var scratch kvs
	for i := 0; i < b.N; i++ {
		typ := c[otelrows.MetricType].Strings[i]
		mb := builders[typ]
		if mb == nil {
			if mb = newBuilder(typ); mb == nil {
				return nil, fmt.Errorf("data point %d: metric type %q has no table", i, typ)
			}
			builders[typ] = mb
			order = append(order, typ)
		}
		m := mb.common
		attrs, err := cache.get(c[otelrows.MetricResourceAttributes].Strings[i])
		if err != nil {
			return nil, fmt.Errorf("data point %d ResourceAttributes: %w", i, err)
		}
		m.resAttrs.AppendKV(attrs)
		m.resSchema.Append(c[otelrows.MetricResourceSchemaURL].Strings[i])
		m.scopeName.Append(c[otelrows.MetricScopeName].Strings[i])
		m.scopeVersion.Append(c[otelrows.MetricScopeVersion].Strings[i])
		if attrs, err = cache.get(c[otelrows.MetricScopeAttributes].Strings[i]); err != nil {
			return nil, fmt.Errorf("data point %d ScopeAttributes: %w", i, err)
		}
		m.scopeAttrs.AppendKV(attrs)
		m.dropped.Append(0)
		m.scopeSchema.Append(c[otelrows.MetricScopeSchemaURL].Strings[i])
		m.service.Append(c[otelrows.MetricServiceName].Strings[i])
		m.metricName.Append(c[otelrows.MetricName].Strings[i])
		m.description.Append(c[otelrows.MetricDescription].Strings[i])
		m.unit.Append(c[otelrows.MetricUnit].Strings[i])
		if scratch, err = parseAttrs(scratch[:0], c[otelrows.MetricAttributes].Strings[i]); err != nil {
			return nil, fmt.Errorf("data point %d Attributes: %w", i, err)
		}
		m.attrs.AppendKV(scratch)
		start := int64(0)
		if !c[otelrows.MetricStartTimeUnix].IsNull(i) {
			start = c[otelrows.MetricStartTimeUnix].Times[i]
		}
		m.start.AppendRaw(nanos(start))
		m.time.AppendRaw(nanos(c[otelrows.MetricTimeUnix].Times[i]))
		if err := mb.add(b, i); err != nil {
			return nil, fmt.Errorf("data point %d: %w", i, err)
		}
	}
	out := make([]OTelBlock, 0, len(order))
	for _, typ := range order {
		mb := builders[typ]
		out = append(out, OTelBlock{Table: tables[typ], Input: append(mb.common.input(), mb.tail()...)})
	}
	return out, nil
}

// unmarshalList decodes a JSON array; the empty one, which most spans' events and links are,
// without encoding/json (whose set-up costs more than the rest of an empty column's row).
func unmarshalList(text string, v any) error {
	if text == "[]" {
		return nil
	}
	return json.Unmarshal([]byte(text), v)
}

func unmarshalOptional(text string, v any) error {
	if text == "" {
		return nil
	}
	return json.Unmarshal([]byte(text), v)
}

// jsonFloat reads a number, or the strings otelrows writes for the values JSON cannot spell
// ("NaN", "+Inf", "-Inf").
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf", "Infinity":
			*f = jsonFloat(math.Inf(1))
		case "-Inf", "-Infinity":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("%q is not a number", s)
		}
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	*f = jsonFloat(x)
	return err
}

func floats(in []jsonFloat) []float64 {
	out := make([]float64, len(in))
	for i, f := range in {
		out[i] = float64(f)
	}
	return out
}

// attrCache parses each distinct attribute text of a batch once: the spans, records and
// points of one resource share its attributes.
type attrCache map[string]kvs

func (c attrCache) get(text string) (kvs, error) {
	if v, ok := c[text]; ok {
		return v, nil
	}
	v, err := parseAttrs(nil, text)
	if err != nil {
		return nil, err
	}
	c[text] = v
	return v, nil
}

// parseAttrs appends the pairs of an otelrows attribute object (JSON, keys in OTLP order) as
// the exporter's map values: a string as it is, other values as pdata's AsString writes them.
// The object as otelrows writes it is scanned directly (scanAttrs); anything else takes
// encoding/json (parseAttrsJSON), which also says what is wrong with it.
func parseAttrs(dst kvs, text string) (kvs, error) {
	if text == "" || text == "{}" || text == "null" {
		return dst, nil
	}
	if out, ok := scanAttrs(dst, text); ok {
		return out, nil
	}
	return parseAttrsJSON(dst, text)
}

// parseAttrsJSON is parseAttrs through encoding/json's tokenizer.
func parseAttrsJSON(dst kvs, text string) (kvs, error) {
	if text == "" || text == "{}" || text == "null" {
		return dst, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return dst, fmt.Errorf("want a JSON object, got %.40q", text)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dst, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return dst, err
		}
		v, err := attrString(raw)
		if err != nil {
			return dst, fmt.Errorf("attribute %q: %w", key, err)
		}
		dst = append(dst, proto.KV[string, string]{Key: key, Value: v})
	}
	return dst, nil
}

func attrString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	case 't', 'f', '{', '[':
		return string(raw), nil
	}
	if !bytes.ContainsAny(raw, ".eE") {
		return string(raw), nil // an integer, as AsString writes it
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", err
	}
	return formatDouble(f), nil
}

// formatDouble writes a double as pdata's AsString does (the ES6 number notation of
// encoding/json): plain digits from 1e-6 to 1e21, exponent notation beyond.
func formatDouble(f float64) string {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(nil, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}
