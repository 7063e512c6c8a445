// Package otelrows turns OTLP data (pdata) into store batches for the span, log and metric tables.
package otelrows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/olapgate/olapgate/internal/dataset"
)

// The tables follow the OpenTelemetry Collector ClickHouse exporter (collector-contrib
// v0.141.0): same table and column names, same meanings, so tools written for that exporter
// read olapgate's tables. Where the embedded store's types differ, the difference is:
//
//   - Timestamp columns are DuckDB TIMESTAMP, microseconds (the exporter's DateTime64(9) keeps
//     nanoseconds). Span Duration stays exact in nanoseconds; event timestamps inside the
//     Events JSON keep nanoseconds too.
//   - Map(String, String) attribute columns are JSON object text with typed values (as the
//     exporter's JSON schema variant writes them): DuckDB 1.1 appends MAP columns about four
//     times slower than text, and json_extract_string reads both kinds of value as text.
//   - The Nested Events.* and Links.* columns are one JSON array column each (Events, Links):
//     dataset column names cannot contain dots.
//   - Metrics go to one table, otel_metrics, with a MetricType column (Gauge, Sum, Histogram,
//     ExponentialHistogram, Summary) instead of one table per type; the columns a type does
//     not use are NULL. Bucket counts, bounds, quantiles and exemplars are JSON arrays.
//   - otel_logs has no TimestampTime column (a ClickHouse DEFAULT derived from Timestamp).
//   - Duration is BIGINT nanoseconds (the exporter's UInt64); a span that ends before it starts
//     gets 0 where the exporter's unsigned subtraction would wrap.
//   - Configured hot attributes get extra string columns (PromotedColumn); readers of the
//     exporter's schema ignore them.
//
// Values are written as the exporter writes them: hex ids ("" for all-zero ids), SpanKind and
// StatusCode as pdata spells them (Server, Client, …; Unset, Ok, Error), ServiceName from the
// resource's service.name, Timestamp the span start, a log's time its Timestamp or else its
// ObservedTimestamp, the trace-id lookup rows per trace and write (min and max span start).
//
// Every table is also an olapgate dataset, so the aggregate API charts spans, logs and metrics.

// Table names, as the exporter's defaults.
const (
	TracesTable    = "otel_traces"
	TraceIDTsTable = "otel_traces_trace_id_ts"
	LogsTable      = "otel_logs"
	MetricsTable   = "otel_metrics"
)

type colDef struct {
	name string
	typ  dataset.Type
	// metric: a numeric column the aggregate API sums and averages; the rest are dimensions.
	metric bool
}

// otel_traces columns, in table order (the time column, dimensions, then metrics, as
// dataset.Columns orders them).
const (
	SpanTimestamp = iota
	SpanTraceID
	SpanSpanID
	SpanParentSpanID
	SpanTraceState
	SpanName
	SpanKind
	SpanServiceName
	SpanResourceAttributes
	SpanScopeName
	SpanScopeVersion
	SpanAttributes
	SpanStatusCode
	SpanStatusMessage
	SpanEvents
	SpanLinks
	spanNumDims
	// Duration (nanoseconds), the one metric, is the last column, after any promoted
	// attribute columns: its index is SpanDuration(d).
	spanNumCols = spanNumDims + 1
)

var spanCols = [spanNumCols]colDef{
	{"Timestamp", dataset.Timestamp, false},
	{"TraceId", dataset.String, false},
	{"SpanId", dataset.String, false},
	{"ParentSpanId", dataset.String, false},
	{"TraceState", dataset.String, false},
	{"SpanName", dataset.String, false},
	{"SpanKind", dataset.String, false},
	{"ServiceName", dataset.String, false},
	{"ResourceAttributes", dataset.String, false},
	{"ScopeName", dataset.String, false},
	{"ScopeVersion", dataset.String, false},
	{"SpanAttributes", dataset.String, false},
	{"StatusCode", dataset.String, false},
	{"StatusMessage", dataset.String, false},
	{"Events", dataset.String, false},
	{"Links", dataset.String, false},
	{"Duration", dataset.Int, true}, // nanoseconds
}

// SpanDuration is the index of Duration in a batch of d, a TracesDataset.
func SpanDuration(d *dataset.Dataset) int { return len(d.Columns()) - 1 }

