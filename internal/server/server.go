// Package server runs olapgate's serve role: stores, gateway, gRPC and HTTP listeners, and an
// orderly shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/collector"
	"github.com/olapgate/olapgate/gateway"
	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/ingest/kinesis"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/cors"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/selftrace"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
	"github.com/olapgate/olapgate/store/embedded"
	"github.com/olapgate/olapgate/store/pinot"
	"github.com/olapgate/olapgate/store/synthetic"
)

// Server is one olapgate process's serving side.
type Server struct {
	cfg *config.Config
	log *slog.Logger

	httpLn, grpcLn net.Listener
	httpSrv        *http.Server
	grpcSrv        *grpc.Server
	health         *health.Server
	store          *embedded.Store
	gw             *gateway.Gateway
	queryLog       *gateway.QueryLog
	collector      *collector.Collector
	selfTrace      *selftrace.Tracing
	sources        []*kafka.Source
	kinesisSources []*kinesis.Source
	pinotSinks     []pinotSink
	httpHandler    http.Handler
	admission      *admission.Controller
	backends       []store.Store // scale-out stores besides the embedded one
	handler        atomic.Pointer[http.Handler]

	serveErr     chan error
	shutdownOnce sync.Once
	shutdownErr  error
}

// New prepares a server; Start opens it.
func New(cfg *config.Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, log: log, serveErr: make(chan error, 2)}
}

// HTTPAddr and GRPCAddr are the bound addresses (useful with port 0); valid after Start.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Store is the open store (benchmarks compare the gateway with it); valid after Start.
func (s *Server) Store() store.Store { return s.store }

// GRPCAddr is the bound gRPC address; valid after Start.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// Start binds the listeners, answers /healthz at once and /readyz with 503 until the store is
// open, then opens the store and starts serving.
func (s *Server) Start(ctx context.Context) error {
	var err error
	if s.httpLn, err = net.Listen("tcp", s.cfg.Server.HTTPAddr); err != nil {
		return fmt.Errorf("listen http on %s: %w", s.cfg.Server.HTTPAddr, err)
	}
	if s.grpcLn, err = net.Listen("tcp", s.cfg.Server.GRPCAddr); err != nil {
		_ = s.httpLn.Close()
		return fmt.Errorf("listen grpc on %s: %w", s.cfg.Server.GRPCAddr, err)
	}
	starting := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		http.Error(w, "starting: the store is opening", http.StatusServiceUnavailable)
	}))
	s.handler.Store(&starting)
	s.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- fmt.Errorf("serve http: %w", err)
		}
	}()

	if err := s.open(ctx); err != nil {
		s.closeListeners()
		for _, src := range s.sources {
			_ = src.Shutdown(context.WithoutCancel(ctx))
		}
		_ = s.stopKinesis(context.WithoutCancel(ctx))
		_ = s.selfTrace.Shutdown(context.WithoutCancel(ctx))
		if s.collector != nil {
			_ = s.collector.Shutdown(context.WithoutCancel(ctx))
		}
		if s.admission != nil {
			s.admission.Shutdown()
		}
		_ = s.queryLog.Shutdown(context.WithoutCancel(ctx))
		s.closePinotSinks()
		s.closeBackends()
		if s.store != nil {
			_ = s.store.Close()
		}
		return err
	}
	h := s.httpHandler
	s.handler.Store(&h)
	s.gw.SetReady(true)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	services := []string{olapgatev1.QueryService_ServiceDesc.ServiceName, olapgatev1.IngestService_ServiceDesc.ServiceName}
	if s.collector != nil {
		services = append(services, olapgatev1.TelemetryService_ServiceDesc.ServiceName)
	}
	for _, svc := range services {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
	s.log.Info("serving", "http", s.HTTPAddr(), "grpc", s.GRPCAddr())
	return nil
}

