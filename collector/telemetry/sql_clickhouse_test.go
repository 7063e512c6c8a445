package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/store"
)

// TestCHSQLEscapesClientValues: the ClickHouse statements inline values (the store takes no
// bound arguments), so every client value must arrive as an escaped literal.
func TestCHSQLEscapesClientValues(t *testing.T) {
	c := chSQL{traces: "`otel_traces`", traceIDTs: "`otel_traces_trace_id_ts`", logs: "`otel_logs`"}
	hostile := `x\'); DROP TABLE t; --`
	f := &TraceFilter{ServiceName: hostile, SpanName: "a\x00b", Attributes: []Attribute{{"k'", hostile}}, Limit: 5}
	lf := &LogFilter{Services: []string{hostile, "b"}, BodyContains: hostile, Attributes: []Attribute{{"k", hostile}}, Limit: 5}
	for _, st := range []string{
		c.matchingTraces(f, time.Unix(0, 0), time.Unix(60, 0)).SQL,
		c.searchLogs(lf, time.Unix(0, 0), time.Unix(60, 0)).SQL,
		c.tracesBounds([]string{hostile}).SQL,
		c.traceSummaries([]string{hostile}, time.Unix(0, 0), time.Unix(60, 0)).SQL,
		c.logCounts([]string{hostile}, time.Unix(0, 0), time.Unix(60, 0)).SQL,
	} {
		if lit := `'x\\\'); DROP TABLE t; --'`; !strings.Contains(st, lit) || strings.Contains(strings.ReplaceAll(st, lit, "?"), "DROP") {
			t.Errorf("client value not escaped: %s", st)
		}
	}
	st := c.matchingTraces(f, time.Unix(0, 0), time.Unix(60, 0)).SQL
	for _, want := range []string{"fromUnixTimestamp64Nano(toInt64(60000000000), 'UTC')", "LIMIT 5", `'a\x00b'`, `mapContains(SpanAttributes, 'k\'')`} {
		if !strings.Contains(st, want) {
			t.Errorf("matchingTraces lacks %s: %s", want, st)
		}
	}
	if got, want := chTime(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "fromUnixTimestamp64Nano(toInt64(9223286400000000000), 'UTC')"; got != want {
		t.Errorf("chTime(9999) = %s, want the clamp %s", got, want)
	}
	if s := New(fakeCH{}, Config{}).sql; s != (chSQL{traces: "`otel_traces`", traceIDTs: "`otel_traces_trace_id_ts`", logs: "`otel_logs`"}) {
		t.Errorf("a clickhouse store without table names: %+v", s)
	}
}

// fakeCH is a "clickhouse" store that names no tables.
type fakeCH struct{ store.Store }

func (fakeCH) Dialect() string { return "clickhouse" }
