package pipeline

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters are the series every stream source (Kafka, Kinesis) counts into, told apart by the
// source label: one family per meaning, whatever the kind of source.
type Counters struct {
	Events      *prometheus.CounterVec // source, dataset, outcome
	DeadLetters *prometheus.CounterVec // source
	Commits     *prometheus.CounterVec // source, outcome
}

// NewCounters makes the counters, registered with reg when it is not nil; sources sharing
// a registry share the series (the second finds the first's collectors).
func NewCounters(reg prometheus.Registerer) (*Counters, error) {
	c := &Counters{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_events_total",
			Help: "Stream records by source, dataset and outcome, counted once committed: accepted (stored as rows) or rejected (refused by routing or validation, and dead-lettered). Dataset is _unrouted for records that could not be routed.",
		}, []string{"source", "dataset", "outcome"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_deadletters_total",
			Help: "Stream records committed to the dead-letter dataset, by source.",
		}, []string{"source"}),
		Commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_stream_commits_total",
			Help: "Store commits of stream batches with their positions, by source and outcome (ok, conflict: another consumer moved a partition, error).",
		}, []string{"source", "outcome"}),
	}
	if reg == nil {
		return c, nil
	}
	var err error
	if c.Events, err = Register(reg, c.Events); err != nil {
		return nil, err
	}
	if c.DeadLetters, err = Register(reg, c.DeadLetters); err != nil {
		return nil, err
	}
	if c.Commits, err = Register(reg, c.Commits); err != nil {
		return nil, err
	}
	return c, nil
}

// Register registers c with reg, or returns the collector already registered under its
// description (several sources of one kind share a registry).
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
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
