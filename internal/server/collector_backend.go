package server

import (
	"errors"
	"fmt"

	"github.com/olapgate/olapgate/collector"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// collectorStore is the store the collector writes and its telemetry queries read, and that
// backend's name: the embedded store, or with collector backend clickhouse the OpenTelemetry
// exporter's tables on the ClickHouse backend.
func collectorStore(cfg collector.Config, embedded store.Store, backends map[string]store.Store) (store.Store, string, error) {
	if cfg.Backend != dataset.BackendClickHouse {
		return embedded, dataset.BackendEmbedded, nil
	}
	cs, ok := backends[dataset.BackendClickHouse].(*clickhouse.Store)
	if !ok {
		return nil, "", errors.New("collector backend clickhouse: no ClickHouse backend is configured (backends.clickhouse)")
	}
	t, err := cs.OTelTables(cfg.ClickHouseSchema())
	if err != nil {
		return nil, "", fmt.Errorf("collector backend clickhouse: %w", err)
	}
	return t, dataset.BackendClickHouse, nil
}
