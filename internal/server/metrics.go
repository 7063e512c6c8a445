package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/collector"
	"github.com/olapgate/olapgate/store/embedded"
)

// registerStoreMetrics exposes the embedded store's commit counters: group-commit efficiency
// (rows per commit), failures and deduplicated rows are what an operator checks first when
// ingest slows down.
func registerStoreMetrics(reg prometheus.Registerer, st *embedded.Store) {
	counter := func(name, help string, f func(embedded.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(st.Stats())) })
	}
	reg.MustRegister(
		counter("olapgate_store_commits_total", "Successful embedded-store commits (each may group many ingest requests).",
			func(s embedded.Stats) int64 { return s.Commits }),
		counter("olapgate_store_failed_commits_total", "Embedded-store commits rolled back.",
			func(s embedded.Stats) int64 { return s.FailedCommits }),
		counter("olapgate_store_rows_committed_total", "Rows stored by the embedded store.",
			func(s embedded.Stats) int64 { return s.RowsCommitted }),
		counter("olapgate_store_rows_deduplicated_total", "Rows acknowledged but not stored again because their event id was already stored.",
			func(s embedded.Stats) int64 { return s.RowsDeduplicated }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "olapgate_store_last_commit_seconds",
			Help: "Duration of the last successful embedded-store commit.",
		}, func() float64 { return st.Stats().LastCommit.Seconds() }),
	)
}

// registerCollectorMetrics exposes the collector's item counters per signal and outcome, its
// buffered bytes, its store writes and the export-duration histogram.
func registerCollectorMetrics(reg prometheus.Registerer, c *collector.Collector) {
	items := prometheus.NewDesc("olapgate_collector_items_total",
		"OTLP items (spans, log records, metric points) by signal and outcome: received, stored, rejected (partial success), refused (request answered with an error, retried by exporters).",
		[]string{"signal", "outcome"}, nil)
	reg.MustRegister(
		collectorItems{c: c, desc: items},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "olapgate_collector_buffered_bytes", Help: "Memory held by OTLP rows accepted and not yet written."},
			func() float64 { return float64(c.Stats().BufferedBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "olapgate_collector_writes_total", Help: "Store writes of OTLP rows."},
			func() float64 { return float64(c.Stats().Writes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "olapgate_collector_write_failures_total", Help: "Store writes of OTLP rows that failed (answered UNAVAILABLE)."},
			func() float64 { return float64(c.Stats().WriteFailures) }),
		c.ExportDuration(),
	)
}

type collectorItems struct {
	c    *collector.Collector
	desc *prometheus.Desc
}

func (ci collectorItems) Describe(ch chan<- *prometheus.Desc) { ch <- ci.desc }

func (ci collectorItems) Collect(ch chan<- prometheus.Metric) {
	st := ci.c.Stats()
	for _, s := range []struct {
		name string
		v    collector.SignalStats
	}{{"traces", st.Traces}, {"logs", st.Logs}, {"metrics", st.Metrics}} {
		for _, o := range []struct {
			name string
			n    int64
		}{{"received", s.v.Received}, {"stored", s.v.Stored}, {"rejected", s.v.Rejected}, {"refused", s.v.Refused}} {
			ch <- prometheus.MustNewConstMetric(ci.desc, prometheus.CounterValue, float64(o.n), s.name, o.name)
		}
	}
}
