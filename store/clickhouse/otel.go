package clickhouse

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olapgate/olapgate/internal/chsql"
)

// The OpenTelemetry tables on ClickHouse are the Collector contrib ClickHouse exporter's
// (collector-contrib v0.141.0, the default Map schema): same tables, columns, types, engines,
// sorting, partitioning and TTL expressions, created from OTelSchema the way the exporter
// creates them from its config, so tables either one created are read and written by the other.
// testdata/otelexporter holds the exporter's DDL templates the test compares against.

// Default table names, the exporter's.
const (
	DefaultOTelTracesTable         = "otel_traces"
	DefaultOTelLogsTable           = "otel_logs"
	DefaultOTelMetricsGauge        = "otel_metrics_gauge"
	DefaultOTelMetricsSum          = "otel_metrics_sum"
	DefaultOTelMetricsSummary      = "otel_metrics_summary"
	DefaultOTelMetricsHistogram    = "otel_metrics_histogram"
	DefaultOTelMetricsExpHistogram = "otel_metrics_exponential_histogram"
)

// OTelSchema names and shapes the OpenTelemetry tables, with the exporter's config keys where
// it has them. Zero fields take the exporter's defaults.
type OTelSchema struct {
	// Database holds the tables; created if missing. Default: the store's database.
	Database string `yaml:"database"`
	// TracesTable is otel_traces; its trace-id lookup table and materialized view are named
	// after it (<traces>_trace_id_ts, <traces>_trace_id_ts_mv), as the exporter names them.
	TracesTable string `yaml:"tracesTableName"`
	// LogsTable is otel_logs.
	LogsTable string `yaml:"logsTableName"`
	// MetricsTables are the five metric tables, one per OTLP metric type.
	MetricsTables OTelMetricsTables `yaml:"metricsTables"`
	// ClusterName adds ON CLUSTER to every statement (with a Replicated engine, say).
	ClusterName string `yaml:"clusterName"`
	// TableEngine is the tables' engine. Default MergeTree().
	TableEngine OTelTableEngine `yaml:"tableEngine"`
	// TTL expires rows (on each table's time column, as the exporter's TTL does); 0 keeps
	// them. The collector sets it from its retention.
	TTL time.Duration `yaml:"-"`
}

// OTelMetricsTables names the metric tables (exporter: metrics_tables).
type OTelMetricsTables struct {
	Gauge                string `yaml:"gauge"`
	Sum                  string `yaml:"sum"`
	Summary              string `yaml:"summary"`
	Histogram            string `yaml:"histogram"`
	ExponentialHistogram string `yaml:"exponentialHistogram"`
}

// OTelTableEngine is the ENGINE clause: Name(Params), e.g. ReplicatedMergeTree with params
// '/clickhouse/tables/{shard}/{database}/{table}', '{replica}' (exporter: table_engine).
type OTelTableEngine struct {
	Name   string `yaml:"name"`
	Params string `yaml:"params"`
}

// Validate checks names: identifiers are quoted wherever they are used, but an engine name
// must be a plain identifier and its parameters one clause.
func (s *OTelSchema) Validate() error {
	d := s.withDefaults("default")
	for _, n := range append([]string{d.Database, d.TracesTable, d.LogsTable}, d.metricTables()...) {
		if n == "" || len(n) > 200 || strings.ContainsAny(n, "\x00") {
			return fmt.Errorf("clickhouse otel tables: name %q: want 1 to 200 bytes without NUL", n)
		}
	}
	if !plainIdent(d.TableEngine.Name) {
		return fmt.Errorf("clickhouse otel tables: tableEngine.name %q: want a plain identifier such as ReplicatedMergeTree", d.TableEngine.Name)
	}
	if strings.ContainsAny(d.TableEngine.Params, ";\x00") || strings.Count(d.TableEngine.Params, "(") != strings.Count(d.TableEngine.Params, ")") {
		return fmt.Errorf("clickhouse otel tables: tableEngine.params %q: want engine parameters, without ';' and with balanced parentheses", d.TableEngine.Params)
	}
	if strings.ContainsAny(d.ClusterName, "\x00") {
		return errors.New("clickhouse otel tables: clusterName contains NUL")
	}
	if s.TTL < 0 {
		return fmt.Errorf("clickhouse otel tables: ttl %s: must not be negative", s.TTL)
	}
	names := map[string]bool{}
	for _, n := range append([]string{d.TracesTable, d.traceIDTsTable(), d.traceIDTsView(), d.LogsTable}, d.metricTables()...) {
		if names[n] {
			return fmt.Errorf("clickhouse otel tables: table name %s is used twice", n)
		}
		names[n] = true
	}
	return nil
}

func plainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// withDefaults fills zero fields; database is the store's.
func (s OTelSchema) withDefaults(database string) OTelSchema {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.Database, database)
	def(&s.TracesTable, DefaultOTelTracesTable)
	def(&s.LogsTable, DefaultOTelLogsTable)
	def(&s.MetricsTables.Gauge, DefaultOTelMetricsGauge)
	def(&s.MetricsTables.Sum, DefaultOTelMetricsSum)
	def(&s.MetricsTables.Summary, DefaultOTelMetricsSummary)
	def(&s.MetricsTables.Histogram, DefaultOTelMetricsHistogram)
	def(&s.MetricsTables.ExponentialHistogram, DefaultOTelMetricsExpHistogram)
	if s.TableEngine.Name == "" {
		s.TableEngine = OTelTableEngine{Name: "MergeTree"}
	}
	return s
}

func (s OTelSchema) metricTables() []string {
	m := s.MetricsTables
	return []string{m.Gauge, m.Sum, m.Summary, m.Histogram, m.ExponentialHistogram}
}

func (s OTelSchema) traceIDTsTable() string { return s.TracesTable + "_trace_id_ts" }
func (s OTelSchema) traceIDTsView() string  { return s.TracesTable + "_trace_id_ts_mv" }

func (s OTelSchema) table(name string) string {
	return chsql.Ident(s.Database) + "." + chsql.Ident(name)
}

func (s OTelSchema) onCluster() string {
	if s.ClusterName == "" {
		return ""
	}
	return " ON CLUSTER " + chsql.Ident(s.ClusterName)
}

// ttlClause is the exporter's TTL expression: the largest whole unit of the duration, on
// timeExpr.
func ttlClause(ttl time.Duration, timeExpr string) string {
	switch {
	case ttl <= 0:
		return ""
	case ttl%(24*time.Hour) == 0:
		return fmt.Sprintf("TTL %s + toIntervalDay(%d)", timeExpr, ttl/(24*time.Hour))
	case ttl%time.Hour == 0:
		return fmt.Sprintf("TTL %s + toIntervalHour(%d)", timeExpr, ttl/time.Hour)
	case ttl%time.Minute == 0:
		return fmt.Sprintf("TTL %s + toIntervalMinute(%d)", timeExpr, ttl/time.Minute)
	}
	return fmt.Sprintf("TTL %s + toIntervalSecond(%d)", timeExpr, ttl/time.Second)
}

// chCol is a column definition: name, type and the rest (codec, DEFAULT).
type chCol struct{ name, typ, extra string }

// chTable is a MergeTree-family table as the exporter lays it out.
type chTable struct {
	cols                                    []chCol
	indexes                                 []string // "name expr TYPE t GRANULARITY g", name unquoted
	partition, primaryKey, orderBy, ttlTime string
}

const (
	zstd      = "CODEC(ZSTD(1))"
	attrMap   = "Map(LowCardinality(String), String)"
	lowString = "LowCardinality(String)"
	ts9       = "DateTime64(9)"
)

func bloom(name, expr, p string) string {
	return name + " " + expr + " TYPE bloom_filter(" + p + ") GRANULARITY 1"
}

var tracesTable = chTable{
	cols: []chCol{
		{"Timestamp", ts9, "CODEC(Delta, ZSTD(1))"},
		{"TraceId", "String", zstd},
		{"SpanId", "String", zstd},
		{"ParentSpanId", "String", zstd},
		{"TraceState", "String", zstd},
		{"SpanName", lowString, zstd},
		{"SpanKind", lowString, zstd},
		{"ServiceName", lowString, zstd},
		{"ResourceAttributes", attrMap, zstd},
		{"ScopeName", "String", zstd},
		{"ScopeVersion", "String", zstd},
		{"SpanAttributes", attrMap, zstd},
		{"Duration", "UInt64", zstd},
		{"StatusCode", lowString, zstd},
		{"StatusMessage", "String", zstd},
		{"Events", "Nested (Timestamp " + ts9 + ", Name " + lowString + ", Attributes " + attrMap + ")", zstd},
		{"Links", "Nested (TraceId String, SpanId String, TraceState String, Attributes " + attrMap + ")", zstd},
	},
	indexes: []string{
		bloom("idx_trace_id", "TraceId", "0.001"),
		bloom("idx_res_attr_key", "mapKeys(ResourceAttributes)", "0.01"),
		bloom("idx_res_attr_value", "mapValues(ResourceAttributes)", "0.01"),
		bloom("idx_span_attr_key", "mapKeys(SpanAttributes)", "0.01"),
		bloom("idx_span_attr_value", "mapValues(SpanAttributes)", "0.01"),
		"idx_duration Duration TYPE minmax GRANULARITY 1",
	},
	partition: "toDate(Timestamp)",
	orderBy:   "(ServiceName, SpanName, toDateTime(Timestamp))",
	ttlTime:   "toDate(Timestamp)",
}

