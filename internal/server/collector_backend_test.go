package server

import (
	"testing"

	"github.com/olapgate/olapgate/collector"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

func TestCollectorStore(t *testing.T) {
	if st, backend, err := collectorStore(collector.Config{}, nil, nil); err != nil || st != nil || backend != dataset.BackendEmbedded {
		t.Errorf("default: %v %s %v, want the embedded store", st, backend, err)
	}
	cfg := collector.Config{Backend: dataset.BackendClickHouse, ClickHouse: clickhouse.OTelSchema{Database: "telemetry"}}
	if _, _, err := collectorStore(cfg, nil, map[string]store.Store{}); err == nil {
		t.Error("backend clickhouse without a ClickHouse backend: no error")
	}
	st, backend, err := collectorStore(cfg, nil, map[string]store.Store{dataset.BackendClickHouse: &clickhouse.Store{}})
	if err != nil || backend != dataset.BackendClickHouse {
		t.Fatalf("clickhouse: %v %s", err, backend)
	}
	ot, ok := st.(*clickhouse.OTelTables)
	if !ok {
		t.Fatalf("clickhouse: store %T, want the exporter's tables", st)
	}
	if traces, _, logs := ot.TelemetryTables(); traces != "`telemetry`.`otel_traces`" || logs != "`telemetry`.`otel_logs`" {
		t.Errorf("tables %s, %s", traces, logs)
	}
}
