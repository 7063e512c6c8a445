package telemetry

import (
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/store"
)

// chSQL is the TelemetryService's SQL for the OpenTelemetry Collector ClickHouse exporter's
// tables (store/clickhouse OTelTables), the same statements as duckSQL with the same output
// columns: attribute maps and the Nested Events/Links read as the JSON text the embedded
// tables hold, times in UTC, UInt columns as Int64. Values are inlined as escaped literals
// (olapgate's ClickHouse store takes no bound arguments); time bounds are DateTime64(9)
// constants, which the tables' toDate(Timestamp) partitions and primary keys prune by.
//
// Two differences from the embedded tables: the lookup table keeps whole seconds (the
// exporter's Start and End are DateTime), so its upper bound is rounded up a second; and the
// exporter's tables have no promoted attribute columns, so attribute filters read the maps
// (an attribute matches when the map has the key with that value).
type chSQL struct {
	traces, traceIDTs, logs string // quoted, possibly database-qualified
}

// telemetryTables is a store that names the tables telemetry queries read (OTelTables).
type telemetryTables interface {
	TelemetryTables() (traces, traceIDTs, logs string)
}

func newCHSQL(st store.Store) chSQL {
	if tt, ok := st.(telemetryTables); ok {
		t, ts, l := tt.TelemetryTables()
		return chSQL{traces: t, traceIDTs: ts, logs: l}
	}
	return chSQL{traces: chsql.Ident(otelrows.TracesTable), traceIDTs: chsql.Ident(otelrows.TraceIDTsTable), logs: chsql.Ident(otelrows.LogsTable)}
}

func chStrings(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = chsql.String(s)
	}
	return strings.Join(out, ", ")
}