// otel_traces_trace_id_ts columns: per trace and per write, the first and last span start, as
// the exporter's materialized view computes them for each insert block.
const (
	TraceIDTsStart = iota
	TraceIDTsTraceID
	TraceIDTsEnd
	traceIDTsNumCols
)

var traceIDTsCols = [traceIDTsNumCols]colDef{
	{"Start", dataset.Timestamp, false},
	{"TraceId", dataset.String, false},
	{"End", dataset.Timestamp, false},
}

// otel_logs columns.
const (
	LogTimestamp = iota
	LogTraceID
	LogSpanID
	LogTraceFlags
	LogSeverityText
	LogSeverityNumber
	LogServiceName
	LogBody
	LogResourceSchemaURL
	LogResourceAttributes
	LogScopeSchemaURL
	LogScopeName
	LogScopeVersion
	LogScopeAttributes
	LogAttributes
	LogEventName
	logNumCols
)

var logCols = [logNumCols]colDef{
	{"Timestamp", dataset.Timestamp, false},
	{"TraceId", dataset.String, false},
	{"SpanId", dataset.String, false},
	{"TraceFlags", dataset.Int, false},
	{"SeverityText", dataset.String, false},
	{"SeverityNumber", dataset.Int, false},
	{"ServiceName", dataset.String, false},
	{"Body", dataset.String, false},
	{"ResourceSchemaUrl", dataset.String, false},
	{"ResourceAttributes", dataset.String, false},
	{"ScopeSchemaUrl", dataset.String, false},
	{"ScopeName", dataset.String, false},
	{"ScopeVersion", dataset.String, false},
	{"ScopeAttributes", dataset.String, false},
	{"LogAttributes", dataset.String, false},
	{"EventName", dataset.String, false},
}

// otel_metrics columns: the union of the exporter's gauge, sum, histogram, exponential
// histogram and summary tables, plus MetricType.
const (
	MetricTimeUnix = iota
	MetricType
	MetricServiceName
	MetricName
	MetricDescription
	MetricUnit
	MetricResourceAttributes
	MetricResourceSchemaURL
	MetricScopeName
	MetricScopeVersion
	MetricScopeAttributes
	MetricScopeSchemaURL
	MetricAttributes
	MetricStartTimeUnix
	MetricFlags
	MetricAggregationTemporality
	MetricIsMonotonic
	MetricBucketCounts
	MetricExplicitBounds
	MetricScale
	MetricZeroCount
	MetricPositiveOffset
	MetricPositiveBucketCounts
	MetricNegativeOffset
	MetricNegativeBucketCounts
	MetricValueAtQuantiles
	MetricExemplars
	MetricValue
	MetricCount
	MetricSum
	MetricMin
	MetricMax
	metricNumCols
)

var metricCols = [metricNumCols]colDef{
	{"TimeUnix", dataset.Timestamp, false},
	{"MetricType", dataset.String, false},
	{"ServiceName", dataset.String, false},
	{"MetricName", dataset.String, false},
	{"MetricDescription", dataset.String, false},
	{"MetricUnit", dataset.String, false},
	{"ResourceAttributes", dataset.String, false},
	{"ResourceSchemaUrl", dataset.String, false},
	{"ScopeName", dataset.String, false},
	{"ScopeVersion", dataset.String, false},
	{"ScopeAttributes", dataset.String, false},
	{"ScopeSchemaUrl", dataset.String, false},
	{"Attributes", dataset.String, false},
	{"StartTimeUnix", dataset.Timestamp, false},
	{"Flags", dataset.Int, false},
	{"AggregationTemporality", dataset.Int, false},
	{"IsMonotonic", dataset.Bool, false},
	{"BucketCounts", dataset.String, false},
	{"ExplicitBounds", dataset.String, false},
	{"Scale", dataset.Int, false},
	{"ZeroCount", dataset.Int, false},
	{"PositiveOffset", dataset.Int, false},
	{"PositiveBucketCounts", dataset.String, false},
	{"NegativeOffset", dataset.Int, false},
	{"NegativeBucketCounts", dataset.String, false},
	{"ValueAtQuantiles", dataset.String, false},
	{"Exemplars", dataset.String, false},
	{"Value", dataset.Float, true},
	{"Count", dataset.Int, true},
	{"Sum", dataset.Float, true},
	{"Min", dataset.Float, true},
	{"Max", dataset.Float, true},
}

