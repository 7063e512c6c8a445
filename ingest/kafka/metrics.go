package kafka

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the series of every Kafka source in a process, told apart by the source label.
// The event and dead-letter counters are named for streams in general, so the Kinesis source
// can share them.
type metrics struct {
	events      *prometheus.CounterVec // source, dataset, outcome
	deadLetters *prometheus.CounterVec // source
	commits     *prometheus.CounterVec // source, outcome
	lag         *prometheus.GaugeVec   // source, topic, partition
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_events_total",
			Help: "Stream records by source, dataset and outcome, counted once committed: accepted (stored as rows) or rejected (refused by routing or validation, and dead-lettered). Dataset is _unrouted for records that could not be routed.",
		}, []string{"source", "dataset", "outcome"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_deadletters_total",
			Help: "Stream records committed to the dead-letter dataset, by source.",
		}, []string{"source"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_commits_total",
			Help: "Store commits of stream batches with their positions, by source and outcome (ok, conflict: another consumer moved a partition, error).",
		}, []string{"source", "outcome"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "olapgate_kafka_consumer_lag",
			Help: "Records in a partition after the last one this consumer read (high watermark minus next offset), by source, topic and partition.",
		}, []string{"source", "topic", "partition"}),
	}
	if reg == nil {
		return m, nil
	}
	// Several sources share one registry: the second finds the first's collectors.
	var err error
	if m.events, err = register(reg, m.events); err != nil {
		return nil, err
	}
	if m.deadLetters, err = register(reg, m.deadLetters); err != nil {
		return nil, err
	}
	if m.commits, err = register(reg, m.commits); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
