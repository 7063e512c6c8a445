package server

import (
	"strings"
	"testing"

	"github.com/olapgate/olapgate/ingest/kinesis"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// A Kinesis source of ClickHouse datasets is built over the ClickHouse backend, with its
// checkpoints in a lease table (or the embedded store), and its dead letters are a ClickHouse
// dataset of the gateway.
func TestPrepareKinesisClickHouse(t *testing.T) {
	ds := &dataset.Dataset{Name: "clicks", TimeColumn: "t", Backend: dataset.BackendClickHouse}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Datasets = []*dataset.Dataset{ds}
	cfg.Sources.Kinesis = []kinesis.Config{{Name: "ch", Stream: "clicks", Region: "us-east-1", Dataset: "clicks",
		Leases: &kinesis.LeaseConfig{Table: "ch_leases"}}}
	s := New(cfg, nil)
	if _, err := s.prepareKinesis(cfg.Datasets, map[string]store.Store{}, nil); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("no clickhouse backend: %v", err)
	}
	got, err := s.prepareKinesis(cfg.Datasets, map[string]store.Store{dataset.BackendClickHouse: &clickhouse.Store{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.kinesisSources) != 1 || len(got) != 2 || got[1].Name != "olapgate_deadletter" || got[1].Backend != dataset.BackendClickHouse {
		t.Fatalf("sources %d, datasets %v", len(s.kinesisSources), got)
	}
	// Without leases the checkpoints go to the embedded store, which this server has not
	// opened.
	s.kinesisSources = nil
	cfg.Sources.Kinesis[0].Leases = nil
	if _, err := s.prepareKinesis(cfg.Datasets, map[string]store.Store{dataset.BackendClickHouse: &clickhouse.Store{}}, nil); err == nil || !strings.Contains(err.Error(), "checkpoints") {
		t.Fatalf("no place for checkpoints: %v", err)
	}
}