var traceIDTsTable = chTable{
	cols: []chCol{
		{"TraceId", "String", zstd},
		{"Start", "DateTime", "CODEC(Delta, ZSTD(1))"},
		{"End", "DateTime", "CODEC(Delta, ZSTD(1))"},
	},
	indexes:   []string{bloom("idx_trace_id", "TraceId", "0.01")},
	partition: "toDate(Start)",
	orderBy:   "(TraceId, Start)",
	ttlTime:   "toDate(Start)",
}

var logsTable = chTable{
	cols: []chCol{
		{"Timestamp", ts9, "CODEC(Delta(8), ZSTD(1))"},
		{"TimestampTime", "DateTime", "DEFAULT toDateTime(Timestamp)"},
		{"TraceId", "String", zstd},
		{"SpanId", "String", zstd},
		{"TraceFlags", "UInt8", ""},
		{"SeverityText", lowString, zstd},
		{"SeverityNumber", "UInt8", ""},
		{"ServiceName", lowString, zstd},
		{"Body", "String", zstd},
		{"ResourceSchemaUrl", lowString, zstd},
		{"ResourceAttributes", attrMap, zstd},
		{"ScopeSchemaUrl", lowString, zstd},
		{"ScopeName", "String", zstd},
		{"ScopeVersion", lowString, zstd},
		{"ScopeAttributes", attrMap, zstd},
		{"LogAttributes", attrMap, zstd},
		{"EventName", "String", zstd},
	},
	indexes: []string{
		bloom("idx_trace_id", "TraceId", "0.001"),
		bloom("idx_res_attr_key", "mapKeys(ResourceAttributes)", "0.01"),
		bloom("idx_res_attr_value", "mapValues(ResourceAttributes)", "0.01"),
		bloom("idx_scope_attr_key", "mapKeys(ScopeAttributes)", "0.01"),
		bloom("idx_scope_attr_value", "mapValues(ScopeAttributes)", "0.01"),
		bloom("idx_log_attr_key", "mapKeys(LogAttributes)", "0.01"),
		bloom("idx_log_attr_value", "mapValues(LogAttributes)", "0.01"),
		"idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8",
	},
	partition:  "toDate(TimestampTime)",
	primaryKey: "(ServiceName, TimestampTime)",
	orderBy:    "(ServiceName, TimestampTime, Timestamp)",
	ttlTime:    "TimestampTime",
}

// metricTable is one of the five metric tables: the columns every type has, then the
// type's own (typed), as the exporter orders them.
func metricTable(typed ...chCol) chTable {
	cols := []chCol{
		{"ResourceAttributes", attrMap, zstd},
		{"ResourceSchemaUrl", "String", zstd},
		{"ScopeName", "String", zstd},
		{"ScopeVersion", "String", zstd},
		{"ScopeAttributes", attrMap, zstd},
		{"ScopeDroppedAttrCount", "UInt32", zstd},
		{"ScopeSchemaUrl", "String", zstd},
		{"ServiceName", lowString, zstd},
		{"MetricName", "String", zstd},
		{"MetricDescription", "String", zstd},
		{"MetricUnit", "String", zstd},
		{"Attributes", attrMap, zstd},
		{"StartTimeUnix", ts9, "CODEC(Delta, ZSTD(1))"},
		{"TimeUnix", ts9, "CODEC(Delta, ZSTD(1))"},
	}
	return chTable{
		cols: append(cols, typed...),
		indexes: []string{
			bloom("idx_res_attr_key", "mapKeys(ResourceAttributes)", "0.01"),
			bloom("idx_res_attr_value", "mapValues(ResourceAttributes)", "0.01"),
			bloom("idx_scope_attr_key", "mapKeys(ScopeAttributes)", "0.01"),
			bloom("idx_scope_attr_value", "mapValues(ScopeAttributes)", "0.01"),
			bloom("idx_attr_key", "mapKeys(Attributes)", "0.01"),
			bloom("idx_attr_value", "mapValues(Attributes)", "0.01"),
		},
		partition: "toDate(TimeUnix)",
		orderBy:   "(ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))",
		ttlTime:   "toDateTime(TimeUnix)",
	}
}

var exemplarsCol = chCol{"Exemplars", "Nested (FilteredAttributes " + attrMap + ", TimeUnix " + ts9 + ", Value Float64, SpanId String, TraceId String)", zstd}

