package telemetry

import (
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// Every statement the TelemetryService runs is built here, for DuckDB (the embedded store); a
// ClickHouse variant implements the same methods (arg_min … FILTER becomes argMinIf,
// json_extract_string a map lookup, make_timestamp a DateTime64 literal). Identifiers are
// fixed; every value a client sends is a bound parameter. Time bounds are inlined as integer
// literals (make_timestamp of a constant folds to a constant), so DuckDB can skip row groups
// outside them by their zone maps, which it does not do for bound parameters.

type duckSQL struct {
	// promoted maps attribute keys with columns of their own to the column.
	promoted map[string]string
}

func q(id string) string { return `"` + id + `"` }

// ts is a TIMESTAMP literal for t (microseconds, UTC).
func ts(t time.Time) string {
	return "make_timestamp(" + strconv.FormatInt(t.UnixMicro(), 10) + "::BIGINT)"
}

// traceIDLit is a trace id as a literal. Only ids that passed ParseTraceID (32 lower-case
// hex digits) get here; inlined rather than bound, a statement without parameters skips
// DuckDB's prepare-and-bind round (measured: a third of GetTrace's query time).
func traceIDLit(id string) string {
	// Quote anyway: a mistake elsewhere must not become an injection.
	return "'" + strings.ReplaceAll(id, "'", "''") + "'"
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// traceBounds: the first and last span start of a trace, from the lookup table.
func (duckSQL) traceBounds(traceID string) store.Statement {
	return store.Statement{
		SQL: "SELECT min(" + q("Start") + "), max(" + q("End") + ") FROM " + q(otelrows.TraceIDTsTable) +
			" WHERE " + q("TraceId") + " = " + traceIDLit(traceID),
		Output: []store.ResultColumn{{Name: "start", Type: store.TypeTimestamp}, {Name: "end", Type: store.TypeTimestamp}},
	}
}

// spanColumns are the otel_traces columns GetTrace reads, in Output order.
var spanColumns = []store.ResultColumn{
	{Name: "Timestamp", Type: store.TypeTimestamp},
	{Name: "TraceId", Type: store.TypeString},
	{Name: "SpanId", Type: store.TypeString},
	{Name: "ParentSpanId", Type: store.TypeString},
	{Name: "TraceState", Type: store.TypeString},
	{Name: "SpanName", Type: store.TypeString},
	{Name: "SpanKind", Type: store.TypeString},
	{Name: "ServiceName", Type: store.TypeString},
	{Name: "ResourceAttributes", Type: store.TypeString},
	{Name: "ScopeName", Type: store.TypeString},
	{Name: "ScopeVersion", Type: store.TypeString},
	{Name: "SpanAttributes", Type: store.TypeString},
	{Name: "Duration", Type: store.TypeInt64},
	{Name: "StatusCode", Type: store.TypeString},
	{Name: "StatusMessage", Type: store.TypeString},
	{Name: "Events", Type: store.TypeString},
	{Name: "Links", Type: store.TypeString},
}

// logColumns are the otel_logs columns read for a log record, in Output order.
var logColumns = []store.ResultColumn{
	{Name: "Timestamp", Type: store.TypeTimestamp},
	{Name: "TraceId", Type: store.TypeString},
	{Name: "SpanId", Type: store.TypeString},
	{Name: "TraceFlags", Type: store.TypeInt64},
	{Name: "SeverityText", Type: store.TypeString},
	{Name: "SeverityNumber", Type: store.TypeInt64},
	{Name: "ServiceName", Type: store.TypeString},
	{Name: "Body", Type: store.TypeString},
	{Name: "ScopeName", Type: store.TypeString},
	{Name: "ScopeVersion", Type: store.TypeString},
	{Name: "LogAttributes", Type: store.TypeString},
	{Name: "ResourceAttributes", Type: store.TypeString},
	{Name: "EventName", Type: store.TypeString},
}

// traceLogColumns are what GetTrace reads of a trace's logs: not the trace id (the trace's),
// scope or resource (the log's span has its resource). Each column costs about 0.8 µs a row
// to hand over from DuckDB, so 5,000 logs × 13 columns took 30-50 ms where these 8 take half.
var traceLogColumns = []store.ResultColumn{
	{Name: "Timestamp", Type: store.TypeTimestamp},
	{Name: "SpanId", Type: store.TypeString},
	{Name: "TraceFlags", Type: store.TypeInt64},
	{Name: "SeverityText", Type: store.TypeString},
	{Name: "SeverityNumber", Type: store.TypeInt64},
	{Name: "ServiceName", Type: store.TypeString},
	{Name: "Body", Type: store.TypeString},
	{Name: "LogAttributes", Type: store.TypeString},
	{Name: "EventName", Type: store.TypeString},
}

func selectList(cols []store.ResultColumn) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(c.Name))
	}
	return b.String()
}