// Datasets returns fresh, validated declarations of the four tables (each call returns new
// values, so a caller may not change another's): otel_traces, otel_traces_trace_id_ts,
// otel_logs, otel_metrics. promoted are attribute keys copied into columns of their own (see
// PromotedColumn); they must have passed ValidatePromoted.
func Datasets(promoted ...string) []*dataset.Dataset {
	return []*dataset.Dataset{TracesDataset(promoted...), TraceIDTsDataset(), LogsDataset(promoted...), MetricsDataset()}
}

// TracesDataset declares otel_traces, with a string column per promoted attribute key between
// the exporter's columns and Duration.
func TracesDataset(promoted ...string) *dataset.Dataset {
	cols := append([]colDef(nil), spanCols[:spanNumDims]...)
	for _, k := range promoted {
		cols = append(cols, colDef{PromotedColumn(k), dataset.String, false})
	}
	return mustDataset(TracesTable, append(cols, spanCols[spanNumDims]))
}

// TraceIDTsDataset declares otel_traces_trace_id_ts.
func TraceIDTsDataset() *dataset.Dataset { return mustDataset(TraceIDTsTable, traceIDTsCols[:]) }

// LogsDataset declares otel_logs, with a string column per promoted attribute key after the
// exporter's columns.
func LogsDataset(promoted ...string) *dataset.Dataset {
	cols := append([]colDef(nil), logCols[:]...)
	for _, k := range promoted {
		cols = append(cols, colDef{PromotedColumn(k), dataset.String, false})
	}
	return mustDataset(LogsTable, cols)
}

// PromotedColumn is the column a promoted attribute key is copied into: the key with every
// character other than a letter, digit or '_' replaced by '_' ("http.route" → "http_route").
func PromotedColumn(key string) string {
	b := []byte(key)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// ValidatePromoted checks promoted attribute keys: their columns must be valid column names
// and clash neither with each other nor with the span and log tables' own columns.
func ValidatePromoted(keys []string) error {
	taken := map[string]string{}
	for _, c := range spanCols {
		taken[strings.ToLower(c.name)] = "a column of " + TracesTable
	}
	for _, c := range logCols {
		taken[strings.ToLower(c.name)] = "a column of " + LogsTable
	}
	for _, k := range keys {
		col := PromotedColumn(k)
		if k == "" || len(col) > 128 || strings.HasPrefix(col, "__") {
			return fmt.Errorf("promoted attribute %q: want a key of 1 to 128 bytes whose column name (%q) does not start with __", k, col)
		}
		if what, ok := taken[strings.ToLower(col)]; ok {
			return fmt.Errorf("promoted attribute %q: its column %s is already %s", k, col, what)
		}
		taken[strings.ToLower(col)] = "the column of promoted attribute " + strconv.Quote(k)
	}
	return nil
}

// MetricsDataset declares otel_metrics.
func MetricsDataset() *dataset.Dataset { return mustDataset(MetricsTable, metricCols[:]) }

// mustDataset builds a dataset whose Columns() are cols in order; the column index constants
// above rely on that, so a mismatch is a programming error.
func mustDataset(name string, cols []colDef) *dataset.Dataset {
	d := &dataset.Dataset{Name: name, TimeColumn: cols[0].name, Backend: dataset.BackendEmbedded}
	for _, c := range cols[1:] {
		f := dataset.Field{Name: c.name, Type: c.typ}
		if c.metric {
			d.Metrics = append(d.Metrics, f)
		} else {
			d.Dimensions = append(d.Dimensions, f)
		}
	}
	if err := d.Validate(); err != nil {
		panic(fmt.Sprintf("otelrows: table %s: %v", name, err))
	}
	for i, c := range d.Columns() {
		if c.Name != cols[i].name {
			panic(fmt.Sprintf("otelrows: table %s: column %d is %s, want %s (metrics must come last)", name, i, c.Name, cols[i].name))
		}
	}
	return d
}