var (
	gaugeTable = metricTable(
		chCol{"Value", "Float64", zstd},
		chCol{"Flags", "UInt32", zstd},
		exemplarsCol,
	)
	sumTable = metricTable(
		chCol{"Value", "Float64", zstd},
		chCol{"Flags", "UInt32", zstd},
		exemplarsCol,
		chCol{"AggregationTemporality", "Int32", zstd},
		chCol{"IsMonotonic", "Bool", "CODEC(Delta, ZSTD(1))"},
	)
	histogramTable = metricTable(
		chCol{"Count", "UInt64", "CODEC(Delta, ZSTD(1))"},
		chCol{"Sum", "Float64", zstd},
		chCol{"BucketCounts", "Array(UInt64)", zstd},
		chCol{"ExplicitBounds", "Array(Float64)", zstd},
		exemplarsCol,
		chCol{"Flags", "UInt32", zstd},
		chCol{"Min", "Float64", zstd},
		chCol{"Max", "Float64", zstd},
		chCol{"AggregationTemporality", "Int32", zstd},
	)
	expHistogramTable = metricTable(
		chCol{"Count", "UInt64", "CODEC(Delta, ZSTD(1))"},
		chCol{"Sum", "Float64", zstd},
		chCol{"Scale", "Int32", zstd},
		chCol{"ZeroCount", "UInt64", zstd},
		chCol{"PositiveOffset", "Int32", zstd},
		chCol{"PositiveBucketCounts", "Array(UInt64)", zstd},
		chCol{"NegativeOffset", "Int32", zstd},
		chCol{"NegativeBucketCounts", "Array(UInt64)", zstd},
		exemplarsCol,
		chCol{"Flags", "UInt32", zstd},
		chCol{"Min", "Float64", zstd},
		chCol{"Max", "Float64", zstd},
		chCol{"AggregationTemporality", "Int32", zstd},
	)
	summaryTable = metricTable(
		chCol{"Count", "UInt64", "CODEC(Delta, ZSTD(1))"},
		chCol{"Sum", "Float64", zstd},
		chCol{"ValueAtQuantiles", "Nested (Quantile Float64, Value Float64)", zstd},
		chCol{"Flags", "UInt32", zstd},
	)
)

func (s OTelSchema) createTable(name string, t chTable) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + s.table(name) + s.onCluster() + " (")
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n    " + chsql.Ident(c.name) + " " + c.typ)
		if c.extra != "" {
			b.WriteString(" " + c.extra)
		}
	}
	for _, ix := range t.indexes {
		b.WriteString(",\n    INDEX " + ix)
	}
	b.WriteString("\n) ENGINE = " + s.TableEngine.Name + "(" + s.TableEngine.Params + ")")
	b.WriteString("\nPARTITION BY " + t.partition)
	if t.primaryKey != "" {
		b.WriteString("\nPRIMARY KEY " + t.primaryKey)
	}
	b.WriteString("\nORDER BY " + t.orderBy)
	if ttl := ttlClause(s.TTL, t.ttlTime); ttl != "" {
		b.WriteString("\n" + ttl)
	}
	b.WriteString("\nSETTINGS index_granularity = 8192, ttl_only_drop_parts = 1")
	return b.String()
}

// OTelDDL is the schema's DDL, in order: the database (unless it is the store's), otel_traces, the trace-id lookup table
// and the materialized view that fills it from otel_traces, otel_logs, and the gauge, sum,
// summary, histogram and exponential histogram tables. Every statement is IF NOT EXISTS.
// database is the store's (the default for Database).
func (s OTelSchema) OTelDDL(database string) []string {
	d := s.withDefaults(database)
	m := d.MetricsTables
	var ddl []string
	if d.Database != database { // the store's own database exists (and the user may not create databases)
		ddl = append(ddl, "CREATE DATABASE IF NOT EXISTS "+chsql.Ident(d.Database)+d.onCluster())
	}
	return append(ddl,
		d.createTable(d.TracesTable, tracesTable),
		d.createTable(d.traceIDTsTable(), traceIDTsTable),
		"CREATE MATERIALIZED VIEW IF NOT EXISTS "+d.table(d.traceIDTsView())+d.onCluster()+
			"\nTO "+d.table(d.traceIDTsTable())+
			"\nAS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End"+
			"\nFROM "+d.table(d.TracesTable)+
			"\nWHERE TraceId != ''"+
			"\nGROUP BY TraceId",
		d.createTable(d.LogsTable, logsTable),
		d.createTable(m.Gauge, gaugeTable),
		d.createTable(m.Sum, sumTable),
		d.createTable(m.Summary, summaryTable),
		d.createTable(m.Histogram, histogramTable),
		d.createTable(m.ExponentialHistogram, expHistogramTable),
	)
}
