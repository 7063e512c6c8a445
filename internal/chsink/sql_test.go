package chsink

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/olapgate/olapgate/store/clickhouse"
)

func TestParseStatement(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want any
		code proto.Error // when an error is expected
	}{
		{sql: "INSERT INTO t (a, `b c`, x.y, `Events.Name`) VALUES", want: &insert{db: "db0", name: "t", cols: []string{"a", "b c", "x.y", "Events.Name"}}},
		{sql: "insert into table `my db`.\"t\" format Native;", want: &insert{db: "my db", name: "t"}},
		{sql: "INSERT INTO t SETTINGS async_insert=1 VALUES", want: &insert{db: "db0", name: "t"}},
		{sql: "-- comment\n/* block */ CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `c`", want: &createDatabase{name: "otel", ifNotExists: true}},
		{sql: "CREATE TABLE x.t (a UInt8, s String NULL, d DateTime DEFAULT now(), m UInt8 MATERIALIZED a + 1, e Enum8('a' = 1, 'b\\'' = 2)) ENGINE = Memory",
			want: &createTable{db: "x", name: "t", cols: []column{{name: "a", typ: "UInt8"}, {name: "s", typ: "Nullable(String)"}, {name: "d", typ: "DateTime", kind: "DEFAULT", expr: "now()"},
				{name: "m", typ: "UInt8", kind: "MATERIALIZED", expr: "a+1"}, {name: "e", typ: "Enum8('a' = 1, 'b\\'' = 2)"}}}},
		{sql: "CREATE OR REPLACE TABLE t (n Nested (a UInt8, b Map(String, Array(String)))) ENGINE = Memory",
			want: &createTable{db: "db0", name: "t", orReplace: true, cols: []column{{name: "n.a", typ: "Array(UInt8)"}, {name: "n.b", typ: "Array(Map(String, Array(String)))"}}}},
		// Every clause of a column definition, in any order, kept as DESCRIBE shows it; a
		// Nested column's CODEC applies to its fields.
		{sql: "CREATE TABLE t (ts DateTime64(9) CODEC(Delta(8), ZSTD(1)) COMMENT 'when', " +
			"t DateTime DEFAULT toDateTime(ts) COMMENT 'it''s' TTL t + toIntervalDay(3) SETTINGS (max_compress_block_size = 1), " +
			"e UInt8 EPHEMERAL, a String ALIAS lower(toString(ts)) CODEC(ZSTD(1)), " +
			"n Nested (x String, y UInt8 CODEC(LZ4)) CODEC(ZSTD(1))) ENGINE = Memory",
			want: &createTable{db: "db0", name: "t", cols: []column{
				{name: "ts", typ: "DateTime64(9)", codec: "Delta(8), ZSTD(1)", note: "when"},
				{name: "t", typ: "DateTime", kind: "DEFAULT", expr: "toDateTime(ts)", note: "it's", ttl: "t+toIntervalDay(3)"},
				{name: "e", typ: "UInt8", kind: "EPHEMERAL"},
				{name: "a", typ: "String", kind: "ALIAS", expr: "lower(toString(ts))", codec: "ZSTD(1)"},
				{name: "n.x", typ: "Array(String)", codec: "ZSTD(1)"},
				{name: "n.y", typ: "Array(UInt8)", codec: "LZ4"},
			}}},
		{sql: "CREATE TABLE t (a Boolean, b Array(BOOL), c Map(String, boolean)) ENGINE = Memory",
			want: &createTable{db: "db0", name: "t", cols: []column{{name: "a", typ: "Bool"}, {name: "b", typ: "Array(Bool)"}, {name: "c", typ: "Map(String, Bool)"}}}},
		{sql: "DESCRIBE TABLE \"default\".\"otel_logs\"", want: &describe{db: "default", name: "otel_logs"}},
		{sql: "desc x.t SETTINGS describe_compact_output = 1 FORMAT TabSeparated;", want: &describe{db: "x", name: "t"}},
		{sql: "DESC t", want: &describe{db: "db0", name: "t"}},
		{sql: "DESCRIBE (SELECT 1)", code: proto.ErrNotImplemented},
		{sql: "DESCRIBE TABLE s3('x')", code: proto.ErrNotImplemented},
		{sql: "DESCRIBE TABLE t extra", code: proto.ErrSyntaxError},
		{sql: "CREATE TABLE t (a String COMMENT x) ENGINE = Memory", code: proto.ErrSyntaxError},
		{sql: "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT 1", want: &createView{db: "db0", name: "v"}},
		{sql: "DROP TABLE IF EXISTS a.b SYNC", want: &drop{kind: "TABLE", db: "a", name: "b", ifExists: true}},
		{sql: "DROP DATABASE d", want: &drop{kind: "DATABASE", name: "d"}},
		{sql: "SELECT 1", code: proto.ErrNotImplemented},
		{sql: "INSERT INTO t VALUES (1)", code: proto.ErrNotImplemented},
		{sql: "INSERT INTO t (a + 1) VALUES", code: proto.ErrNotImplemented},
		{sql: "INSERT INTO FUNCTION s3('x') VALUES", code: proto.ErrNotImplemented},
		{sql: "INSERT INTO t (a", code: proto.ErrSyntaxError},
		{sql: "INSERT INTO t (a) VALUE", code: proto.ErrSyntaxError},
		{sql: "CREATE TABLE t AS u", code: proto.ErrNotImplemented},
		{sql: "CREATE TABLE t (a DEFAULT 1) ENGINE = Memory", code: proto.ErrNotImplemented},
		{sql: "CREATE TABLE t () ENGINE = Memory", code: proto.ErrEmptyListOfColumnsPassed},
		{sql: "CREATE TABLE 't' (a UInt8)", code: proto.ErrSyntaxError},
		{sql: "CREATE TABLE t (a String COMMENT 'x", code: proto.ErrSyntaxError},
	} {
		got, err := parseStatement(tc.sql, "db0")
		if tc.code != 0 {
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("%s: got %#v, %v; want exception %s", tc.sql, got, err, tc.code)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v, %v\nwant %#v", tc.sql, got, err, tc.want)
		}
	}
}

