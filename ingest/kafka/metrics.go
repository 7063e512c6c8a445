package kafka

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/pipeline"
)

// metrics are the series of every Kafka source in a process, told apart by the source label.
// The event, dead-letter and commit counters are every stream source's (pipeline.Counters).
type metrics struct {
	events      *prometheus.CounterVec // source, dataset, outcome
	deadLetters *prometheus.CounterVec // source
	commits     *prometheus.CounterVec // source, outcome
	lag         *prometheus.GaugeVec   // source, topic, partition
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c, err := pipeline.NewCounters(reg)
	if err != nil {
		return nil, err
	}
	m := &metrics{
		events: c.Events, deadLetters: c.DeadLetters, commits: c.Commits,
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "olapgate_kafka_consumer_lag",
			Help: "Records in a partition after the last one this consumer read (high watermark minus next offset), by source, topic and partition.",
		}, []string{"source", "topic", "partition"}),
	}
	if reg != nil {
		if m.lag, err = pipeline.Register(reg, m.lag); err != nil {
			return nil, err
		}
	}
	return m, nil
}
