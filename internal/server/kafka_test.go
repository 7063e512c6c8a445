package server

import (
	"strings"
	"testing"

	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// A Kafka source of ClickHouse datasets is built over the ClickHouse backend, and its dead
// letters are a ClickHouse dataset of the gateway.
func TestPrepareKafkaClickHouse(t *testing.T) {
	ds := &dataset.Dataset{Name: "clicks", TimeColumn: "t", Backend: dataset.BackendClickHouse}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Datasets = []*dataset.Dataset{ds}
	cfg.Sources.Kafka = []kafka.Config{{Name: "ch", Brokers: []string{"127.0.0.1:9092"}, Topics: []kafka.Topic{{Topic: "clicks", Dataset: "clicks"}}}}
	s := New(cfg, nil)
	if _, err := s.prepareKafka(cfg.Datasets, map[string]store.Store{}, nil); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("no clickhouse backend: %v", err)
	}
	s.sources = nil
	got, err := s.prepareKafka(cfg.Datasets, map[string]store.Store{dataset.BackendClickHouse: &clickhouse.Store{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.sources) != 1 || len(got) != 2 || got[1].Name != "olapgate_deadletter" || got[1].Backend != dataset.BackendClickHouse {
		t.Fatalf("sources %d, datasets %v", len(s.sources), got)
	}
	// Another source's dead letters of the same name on the embedded store are refused.
	emb := &dataset.Dataset{Name: "olapgate_deadletter", TimeColumn: "t"}
	if err := emb.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.prepareKafka([]*dataset.Dataset{ds, emb}, map[string]store.Store{dataset.BackendClickHouse: &clickhouse.Store{}}, nil); err == nil || !strings.Contains(err.Error(), "deadLetter.dataset") {
		t.Fatalf("dead letters on two backends: %v", err)
	}
}
