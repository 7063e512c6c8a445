package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/store"
)

// TestOTelServer writes the sample through ch-go into the exporter's tables on a real
// ClickHouse server at CLICKHOUSE_ADDR (as TestServer: skips when unset, fails when set and
// unreachable) and reads it back with the telemetry service. It creates and drops its own
// database.
func TestOTelServer(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR is not set: skipping the ClickHouse server test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{
		Addr: addr, User: os.Getenv("CLICKHOUSE_USER"), Password: os.Getenv("CLICKHOUSE_PASSWORD"),
		Database: os.Getenv("CLICKHOUSE_DATABASE"),
	})
	if err != nil {
		t.Fatalf("CLICKHOUSE_ADDR=%s is set but the server is unreachable: %v", addr, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	db := "olapgate_it_otel_" + hex.EncodeToString(suffix[:])
	defer func() {
		if err := s.pool.Do(context.Background(), ch.Query{Body: "DROP DATABASE IF EXISTS " + chsql.Ident(db)}); err != nil {
			t.Errorf("drop database: %v", err)
		}
	}()
	tables, err := s.OTelTables(OTelSchema{Database: db})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range otelrows.Datasets() {
		if err := tables.EnsureDataset(ctx, d); err != nil {
			t.Fatalf("ensure %s: %v", d.Name, err)
		}
	}
	spans, logs, metrics := otelBatches(t)
	for _, b := range []*store.Batch{spans, otelrows.TraceIDTimes(otelrows.TraceIDTsDataset(), spans), logs, metrics} {
		if wr, err := tables.Write(ctx, b); err != nil || wr.Rows != b.N {
			t.Fatalf("write %s: %+v %v", b.Dataset.Name, wr, err)
		}
	}
	count := func(table string) int64 {
		t.Helper()
		res, err := tables.Query(ctx, store.Statement{SQL: "SELECT count() FROM " + chsql.Ident(db) + "." + chsql.Ident(table),
			Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0][0].(int64)
	}
	for table, want := range map[string]int64{"otel_traces": 3, "otel_traces_trace_id_ts": 2, "otel_logs": 3, "otel_metrics_gauge": 1,
		"otel_metrics_sum": 1, "otel_metrics_histogram": 1, "otel_metrics_exponential_histogram": 1, "otel_metrics_summary": 1} {
		if n := count(table); n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	svc := telemetry.New(tables, telemetry.Config{})
	tr, err := svc.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: otelTraceA.String()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.SpanCount != 2 || tr.LogCount != 2 || tr.ErrorCount != 1 || len(tr.Spans) != 2 || len(tr.Spans[1].Events) != 1 || len(tr.Spans[1].Logs) != 1 {
		t.Errorf("trace read back: %v", tr)
	}
	window := &olapgatev1.TimeRange{Start: otelT0.Add(-time.Minute).Format(time.RFC3339Nano), End: otelT0.Add(time.Minute).Format(time.RFC3339Nano)}
	if res, err := svc.SearchTraces(ctx, &olapgatev1.SearchTracesRequest{TimeRange: window, ErrorsOnly: true}); err != nil || len(res.Traces) != 1 {
		t.Errorf("search traces: %v %v", res, err)
	}
	if res, err := svc.SearchLogs(ctx, &olapgatev1.SearchLogsRequest{TimeRange: window, BodyContains: "payment"}); err != nil || len(res.Logs) != 1 {
		t.Errorf("search logs: %v %v", res, err)
	}
}
