package server

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/kinesis"
	"github.com/olapgate/olapgate/internal/dataset"
)

// prepareKinesis builds the Kinesis sources (sources.kinesis), as the Kafka sources are
// built; their dead-letter datasets join the gateway's datasets, which it returns.
func (s *Server) prepareKinesis(datasets []*dataset.Dataset, reg prometheus.Registerer) ([]*dataset.Dataset, error) {
	for _, kc := range s.cfg.Sources.Kinesis {
		src, err := kinesis.New(kc, s.store, s.cfg.Datasets, reg, s.log)
		if err != nil {
			return nil, fmt.Errorf("prepare kinesis source %s: %w", kc.Name, err)
		}
		s.kinesisSources = append(s.kinesisSources, src)
		if datasets, err = joinDeadLetters(datasets, src.DeadLetterDataset()); err != nil {
			return nil, fmt.Errorf("prepare kinesis source %s: %w", kc.Name, err)
		}
	}
	return datasets, nil
}

// startKinesis starts the Kinesis sources once the store is ready; each resumes from its
// stored sequence numbers.
func (s *Server) startKinesis(ctx context.Context) error {
	for _, src := range s.kinesisSources {
		if err := src.Start(ctx); err != nil {
			return fmt.Errorf("start kinesis source: %w", err)
		}
	}
	return nil
}

// stopKinesis commits the Kinesis sources' last batches; the store closes after it.
func (s *Server) stopKinesis(ctx context.Context) []error {
	var errs []error
	for _, src := range s.kinesisSources {
		if err := src.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop kinesis source: %w", err))
		}
	}
	return errs
}
