package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// prepareKafka builds the Kafka sources (sources.kafka), each over the store of its datasets'
// backend: the embedded store (rows and positions in one transaction) or ClickHouse
// (idempotent inserts, then group offsets). Their dead-letter datasets, on the same backend,
// join the gateway's datasets, which it returns.
func (s *Server) prepareKafka(datasets []*dataset.Dataset, backends map[string]store.Store, reg prometheus.Registerer) ([]*dataset.Dataset, error) {
	for _, kc := range s.cfg.Sources.Kafka {
		backend, err := kc.Backend(s.lookupDataset)
		if err != nil {
			return nil, fmt.Errorf("prepare kafka source %s: %w", kc.Name, err)
		}
		target, err := s.sourceStore(backend, backends)
		if err != nil {
			return nil, fmt.Errorf("prepare kafka source %s: %w", kc.Name, err)
		}
		src, err := kafka.New(kc, target, s.cfg.Datasets, reg, s.log)
		if err != nil {
			return nil, fmt.Errorf("prepare kafka source %s: %w", kc.Name, err)
		}
		s.sources = append(s.sources, src)
		if datasets, err = joinDeadLetters(datasets, src.DeadLetterDataset()); err != nil {
			return nil, fmt.Errorf("prepare kafka source %s: %w", kc.Name, err)
		}
	}
	return datasets, nil
}

// sourceStore is the store of a source whose datasets are on backend: the embedded store, or
// the backend's (backends).
func (s *Server) sourceStore(backend string, backends map[string]store.Store) (store.Store, error) {
	if backend == dataset.BackendEmbedded {
		return s.store, nil
	}
	st := backends[backend]
	if st == nil {
		return nil, fmt.Errorf("its datasets are on %s, which is not configured (backends.%s)", backend, backend)
	}
	return st, nil
}

// lookupDataset finds a declared dataset by name, as sources name them (case-insensitive).
func (s *Server) lookupDataset(name string) *dataset.Dataset {
	for _, d := range s.cfg.Datasets {
		if strings.EqualFold(d.Name, name) {
			return d
		}
	}
	return nil
}

// joinDeadLetters adds a stream source's dead-letter dataset to the gateway's datasets, once
// however many sources share it; sources sharing one must store it on the same backend.
func joinDeadLetters(datasets []*dataset.Dataset, dl *dataset.Dataset) ([]*dataset.Dataset, error) {
	i := slices.IndexFunc(datasets, func(d *dataset.Dataset) bool { return strings.EqualFold(d.Name, dl.Name) })
	switch {
	case i < 0:
		return append(slices.Clone(datasets), dl), nil
	case datasets[i].Backend != dl.Backend:
		return nil, fmt.Errorf("its dead letters go to %s on %s, but a dataset %s is on %s already (another source's dead letters?): set deadLetter.dataset", dl.Name, dl.Backend, datasets[i].Name, datasets[i].Backend)
	}
	return datasets, nil
}