// seedCostClasses gives admission control each query shape's cost (its fastest execution in
// the last hour) from the query log, so cost classes hold across restarts. Best effort: a failure only means shapes
// start in the medium class.
func (s *Server) seedCostClasses(ctx context.Context, logDataset *dataset.Dataset) {
	pb := &olapgatev1.Query{Dataset: logDataset.Name, TimeRange: &olapgatev1.TimeRange{Start: "now-1h"},
		GroupBy: []string{"shape"}, Metrics: []*olapgatev1.Metric{{Agg: "MIN", Field: "exec_ms"}},
		Filter: &olapgatev1.Filter{Kind: &olapgatev1.Filter_And{And: &olapgatev1.FilterList{Filters: []*olapgatev1.Filter{
			{Kind: &olapgatev1.Filter_Cmp{Cmp: &olapgatev1.Comparison{Field: "code", Op: "EQ", Values: []*structpb.Value{structpb.NewStringValue("OK")}}}},
			{Kind: &olapgatev1.Filter_Cmp{Cmp: &olapgatev1.Comparison{Field: "cache_hit", Op: "EQ", Values: []*structpb.Value{structpb.NewBoolValue(false)}}}},
		}}}},
		Limit: 100000}
	q, err := query.FromProto(pb, logDataset, query.Options{})
	if err == nil {
		var p *planner.Plan
		if p, err = planner.New(q, s.store.Dialect()); err == nil {
			var res *store.Result
			if res, err = p.Execute(ctx, s.store); err == nil {
				for _, row := range res.Rows {
					if shape, ok := row[0].(string); ok && row[1] != nil {
						s.admission.Observe(shape, time.Duration(row[1].(float64)*float64(time.Millisecond)))
					}
				}
				s.log.Info("admission cost classes seeded from the query log", "shapes", len(res.Rows))
				return
			}
		}
	}
	s.log.Warn("seed admission cost classes from the query log", "err", err)
}

// closeBackends closes the scale-out stores (they hold connections, not data).
func (s *Server) closeBackends() {
	for _, b := range s.backends {
		if err := b.Close(); err != nil {
			s.log.Warn("close backend", "dialect", b.Dialect(), "err", err)
		}
	}
	s.backends = nil
}

