package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Metrics are the gateway's Prometheus series.
type Metrics struct {
	reg           *prometheus.Registry
	ingestEvents  *prometheus.CounterVec
	queryDuration *prometheus.HistogramVec
	coalesced     prometheus.Counter
	cacheHits     prometheus.Counter
}

// NewMetrics registers the gateway's series on reg (a fresh registry when nil) together with
// the Go runtime and process collectors.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		ingestEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "olapgate_ingest_events_total",
			Help: "Pushed events by dataset, protocol and outcome (accepted: durable in the store).",
		}, []string{"dataset", "protocol", "outcome"}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "olapgate_query_duration_seconds",
			Help:    "Aggregate query latency through the gateway by dataset and gRPC status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"dataset", "code"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "olapgate_query_coalesced_total",
			Help: "Queries answered by joining an identical query already running on the backend.",
		}),
	}
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "olapgate_query_cache_hits_total",
		Help: "Queries answered from the result cache within the client's maxStalenessMs.",
	})
	reg.MustRegister(m.ingestEvents, m.queryDuration, m.coalesced, m.cacheHits)
	return m
}

// Registry is where other components add their series.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the Prometheus exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) observeIngest(ds, protocol string, accepted, rejected int) {
	m.ingestEvents.WithLabelValues(ds, protocol, "accepted").Add(float64(accepted))
	if rejected > 0 {
		m.ingestEvents.WithLabelValues(ds, protocol, "rejected").Add(float64(rejected))
	}
}

func (m *Metrics) observeQuery(ds string, err error, d time.Duration) {
	// Unknown dataset names would make label cardinality client-controlled.
	if status.Code(err) == codes.NotFound {
		ds = "_unknown"
	}
	m.queryDuration.WithLabelValues(ds, status.Code(err).String()).Observe(d.Seconds())
}