// traceSpans: a trace's spans, within [lo, hi] when bounded (the lookup table had the trace);
// limit+1 rows so the caller can tell the trace was cut: the first by start time when ordered,
// else any (see GetTrace). Packed (packed.go): the fields of spanRecord, without the trace id
// (the one asked for).
func (duckSQL) traceSpans(traceID string, lo, hi time.Time, bounded bool, limit int, ordered bool) store.Statement {
	where := q("TraceId") + " = " + traceIDLit(traceID)
	if bounded {
		where += " AND " + q("Timestamp") + " BETWEEN " + ts(lo) + " AND " + ts(hi)
	}
	fields := []string{packNum("epoch_us(" + q("Timestamp") + ")"), packNum(q("Duration"))}
	for _, c := range spanTextColumns {
		fields = append(fields, packText(q(c)))
	}
	return packedStatement("SELECT "+selectList(spanColumns)+" FROM "+q(otelrows.TracesTable)+" WHERE "+where+
		orderBy(ordered, q("Timestamp")+", "+q("SpanId"))+" LIMIT "+strconv.Itoa(limit+1), fields)
}

func orderBy(ordered bool, keys string) string {
	if !ordered {
		return ""
	}
	return " ORDER BY " + keys
}

// readSpans reads traceSpans' packed rows.
func (duckSQL) readSpans(res *store.Result, traceID string) ([]spanRecord, error) {
	out := make([]spanRecord, 0, packedRows(res))
	err := unpack(res, func(u *unpacker) {
		r := spanRecord{start: u.time(), duration: u.int(), traceID: traceID}
		for _, f := range r.texts() {
			*f = u.text()
		}
		out = append(out, r)
	})
	return out, err
}

// traceLogs: the log records of a trace within [lo, hi]; limit+1 rows, the first by time when
// ordered, else any. Packed: the fields of traceLogRecord.
func (duckSQL) traceLogs(traceID string, lo, hi time.Time, limit int, ordered bool) store.Statement {
	var fields []string
	for _, c := range traceLogColumns {
		switch c.Type {
		case store.TypeTimestamp:
			fields = append(fields, packNum("epoch_us("+q(c.Name)+")"))
		case store.TypeInt64:
			fields = append(fields, packNum(q(c.Name)))
		default:
			fields = append(fields, packText(q(c.Name)))
		}
	}
	return packedStatement("SELECT "+selectList(traceLogColumns)+" FROM "+q(otelrows.LogsTable)+
		" WHERE "+q("TraceId")+" = "+traceIDLit(traceID)+" AND "+q("Timestamp")+" BETWEEN "+ts(lo)+" AND "+ts(hi)+
		orderBy(ordered, q("Timestamp"))+" LIMIT "+strconv.Itoa(limit+1), fields)
}

// readTraceLogs reads traceLogs' packed rows.
func (duckSQL) readTraceLogs(res *store.Result) ([]traceLogRecord, error) {
	out := make([]traceLogRecord, 0, packedRows(res))
	err := unpack(res, func(u *unpacker) {
		out = append(out, traceLogRecord{
			time: u.time(), spanID: u.text(), traceFlags: u.int(), severityText: u.text(), severityNumber: u.int(),
			service: u.text(), body: u.text(), attributes: u.text(), eventName: u.text(),
		})
	})
	return out, err
}

