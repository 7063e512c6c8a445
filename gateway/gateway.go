// Package gateway serves olapgate's gRPC services and HTTP API over the stores.
package gateway

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// TenantHeader and TenantMetadata carry the tenant until authentication exists (DESIGN §4).
const (
	TenantHeader   = "X-Olapgate-Tenant"
	TenantMetadata = "x-olapgate-tenant"
)

// Config bounds what clients may ask.
type Config struct {
	// MaxBodyBytes bounds an ingest request body (HTTP) or message (gRPC). Default 16 MiB.
	MaxBodyBytes int64
	// MaxEvents bounds the events in one ingest request or stream message. Default 10,000.
	MaxEvents int
	// Query limits: default and maximum LIMIT.
	Query query.Limits
	// DefaultTimeout applies when a query sets no timeoutMs; MaxTimeout caps timeoutMs.
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	// DefaultMaxStaleness is how old a cached result may be when a query sets no
	// maxStalenessMs. Zero (the default) serves from the cache only when the client asks.
	DefaultMaxStaleness time.Duration
	// IngestInflightBytes bounds the bytes of ingest requests in flight (decoding and
	// committing) across all clients; over it, requests wait up to IngestWait and are then
	// refused with RESOURCE_EXHAUSTED / 429. Default 256 MiB and 1s.
	IngestInflightBytes int64
	IngestWait          time.Duration
	// CacheMaxBytes bounds the result cache; default 256 MiB, negative disables it. Bucket
	// reuse (extent.go) has a quarter of it besides.
	CacheMaxBytes int64
	// Lateness is how late data may arrive: buckets that ended longer ago than this when
	// computed are final and reused by later queries of the same shape (sliding dashboard
	// ranges). Default 5m; negative disables bucket reuse.
	Lateness time.Duration
	// ExtentMaxAge bounds how long final buckets are reused before a full recomputation
	// (and so how long data later than Lateness stays unseen). Default 1h.
	ExtentMaxAge time.Duration
	// TelemetryMaxStaleness is how long a trace or log search answer is reused for identical
	// requests (telemetry requests carry no freshness option). Default 1s; negative: never.
	TelemetryMaxStaleness time.Duration
}

func (c *Config) applyDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 10000
	}
	if c.Query.DefaultLimit <= 0 {
		c.Query.DefaultLimit = 1000
	}
	if c.Query.MaxLimit <= 0 {
		c.Query.MaxLimit = 100000
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = 30 * time.Second
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 5 * time.Minute
	}
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = 256 << 20
	}
	if c.IngestInflightBytes <= 0 {
		c.IngestInflightBytes = 256 << 20
	}
	if c.IngestWait <= 0 {
		c.IngestWait = time.Second
	}
	if c.Lateness == 0 {
		c.Lateness = 5 * time.Minute
	}
	if c.ExtentMaxAge <= 0 {
		c.ExtentMaxAge = time.Hour
	}
	if c.TelemetryMaxStaleness == 0 {
		c.TelemetryMaxStaleness = time.Second
	}
}

// Gateway implements QueryService and IngestService over one store; the HTTP handler in
// http.go serves the same operations.
type Gateway struct {
	olapgatev1.UnimplementedQueryServiceServer
	olapgatev1.UnimplementedIngestServiceServer

	cfg      Config
	stores   map[string]store.Store // by backend name (dataset.Backend*)
	sinks    map[string]StreamSink  // by lower-case dataset name: writes go there instead
	queryLog *QueryLog
	datasets map[string]*dataset.Dataset // by lower-case name
	names    []string                    // sorted, for listings and error messages
	metrics  *Metrics
	inflight coalescer[*store.Result]
	cache    *resultCache
	extents  *extentCache // nil: no bucket reuse
	// admission admits backend executions (nil: everything runs at once).
	admission *admission.Controller
	parsed    parseCache
	ingestMem *ingestBudget
	telemetry olapgatev1.TelemetryServiceServer
	tracer    trace.Tracer
	now       func() time.Time
	ready     atomic.Bool
}