// open opens the stores and the components over them, up to a serving gRPC server and the HTTP
// handler (s.httpHandler). On error the caller closes whatever was opened.
func (s *Server) open(ctx context.Context) error {
	var err error
	openStart := time.Now()
	s.store, err = embedded.Open(ctx, embedded.Config{
		Dir:         s.cfg.Server.DataDir,
		MemoryLimit: s.cfg.Embedded.MemoryLimit,
		Threads:     s.cfg.Embedded.Threads,
		DedupWindow: s.cfg.Embedded.DedupWindow,
	})
	if err != nil {
		return fmt.Errorf("open embedded store: %w", err)
	}
	backends := map[string]store.Store{dataset.BackendEmbedded: s.store}
	if pc := s.cfg.Backends.Pinot; pc != nil {
		ps, err := pinot.Open(ctx, *pc)
		if err != nil {
			return fmt.Errorf("open pinot backend: %w", err)
		}
		backends[dataset.BackendPinot] = ps
		s.backends = append(s.backends, ps)
	}
	if sc := s.cfg.Backends.Synthetic; sc != nil {
		ss, err := synthetic.Open(*sc)
		if err != nil {
			return err
		}
		backends[dataset.BackendSynthetic] = ss
		s.backends = append(s.backends, ss)
	}
	if cc := s.cfg.Backends.ClickHouse; cc != nil {
		cs, err := clickhouse.Open(ctx, *cc)
		if err != nil {
			return fmt.Errorf("open clickhouse backend: %w", err)
		}
		backends[dataset.BackendClickHouse] = cs
		s.backends = append(s.backends, cs)
	}
	for _, d := range s.cfg.Datasets {
		if err := backends[d.Backend].EnsureDataset(ctx, d); err != nil {
			return fmt.Errorf("prepare dataset %s on %s: %w", d.Name, d.Backend, err)
		}
	}
	s.log.Info("store open", "dataDir", s.cfg.Server.DataDir, "datasets", len(s.cfg.Datasets), "took", time.Since(openStart).Round(time.Millisecond))

	metrics := gateway.NewMetrics(nil)
	datasets := s.cfg.Datasets
	var logDataset *dataset.Dataset
	if !s.cfg.Query.Log.Disabled {
		if logDataset, err = gateway.QueryLogDataset(s.cfg.Query.Log.Dataset); err == nil {
			err = s.store.EnsureDataset(ctx, logDataset)
		}
		if err != nil {
			return fmt.Errorf("prepare query log: %w", err)
		}
		datasets = append(slices.Clone(datasets), logDataset)
	}
	telemetryBackend := dataset.BackendEmbedded
	if !s.cfg.Collector.Disabled {
		var colStore store.Store
		if colStore, telemetryBackend, err = collectorStore(s.cfg.Collector.Config, s.store, backends); err != nil {
			return err
		}
		col, err := collector.New(s.cfg.Collector.Config, colStore, s.log)
		if err != nil {
			return fmt.Errorf("prepare collector: %w", err)
		}
		s.collector = col
		if telemetryBackend == dataset.BackendEmbedded { // the exporter's ClickHouse tables are not datasets
			datasets = append(slices.Clone(datasets), col.Datasets()...)
		}
	}
	if datasets, err = s.prepareKafka(datasets, backends, metrics.Registry()); err != nil {
		return err
	}
	if datasets, err = s.prepareKinesis(datasets, backends, metrics.Registry()); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, d := range datasets {
		if seen[strings.ToLower(d.Name)] {
			return fmt.Errorf("dataset %s is declared twice (the query log and the collector's otel_* tables are datasets too)", d.Name)
		}
		seen[strings.ToLower(d.Name)] = true
	}

	registerStoreMetrics(metrics.Registry(), s.store)
	s.gw = gateway.New(gateway.Config{
		MaxBodyBytes:          s.cfg.Ingest.MaxBodyBytes,
		MaxEvents:             s.cfg.Ingest.MaxEvents,
		IngestInflightBytes:   s.cfg.Ingest.MaxInflightBytes,
		Query:                 query.Limits{DefaultLimit: s.cfg.Query.DefaultLimit, MaxLimit: s.cfg.Query.MaxLimit},
		DefaultTimeout:        s.cfg.Query.DefaultTimeout,
		MaxTimeout:            s.cfg.Query.MaxTimeout,
		DefaultMaxStaleness:   s.cfg.Query.DefaultMaxStaleness,
		CacheMaxBytes:         s.cfg.Query.CacheMaxBytes,
		Lateness:              s.cfg.Query.LatenessWindow,
		ExtentMaxAge:          s.cfg.Query.ExtentMaxAge,
		TelemetryMaxStaleness: s.cfg.Query.TelemetryMaxStaleness,
	}, s.store, datasets, metrics)
	for name, st := range backends {
		if name != dataset.BackendEmbedded {
			s.gw.AddBackend(name, st)
		}
	}
	if err := s.openPinotSinks(); err != nil {
		return err
	}
	if !s.cfg.Admission.Disabled {
		s.admission = admission.New(s.cfg.AdmissionConfig(), metrics.Registry())
		s.gw.SetAdmission(s.admission)
		if logDataset != nil {
			s.seedCostClasses(ctx, logDataset)
		}
	}
	if logDataset != nil {
		s.queryLog = gateway.NewQueryLog(gateway.QueryLogConfig{}, s.store, logDataset, metrics, s.log)
		s.gw.SetQueryLog(s.queryLog)
	}
	if s.collector != nil {
		// The collector creates its tables and binds the OTLP listeners here; its spans, logs
		// and metrics are datasets of the gateway like any other.
		if err := s.collector.Start(ctx); err != nil {
			return fmt.Errorf("start collector: %w", err)
		}
		// Telemetry queries read the collector's store, behind its cache and admission limits.
		s.gw.SetTelemetry(s.collector.TelemetryServer(), telemetryBackend)
		if s.selfTrace, err = selftrace.New(s.cfg.Collector.SelfTracing, buildVersion(), s.collector.ConsumeTraces); err != nil {
			return err
		}
		s.gw.SetTracer(s.selfTrace.Tracer())
		registerCollectorMetrics(metrics.Registry(), s.collector)
		go func() {
			if err, ok := <-s.collector.Err(); ok && err != nil {
				s.serveErr <- err
			}
		}()
	}
	for _, src := range s.sources {
		// Consuming starts once the store is ready; each source seeks to its stored positions.
		if err := src.Start(ctx); err != nil {
			return fmt.Errorf("start kafka source: %w", err)
		}
	}
	if err := s.startKinesis(ctx); err != nil {
		return err
	}
	h, err := s.gw.Handler(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	s.httpHandler = cors.Handler(s.cfg.Server.CORS, h)

	// gRPC messages carry ingest batches: allow the configured body size plus framing.
	s.grpcSrv = grpc.NewServer(
		grpc.MaxRecvMsgSize(int(s.cfg.Ingest.MaxBodyBytes)+64<<10),
		grpc.ChainUnaryInterceptor(recoverUnary(s.log)),
		grpc.ChainStreamInterceptor(recoverStream(s.log)),
	)
	olapgatev1.RegisterQueryServiceServer(s.grpcSrv, s.gw)
	olapgatev1.RegisterIngestServiceServer(s.grpcSrv, s.gw)
	if s.collector != nil {
		olapgatev1.RegisterTelemetryServiceServer(s.grpcSrv, s.gw.TelemetryServer())
	}
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpcSrv, s.health)
	reflection.Register(s.grpcSrv)
	go func() {
		if err := s.grpcSrv.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.serveErr <- fmt.Errorf("serve grpc: %w", err)
		}
	}()

	return nil
}