// TestOTelDDL: every statement of olapgate's OpenTelemetry schema parses; each table's
// columns are those its INSERT blocks carry, with types ch-go's columns do not conflict with.
func TestOTelDDL(t *testing.T) {
	s := clickhouse.OTelSchema{Database: "otel", ClusterName: "c", TableEngine: clickhouse.OTelTableEngine{Name: "ReplicatedMergeTree", Params: "'/t/{shard}', '{replica}'"}}
	cat := newCatalog()
	for _, stmt := range s.OTelDDL("default") {
		st, err := parseStatement(stmt, "default")
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		if err := cat.apply(st); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if len(cat.dbs["otel"]) != 9 { // 7 tables, the trace-id lookup table and its view
		t.Errorf("tables in otel: %d", len(cat.dbs["otel"]))
	}
	want := map[string]proto.ColumnType{
		"Timestamp": "DateTime64(9)", "ResourceAttributes": "Map(LowCardinality(String), String)",
		"Events.Attributes": "Array(Map(LowCardinality(String), String))", "Links.TraceId": "Array(String)",
	}
	traces := cat.dbs["otel"]["otel_traces"]
	for name, typ := range want {
		if i := indexOf(traces.cols, name); i < 0 || traces.cols[i].typ != typ {
			t.Errorf("otel_traces %s: %+v", name, traces.cols)
		}
	}
	logs := cat.dbs["otel"]["otel_logs"]
	if i := indexOf(logs.cols, "TimestampTime"); i < 0 || logs.cols[i].kind != "DEFAULT" {
		t.Errorf("otel_logs TimestampTime: %+v", logs.cols)
	}
}
