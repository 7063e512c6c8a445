package kinesis

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the series of every Kinesis source in a process, told apart by the source label.
// The event, dead-letter and commit counters are the Kafka source's (ingest/kafka): same
// names, help and labels, so both kinds of source count into one series family in a shared
// registry (TestMetricsShareKafkaSeries checks that they still match).
type metrics struct {
	events       *prometheus.CounterVec // source, dataset, outcome
	deadLetters  *prometheus.CounterVec // source
	commits      *prometheus.CounterVec // source, outcome
	millisBehind *prometheus.GaugeVec   // source, stream, shard
	throttles    *prometheus.CounterVec // source, operation
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
		millisBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "olapgate_kinesis_millis_behind_latest",
			Help: "How far the last GetRecords of a shard was behind the tip of the stream (Kinesis's MillisBehindLatest), by source, stream and shard; removed when the shard has been read to its end.",
		}, []string{"source", "stream", "shard"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_kinesis_throttled_total",
			Help: "Kinesis calls refused for throughput or rate limits (ProvisionedThroughputExceeded, LimitExceeded, KMSThrottling) and retried after a backoff, by source and operation.",
		}, []string{"source", "operation"}),
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
	if m.millisBehind, err = register(reg, m.millisBehind); err != nil {
		return nil, err
	}
	if m.throttles, err = register(reg, m.throttles); err != nil {
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