// DateTime64(9) spans 1900 to 2262-04-11; a time range may reach further (year 9999).
var (
	chMinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	chMaxTime = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

// chTime is a DateTime64(9, 'UTC') constant, t clamped to DateTime64(9)'s range.
func chTime(t time.Time) string {
	if t.Before(chMinTime) {
		t = chMinTime
	} else if t.After(chMaxTime) {
		t = chMaxTime
	}
	return "fromUnixTimestamp64Nano(toInt64(" + strconv.FormatInt(t.UnixNano(), 10) + "), 'UTC')"
}

// utc reads a DateTime64 column in UTC.
func utc(col string) string { return "toTimeZone(" + col + ", 'UTC')" }

var (
	chTS = utc("Timestamp")
	// chEnd is a span's end, nanoseconds since the epoch.
	chEnd = "toInt64(toUnixTimestamp64Nano(Timestamp)) + toInt64(Duration)"
	// chServices is a JSON array of the distinct services, sorted.
	chServices = "toJSONString(arraySort(groupUniqArray(toString(ServiceName))))"
)

func (c chSQL) lookupBounds(where string) store.Statement {
	return store.Statement{
		SQL:    "SELECT toDateTime64(minOrNull(Start), 9, 'UTC'), toDateTime64(maxOrNull(End) + 1, 9, 'UTC') FROM " + c.traceIDTs + " WHERE " + where,
		Output: []store.ResultColumn{{Name: "start", Type: store.TypeTimestamp}, {Name: "end", Type: store.TypeTimestamp}},
	}
}

func (c chSQL) traceBounds(traceID string) store.Statement {
	return c.lookupBounds("TraceId = " + chsql.String(traceID))
}

// chSpanSelect reads spanColumns. Events and Links become the embedded tables' JSON arrays.
var chSpanSelect = strings.Join([]string{
	chTS, "TraceId", "SpanId", "ParentSpanId", "TraceState", "toString(SpanName)", "toString(SpanKind)", "toString(ServiceName)",
	"toJSONString(ResourceAttributes)", "ScopeName", "ScopeVersion", "toJSONString(SpanAttributes)", "toInt64(Duration)",
	"toString(StatusCode)", "StatusMessage",
	"toJSONString(arrayMap((t, n, a) -> CAST(tuple(replaceOne(toString(toTimeZone(t, 'UTC')), ' ', 'T') || 'Z', toString(n), a), " +
		"'Tuple(Timestamp String, Name String, Attributes Map(String, String))'), `Events.Timestamp`, `Events.Name`, `Events.Attributes`))",
	"toJSONString(arrayMap((t, s, st, a) -> CAST(tuple(t, s, st, a), " +
		"'Tuple(TraceId String, SpanId String, TraceState String, Attributes Map(String, String))'), `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`))",
}, ", ")

func (c chSQL) traceSpans(traceID string, lo, hi time.Time, bounded bool, limit int, ordered bool) store.Statement {
	where := "TraceId = " + chsql.String(traceID)
	if bounded {
		where += " AND Timestamp BETWEEN " + chTime(lo) + " AND " + chTime(hi)
	}
	return store.Statement{
		SQL:    "SELECT " + chSpanSelect + " FROM " + c.traces + " WHERE " + where + orderBy(ordered, "Timestamp, SpanId") + " LIMIT " + strconv.Itoa(limit+1),
		Output: spanColumns,
	}
}

func (c chSQL) traceLogs(traceID string, lo, hi time.Time, limit int, ordered bool) store.Statement {
	return store.Statement{
		SQL: "SELECT " + chTS + ", SpanId, toInt64(TraceFlags), toString(SeverityText), toInt64(SeverityNumber), toString(ServiceName), Body, " +
			"toJSONString(LogAttributes), EventName FROM " + c.logs +
			" WHERE TraceId = " + chsql.String(traceID) + " AND Timestamp BETWEEN " + chTime(lo) + " AND " + chTime(hi) +
			orderBy(ordered, "Timestamp") + " LIMIT " + strconv.Itoa(limit+1),
		Output: traceLogColumns,
	}
}

func (chSQL) readSpans(res *store.Result, _ string) ([]spanRecord, error) {
	out := make([]spanRecord, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = spanRecordFromRow(row)
	}
	return out, nil
}

func (chSQL) readTraceLogs(res *store.Result) ([]traceLogRecord, error) {
	out := make([]traceLogRecord, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = traceLogRecordFromRow(row)
	}
	return out, nil
}

// bound is the instant a time bound in these statements stands for: chTime clamps.
func (chSQL) bound(t time.Time) time.Time {
	if t.Before(chMinTime) {
		return chMinTime
	} else if t.After(chMaxTime) {
		return chMaxTime
	}
	return t
}

// attrMatch: the item's map, else the resource's, has the key with the value.
func (chSQL) attrMatch(itemCol, key, value string) string {
	k, v := chsql.String(key), chsql.String(value)
	return "((mapContains(" + itemCol + ", " + k + ") AND " + itemCol + "[" + k + "] = " + v + ") OR " +
		"(mapContains(ResourceAttributes, " + k + ") AND ResourceAttributes[" + k + "] = " + v + "))"
}

func (c chSQL) matchingTraces(f *TraceFilter, from, to time.Time) store.Statement {
	conds := []string{"Timestamp >= " + chTime(from), "Timestamp < " + chTime(to), "TraceId != ''"}
	if f.ServiceName != "" {
		conds = append(conds, "ServiceName = "+chsql.String(f.ServiceName))
	}
	if f.SpanName != "" {
		conds = append(conds, "SpanName = "+chsql.String(f.SpanName))
	}
	if f.MinDuration > 0 {
		conds = append(conds, "Duration >= "+strconv.FormatInt(int64(f.MinDuration), 10))
	}
	if f.MaxDuration > 0 {
		conds = append(conds, "Duration <= "+strconv.FormatInt(int64(f.MaxDuration), 10))
	}
	if f.ErrorsOnly {
		conds = append(conds, "StatusCode = 'Error'")
	}
	for _, a := range f.Attributes {
		conds = append(conds, c.attrMatch("SpanAttributes", a.Key, a.Value))
	}
	return store.Statement{
		SQL: "SELECT TraceId, " + utc("min(Timestamp)") + " AS first FROM " + c.traces + " WHERE " + strings.Join(conds, " AND ") +
			" GROUP BY TraceId ORDER BY first DESC, TraceId LIMIT " + strconv.Itoa(f.Limit),
		Output: []store.ResultColumn{{Name: "TraceId", Type: store.TypeString}, {Name: "first", Type: store.TypeTimestamp}},
	}
}

func (c chSQL) tracesBounds(ids []string) store.Statement {
	return c.lookupBounds("TraceId IN (" + chStrings(ids) + ")")
}

func (c chSQL) traceSummaries(ids []string, lo, hi time.Time) store.Statement {
	root := func(col string) string {
		return "if(countIf(ParentSpanId = '') > 0, argMinIf(toString(" + col + "), Timestamp, ParentSpanId = ''), argMin(toString(" + col + "), Timestamp))"
	}
	return store.Statement{
		SQL: "SELECT TraceId, " + root("ServiceName") + ", " + root("SpanName") + ", " + utc("min(Timestamp)") + ", max(" + chEnd + "), " +
			"toInt64(count()), toInt64(countIf(StatusCode = 'Error')), " + chServices + " FROM " + c.traces +
			" WHERE TraceId IN (" + chStrings(ids) + ") AND Timestamp BETWEEN " + chTime(lo) + " AND " + chTime(hi) + " GROUP BY TraceId",
		Output: []store.ResultColumn{
			{Name: "TraceId", Type: store.TypeString}, {Name: "rootService", Type: store.TypeString},
			{Name: "rootName", Type: store.TypeString}, {Name: "start", Type: store.TypeTimestamp},
			{Name: "endNanos", Type: store.TypeInt64}, {Name: "spans", Type: store.TypeInt64},
			{Name: "errors", Type: store.TypeInt64}, {Name: "services", Type: store.TypeString},
		},
	}
}

func (c chSQL) logCounts(ids []string, lo, hi time.Time) store.Statement {
	return store.Statement{
		SQL: "SELECT TraceId, toInt64(count()) FROM " + c.logs + " WHERE TraceId IN (" + chStrings(ids) + ") AND Timestamp BETWEEN " +
			chTime(lo) + " AND " + chTime(hi) + " GROUP BY TraceId",
		Output: []store.ResultColumn{{Name: "TraceId", Type: store.TypeString}, {Name: "logs", Type: store.TypeInt64}},
	}
}

func (c chSQL) traceExtent(traceID string, lo, hi time.Time, bounded bool) store.Statement {
	where := "TraceId = " + chsql.String(traceID)
	if bounded {
		where += " AND Timestamp BETWEEN " + chTime(lo) + " AND " + chTime(hi)
	}
	return store.Statement{
		SQL: "SELECT " + chServices + ", " + utc("minOrNull(Timestamp)") + ", maxOrNull(" + chEnd + ") FROM " + c.traces + " WHERE " + where,
		Output: []store.ResultColumn{
			{Name: "services", Type: store.TypeString}, {Name: "start", Type: store.TypeTimestamp}, {Name: "endNanos", Type: store.TypeInt64},
		},
	}
}

func (c chSQL) searchLogs(f *LogFilter, from, to time.Time) store.Statement {
	conds := []string{"Timestamp >= " + chTime(from), "Timestamp < " + chTime(to)}
	switch len(f.Services) {
	case 0:
	case 1:
		conds = append(conds, "ServiceName = "+chsql.String(f.Services[0]))
	default:
		conds = append(conds, "ServiceName IN ("+chStrings(f.Services)+")")
	}
	if f.MinSeverity > 0 {
		conds = append(conds, "SeverityNumber >= "+strconv.Itoa(f.MinSeverity))
	}
	if f.BodyContains != "" {
		conds = append(conds, "positionCaseInsensitiveUTF8(Body, "+chsql.String(f.BodyContains)+") > 0")
	}
	for _, a := range f.Attributes {
		conds = append(conds, c.attrMatch("LogAttributes", a.Key, a.Value))
	}
	if f.TraceID != "" {
		conds = append(conds, "TraceId = "+chsql.String(f.TraceID))
	}
	return store.Statement{
		SQL: "SELECT " + chTS + ", TraceId, SpanId, toInt64(TraceFlags), toString(SeverityText), toInt64(SeverityNumber), toString(ServiceName), " +
			"Body, ScopeName, toString(ScopeVersion), toJSONString(LogAttributes), toJSONString(ResourceAttributes), EventName FROM " + c.logs +
			" WHERE " + strings.Join(conds, " AND ") + " ORDER BY Timestamp DESC LIMIT " + strconv.Itoa(f.Limit+1),
		Output: logColumns,
	}
}
