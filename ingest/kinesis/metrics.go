package kinesis

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/pipeline"
)

// metrics are the series of every Kinesis source in a process, told apart by the source label.
// The event, dead-letter and commit counters are every stream source's (pipeline.Counters), so
// Kafka and Kinesis sources count into one series family in a shared registry.
type metrics struct {
	events       *prometheus.CounterVec // source, dataset, outcome
	deadLetters  *prometheus.CounterVec // source
	commits      *prometheus.CounterVec // source, outcome
	millisBehind *prometheus.GaugeVec   // source, stream, shard
	throttles    *prometheus.CounterVec // source, operation
	leasesHeld   *prometheus.GaugeVec   // source
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c, err := pipeline.NewCounters(reg)
	if err != nil {
		return nil, err
	}
	m := &metrics{
		events: c.Events, deadLetters: c.DeadLetters, commits: c.Commits,
		millisBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "olapgate_kinesis_millis_behind_latest",
			Help: "How far the last GetRecords of a shard was behind the tip of the stream (Kinesis's MillisBehindLatest), by source, stream and shard; removed when the shard has been read to its end.",
		}, []string{"source", "stream", "shard"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_kinesis_throttled_total",
			Help: "Kinesis calls refused for throughput or rate limits (ProvisionedThroughputExceeded, LimitExceeded, KMSThrottling) and retried after a backoff, by source and operation.",
		}, []string{"source", "operation"}),
		leasesHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "olapgate_kinesis_leases_held",
			Help: "Shard leases this instance holds and reads, by source (sources with a lease table only).",
		}, []string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	if m.millisBehind, err = pipeline.Register(reg, m.millisBehind); err != nil {
		return nil, err
	}
	if m.throttles, err = pipeline.Register(reg, m.throttles); err != nil {
		return nil, err
	}
	if m.leasesHeld, err = pipeline.Register(reg, m.leasesHeld); err != nil {
		return nil, err
	}
	return m, nil
}
