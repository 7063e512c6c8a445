package server

import (
	"github.com/prometheus/client_golang/prometheus"

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