func (s *Server) closeListeners() {
	_ = s.httpSrv.Close()
	_ = s.grpcLn.Close()
}

// Wait blocks until ctx ends or a listener fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.serveErr:
		return err
	}
}

// Shutdown stops taking requests, drains in-flight ones, commits queued writes and closes the
// store, within ctx. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.log.Info("shutting down: draining requests")
		if s.gw != nil {
			s.gw.SetReady(false)
			s.health.Shutdown()
		}
		var errs []error
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain http: %w", err))
		}
		if s.grpcSrv != nil {
			done := make(chan struct{})
			go func() { s.grpcSrv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				s.grpcSrv.Stop()
				errs = append(errs, fmt.Errorf("drain grpc: %w", ctx.Err()))
			}
		}
		if s.admission != nil {
			s.admission.Shutdown()
		}
		// The sources' last batches, the collector's buffered rows and the query log's last
		// records go in before the store closes.
		for _, src := range s.sources {
			if err := src.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop kafka source: %w", err))
			}
		}
		errs = append(errs, s.stopKinesis(ctx)...)
		// Self-tracing's last spans go to the collector before it flushes.
		if err := s.selfTrace.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		if s.collector != nil {
			if err := s.collector.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("flush collector: %w", err))
			}
		}
		if err := s.queryLog.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush query log: %w", err))
		}
		s.closePinotSinks()
		s.closeBackends()
		if s.store != nil {
			if err := s.store.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
		}
		s.shutdownErr = errors.Join(errs...)
		s.log.Info("stopped")
	})
	return s.shutdownErr
}

// Run starts the server, serves until ctx ends, then shuts down within the configured timeout.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	s := New(cfg, log)
	if err := s.Start(ctx); err != nil {
		return err
	}
	waitErr := s.Wait(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	return errors.Join(waitErr, s.Shutdown(sctx))
}

// Collector is the OTLP collector role (nil when disabled); valid after Start.
func (s *Server) Collector() *collector.Collector { return s.collector }

// buildVersion is olapgate's module version for self-tracing's service.version ("(devel)"
// for a build from a work tree).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "unknown"
}