// New returns a gateway serving ds, with st as the embedded backend (add others with
// AddBackend before serving). Metrics may be nil.
func New(cfg Config, st store.Store, ds []*dataset.Dataset, m *Metrics) *Gateway {
	cfg.applyDefaults()
	g := &Gateway{cfg: cfg, stores: map[string]store.Store{dataset.BackendEmbedded: st}, datasets: map[string]*dataset.Dataset{}, metrics: m, tracer: noopTracer, now: time.Now}
	g.ingestMem = newIngestBudget(cfg.IngestInflightBytes, cfg.IngestWait)
	if cfg.CacheMaxBytes > 0 {
		g.cache = newResultCache(cfg.CacheMaxBytes)
		if cfg.Lateness > 0 {
			g.extents = newExtentCache(cfg.CacheMaxBytes / 4)
		}
	}
	if g.metrics == nil {
		g.metrics = NewMetrics(nil)
	}
	for _, d := range ds {
		g.datasets[strings.ToLower(d.Name)] = d
		g.names = append(g.names, d.Name)
	}
	sort.Strings(g.names)
	return g
}

// AddBackend serves the datasets whose backend is name from st. Call it before serving.
func (g *Gateway) AddBackend(name string, st store.Store) { g.stores[name] = st }

// SetTelemetry serves the collector's TelemetryService over HTTP too (GET /v1/traces/{id},
// POST /v1/traces:search, POST /v1/logs:search). Call it before Handler.
// Requests then go through the result cache, coalescing and the admission limits of backend
// (the store the collector writes to); serve TelemetryServer over gRPC for the same.
func (g *Gateway) SetTelemetry(t olapgatev1.TelemetryServiceServer, backend string) {
	g.telemetry = &telemetryGuard{g: g, inner: t, backend: backend}
}

// TelemetryServer is the guarded TelemetryService set by SetTelemetry (nil before).
func (g *Gateway) TelemetryServer() olapgatev1.TelemetryServiceServer { return g.telemetry }

// SetAdmission puts admission control in front of the backends. Call it before serving.
func (g *Gateway) SetAdmission(c *admission.Controller) { g.admission = c }

// SetQueryLog records every query into l (nil: no query log). Call it before serving.
func (g *Gateway) SetQueryLog(l *QueryLog) { g.queryLog = l }

// storeFor is the backend holding dataset d.
func (g *Gateway) storeFor(d *dataset.Dataset) (store.Store, error) {
	st, ok := g.stores[d.Backend]
	if !ok || st == nil {
		return nil, status.Errorf(codes.Unavailable, "dataset %s: backend %s is not configured on this server", d.Name, d.Backend)
	}
	return st, nil
}

// SetReady flips /readyz and the gRPC health status; the server calls it once stores are open.
func (g *Gateway) SetReady(ready bool) { g.ready.Store(ready) }

// Ready reports readiness.
func (g *Gateway) Ready() bool { return g.ready.Load() }

func (g *Gateway) dataset(name string) (*dataset.Dataset, error) {
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "dataset: required")
	}
	d, ok := g.datasets[strings.ToLower(name)]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "dataset %q not found (datasets: %s)", name, strings.Join(g.names, ", "))
	}
	return d, nil
}

// tenantFrom reads the tenant from gRPC metadata (grpc-gateway forwards the HTTP header there).
func tenantFrom(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	if v := md.Get(TenantMetadata); len(v) > 0 {
		return v[0]
	}
	return ""
}

// ListDatasets implements QueryService.
func (g *Gateway) ListDatasets(ctx context.Context, _ *olapgatev1.ListDatasetsRequest) (*olapgatev1.ListDatasetsResponse, error) {
	out := &olapgatev1.ListDatasetsResponse{}
	for _, n := range g.names {
		out.Datasets = append(out.Datasets, datasetProto(g.datasets[strings.ToLower(n)]))
	}
	return out, nil
}

// GetDataset implements QueryService.
func (g *Gateway) GetDataset(ctx context.Context, req *olapgatev1.GetDatasetRequest) (*olapgatev1.GetDatasetResponse, error) {
	d, err := g.dataset(req.GetDataset())
	if err != nil {
		return nil, err
	}
	return &olapgatev1.GetDatasetResponse{Dataset: datasetProto(d)}, nil
}

func datasetProto(d *dataset.Dataset) *olapgatev1.Dataset {
	p := &olapgatev1.Dataset{
		Name: d.Name, TimeColumn: d.TimeColumn, EventId: d.EventID, TenantColumn: d.TenantColumn,
		PrimaryKey: d.PrimaryKey, Backend: d.Backend,
	}
	// Report the stored columns, implicit eventId/tenant columns included, so clients see
	// every field they can filter and group on.
	for _, c := range d.Columns() {
		f := &olapgatev1.Field{Name: c.Name, Type: string(c.Type)}
		switch c.Role {
		case dataset.RoleDimension:
			p.Dimensions = append(p.Dimensions, f)
		case dataset.RoleMetric:
			p.Metrics = append(p.Metrics, f)
		}
	}
	return p
}
