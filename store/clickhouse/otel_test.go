package clickhouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/chdbtest"
	"github.com/olapgate/olapgate/internal/chsql"
)

// exporterTemplate reads a reference copy of the exporter's DDL template without its header.
func exporterTemplate(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "otelexporter", name))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(l, "-- ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// exporterDDL renders the exporter's templates as it does (exporter config: database db,
// default table names, no cluster, table_engine MergeTree, ttl 72h or none): its TTL
// expressions on each table's time column, as exporter_*.go passes them to GenerateTTLExpr.
func exporterDDL(t *testing.T, db string, withTTL bool) []string {
	const engine = "MergeTree()"
	table := func(file, name, ttl string) string {
		if !withTTL {
			ttl = ""
		}
		return fmt.Sprintf(exporterTemplate(t, file), db, name, "", engine, ttl)
	}
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		table("traces_table.sql", "otel_traces", "TTL toDate(Timestamp) + toIntervalDay(3)"),
		table("traces_id_ts_lookup_table.sql", "otel_traces", "TTL toDate(Start) + toIntervalDay(3)"),
		fmt.Sprintf(exporterTemplate(t, "traces_id_ts_lookup_mv.sql"), db, "otel_traces", "", db, "otel_traces", db, "otel_traces"),
		table("logs_table.sql", "otel_logs", "TTL TimestampTime + toIntervalDay(3)"),
		table("metrics_gauge_table.sql", "otel_metrics_gauge", "TTL toDateTime(TimeUnix) + toIntervalDay(3)"),
		table("metrics_sum_table.sql", "otel_metrics_sum", "TTL toDateTime(TimeUnix) + toIntervalDay(3)"),
		table("metrics_summary_table.sql", "otel_metrics_summary", "TTL toDateTime(TimeUnix) + toIntervalDay(3)"),
		table("metrics_histogram_table.sql", "otel_metrics_histogram", "TTL toDateTime(TimeUnix) + toIntervalDay(3)"),
		table("metrics_exp_histogram_table.sql", "otel_metrics_exponential_histogram", "TTL toDateTime(TimeUnix) + toIntervalDay(3)"),
	}
}

// chdbSession starts a chdb session closed at the end of the test, and a run that fails the
// test on any statement's error.
func chdbSession(t *testing.T) (*chdbtest.Session, func(stmts ...string) []chdbtest.Result) {
	t.Helper()
	r := chdbtest.Require(t)
	sess, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sess.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	})
	run := func(stmts ...string) []chdbtest.Result {
		t.Helper()
		res, err := sess.Run(stmts...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("%s\n: %v", stmts[i], r.Err)
			}
		}
		return res
	}
	return sess, run
}

// TestOTelDDLMatchesExporter creates the exporter's DDL (reference copies of its templates)
// in one database and OTelDDL in another, on ClickHouse 26.7 (chdb), and compares every
// table's columns (name, type, position, default, codec), engine with its keys, TTL and
// settings, skip indexes, and the materialized view's query and target.
func TestOTelDDLMatchesExporter(t *testing.T) {
	_, run := chdbSession(t)
	run(exporterDDL(t, "ref", true)...)
	gen := OTelSchema{Database: "gen", TTL: 72 * time.Hour}
	if err := gen.Validate(); err != nil {
		t.Fatal(err)
	}
	ddl := gen.OTelDDL("default")
	run(ddl...)
	run(ddl...) // IF NOT EXISTS: a restart runs it again

	rows := func(q string) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, db := range []string{"ref", "gen"} {
			res := run(strings.ReplaceAll(q, "$db", chsql.String(db)))
			for _, row := range res[0].Rows {
				s := strings.ReplaceAll(fmt.Sprintf("%q", row[1:]), "`"+db+"`.", "DB.")
				s = strings.ReplaceAll(s, db+".", "DB.")
				out[db] = append(out[db], fmt.Sprint(row[0])+": "+s)
			}
		}
		return out
	}
	tables := rows("SELECT name, engine FROM system.tables WHERE database = $db ORDER BY name")
	if len(tables["ref"]) != 9 {
		t.Fatalf("the exporter's DDL made %d tables, want 9: %v", len(tables["ref"]), tables["ref"])
	}
	for _, q := range []string{
		"SELECT name, engine FROM system.tables WHERE database = $db ORDER BY name",
		"SELECT table || '.' || name, position, type, default_kind, default_expression, compression_codec FROM system.columns WHERE database = $db ORDER BY table, position",
		"SELECT name, engine_full, partition_key, sorting_key, primary_key FROM system.tables WHERE database = $db ORDER BY name",
		"SELECT name, replaceRegexpAll(as_select, '\\\\s+', ' ') FROM system.tables WHERE database = $db AND engine = 'MaterializedView' ORDER BY name",
		"SELECT table || '.' || name, type_full, expr, granularity FROM system.data_skipping_indices WHERE database = $db ORDER BY table, name",
	} {
		got := rows(q)
		if len(got["ref"]) == 0 {
			t.Errorf("%s: no rows for the exporter's tables", q)
		}
		t.Logf("%d rows equal, e.g. %s", len(got["ref"]), got["ref"][0])
		if !reflect.DeepEqual(got["ref"], got["gen"]) {
			t.Errorf("%s:\nexporter: %s\nolapgate: %s", q, strings.Join(got["ref"], "\n  "), strings.Join(got["gen"], "\n  "))
		}
	}
}

func TestOTelDDLOptions(t *testing.T) {
	s := OTelSchema{
		Database: "tele`metry", TracesTable: "spans", ClusterName: "main",
		TableEngine: OTelTableEngine{Name: "ReplicatedMergeTree", Params: "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"},
		TTL:         90 * time.Minute,
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ddl := s.OTelDDL("default")
	for _, want := range []string{
		"CREATE DATABASE IF NOT EXISTS `tele\\`metry` ON CLUSTER `main`",
		"CREATE TABLE IF NOT EXISTS `tele\\`metry`.`spans` ON CLUSTER `main` (",
		") ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')",
		"TTL toDate(Timestamp) + toIntervalMinute(90)",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS `tele\\`metry`.`spans_trace_id_ts_mv` ON CLUSTER `main`\nTO `tele\\`metry`.`spans_trace_id_ts`",
		"TTL TimestampTime + toIntervalMinute(90)",
	} {
		if !strings.Contains(strings.Join(ddl, "\n"), want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "", 48 * time.Hour: "TTL x + toIntervalDay(2)", 5 * time.Hour: "TTL x + toIntervalHour(5)", 61 * time.Second: "TTL x + toIntervalSecond(61)",
	} {
		if got := ttlClause(d, "x"); got != want {
			t.Errorf("ttlClause(%s) = %q, want %q", d, got, want)
		}
	}
	for _, bad := range []OTelSchema{
		{TableEngine: OTelTableEngine{Name: "MergeTree() ; DROP"}},
		{TableEngine: OTelTableEngine{Name: "MergeTree", Params: "x); DROP TABLE y; ("}},
		{TracesTable: "t", LogsTable: "t"},
		{TTL: -time.Hour},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

// FuzzParseAttrs: any text gives pairs or an error, never a panic.
func FuzzParseAttrs(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b","n":1.5e300,"m":{"x":[1,null]},"t":true}`, `{"a":`, `[1]`, `{"x":1e-7}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, err := parseAttrs(nil, s)
		if err == nil && strings.HasPrefix(strings.TrimSpace(s), "{") && strings.Count(s, ":") < len(kv) {
			t.Errorf("%q: %d pairs", s, len(kv))
		}
	})
}