// bound is the instant a time bound in these statements stands for: ts keeps microseconds.
func (duckSQL) bound(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// attrPath is the JSON path of a top-level attribute key. Keys with '"' or '\' are refused
// before they get here (validAttrKey).
func attrPath(key string) string { return `$."` + key + `"` }

// attrMatch is the condition "attribute key equals value, on the item or on its resource". A
// promoted key reads its column (the item's value, else the resource's) instead of two JSON
// texts.
func (d duckSQL) attrMatch(itemCol, key, value string, args []any) (string, []any) {
	if col, ok := d.promoted[key]; ok {
		return q(col) + " = ?", append(args, value)
	}
	p := attrPath(key)
	return "(json_extract_string(" + q(itemCol) + ", ?) = ? OR json_extract_string(" + q("ResourceAttributes") + ", ?) = ?)",
		append(args, p, value, p, value)
}

// matchingTraces: ids of traces with a span starting in [from, to) that matches the filters,
// the most recently started first.
func (d duckSQL) matchingTraces(f *TraceFilter, from, to time.Time) store.Statement {
	var args []any
	conds := []string{
		q("Timestamp") + " >= " + ts(from), q("Timestamp") + " < " + ts(to), q("TraceId") + " <> ''",
	}
	if f.ServiceName != "" {
		conds = append(conds, q("ServiceName")+" = ?")
		args = append(args, f.ServiceName)
	}
	if f.SpanName != "" {
		conds = append(conds, q("SpanName")+" = ?")
		args = append(args, f.SpanName)
	}
	if f.MinDuration > 0 {
		conds = append(conds, q("Duration")+" >= ?")
		args = append(args, int64(f.MinDuration))
	}
	if f.MaxDuration > 0 {
		conds = append(conds, q("Duration")+" <= ?")
		args = append(args, int64(f.MaxDuration))
	}
	if f.ErrorsOnly {
		conds = append(conds, q("StatusCode")+" = 'Error'")
	}
	for _, a := range f.Attributes {
		var c string
		c, args = d.attrMatch("SpanAttributes", a.Key, a.Value, args)
		conds = append(conds, c)
	}
	return store.Statement{
		SQL: "SELECT " + q("TraceId") + ", min(" + q("Timestamp") + ") AS first FROM " + q(otelrows.TracesTable) +
			" WHERE " + strings.Join(conds, " AND ") +
			" GROUP BY " + q("TraceId") + " ORDER BY first DESC, " + q("TraceId") + " LIMIT " + strconv.Itoa(f.Limit),
		Args:   args,
		Output: []store.ResultColumn{{Name: "TraceId", Type: store.TypeString}, {Name: "first", Type: store.TypeTimestamp}},
	}
}

// tracesBounds: the first and last span start over several traces, from the lookup table.
func (duckSQL) tracesBounds(ids []string) store.Statement {
	return store.Statement{
		SQL: "SELECT min(" + q("Start") + "), max(" + q("End") + ") FROM " + q(otelrows.TraceIDTsTable) +
			" WHERE " + q("TraceId") + " IN (" + placeholders(len(ids)) + ")",
		Args:   anySlice(ids),
		Output: []store.ResultColumn{{Name: "start", Type: store.TypeTimestamp}, {Name: "end", Type: store.TypeTimestamp}},
	}
}

// traceSummaries: per trace, its root (the earliest span without a parent, else the earliest
// span), start, end in nanoseconds since the epoch, span and error counts, and services as a
// JSON array.
func (duckSQL) traceSummaries(ids []string, lo, hi time.Time) store.Statement {
	root := func(col string) string {
		return "coalesce(arg_min(" + q(col) + ", " + q("Timestamp") + ") FILTER (WHERE " + q("ParentSpanId") + " = ''), arg_min(" +
			q(col) + ", " + q("Timestamp") + "))"
	}
	return store.Statement{
		SQL: "SELECT " + q("TraceId") + ", " + root("ServiceName") + ", " + root("SpanName") + ", min(" + q("Timestamp") + "), " +
			"max(epoch_us(" + q("Timestamp") + ") * 1000 + " + q("Duration") + "), count(*), " +
			"count(*) FILTER (WHERE " + q("StatusCode") + " = 'Error'), " +
			"CAST(to_json(list_sort(list_distinct(list(" + q("ServiceName") + ")))) AS VARCHAR)" +
			" FROM " + q(otelrows.TracesTable) +
			" WHERE " + q("TraceId") + " IN (" + placeholders(len(ids)) + ") AND " + q("Timestamp") + " BETWEEN " + ts(lo) + " AND " + ts(hi) +
			" GROUP BY " + q("TraceId"),
		Args: anySlice(ids),
		Output: []store.ResultColumn{
			{Name: "TraceId", Type: store.TypeString}, {Name: "rootService", Type: store.TypeString},
			{Name: "rootName", Type: store.TypeString}, {Name: "start", Type: store.TypeTimestamp},
			{Name: "endNanos", Type: store.TypeInt64}, {Name: "spans", Type: store.TypeInt64},
			{Name: "errors", Type: store.TypeInt64}, {Name: "services", Type: store.TypeString},
		},
	}
}

// logCounts: per trace, its log records within [lo, hi].
func (duckSQL) logCounts(ids []string, lo, hi time.Time) store.Statement {
	return store.Statement{
		SQL: "SELECT " + q("TraceId") + ", count(*) FROM " + q(otelrows.LogsTable) +
			" WHERE " + q("TraceId") + " IN (" + placeholders(len(ids)) + ") AND " + q("Timestamp") + " BETWEEN " + ts(lo) + " AND " + ts(hi) +
			" GROUP BY " + q("TraceId"),
		Args:   anySlice(ids),
		Output: []store.ResultColumn{{Name: "TraceId", Type: store.TypeString}, {Name: "logs", Type: store.TypeInt64}},
	}
}

// traceExtent: a trace's services (JSON array), first span start and last span end (ns).
func (duckSQL) traceExtent(traceID string, lo, hi time.Time, bounded bool) store.Statement {
	where := q("TraceId") + " = " + traceIDLit(traceID)
	if bounded {
		where += " AND " + q("Timestamp") + " BETWEEN " + ts(lo) + " AND " + ts(hi)
	}
	return store.Statement{
		SQL: "SELECT CAST(to_json(list_sort(list_distinct(list(" + q("ServiceName") + ")))) AS VARCHAR), min(" + q("Timestamp") + "), " +
			"max(epoch_us(" + q("Timestamp") + ") * 1000 + " + q("Duration") + ") FROM " + q(otelrows.TracesTable) + " WHERE " + where,
		Output: []store.ResultColumn{
			{Name: "services", Type: store.TypeString}, {Name: "start", Type: store.TypeTimestamp}, {Name: "endNanos", Type: store.TypeInt64},
		},
	}
}

// searchLogs: log records in [from, to) matching the filters, the most recent first.
func (d duckSQL) searchLogs(f *LogFilter, from, to time.Time) store.Statement {
	var args []any
	conds := []string{q("Timestamp") + " >= " + ts(from), q("Timestamp") + " < " + ts(to)}
	switch len(f.Services) {
	case 0:
	case 1:
		conds = append(conds, q("ServiceName")+" = ?")
		args = append(args, f.Services[0])
	default:
		conds = append(conds, q("ServiceName")+" IN ("+placeholders(len(f.Services))+")")
		args = append(args, anySlice(f.Services)...)
	}
	if f.MinSeverity > 0 {
		conds = append(conds, q("SeverityNumber")+" >= ?")
		args = append(args, int64(f.MinSeverity))
	}
	if f.BodyContains != "" {
		conds = append(conds, "contains(lower("+q("Body")+"), lower(?))")
		args = append(args, f.BodyContains)
	}
	for _, a := range f.Attributes {
		var c string
		c, args = d.attrMatch("LogAttributes", a.Key, a.Value, args)
		conds = append(conds, c)
	}
	if f.TraceID != "" {
		conds = append(conds, q("TraceId")+" = ?")
		args = append(args, f.TraceID)
	}
	return store.Statement{
		SQL: "SELECT " + selectList(logColumns) + " FROM " + q(otelrows.LogsTable) + " WHERE " + strings.Join(conds, " AND ") +
			" ORDER BY " + q("Timestamp") + " DESC LIMIT " + strconv.Itoa(f.Limit+1),
		Args:   args,
		Output: logColumns,
	}
}
