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
			want: &createTable{db: "x", name: "t", cols: []column{{"a", "UInt8", ""}, {"s", "Nullable(String)", ""}, {"d", "DateTime", "DEFAULT"}, {"m", "UInt8", "MATERIALIZED"}, {"e", "Enum8('a' = 1, 'b\\'' = 2)", ""}}}},
		{sql: "CREATE OR REPLACE TABLE t (n Nested (a UInt8, b Map(String, Array(String)))) ENGINE = Memory",
			want: &createTable{db: "db0", name: "t", orReplace: true, cols: []column{{"n.a", "Array(UInt8)", ""}, {"n.b", "Array(Map(String, Array(String)))", ""}}}},
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
