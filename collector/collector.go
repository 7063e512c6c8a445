// Package collector receives OTLP traces, logs and metrics (gRPC and HTTP) and stores them in
// the otel_* tables, answering each export once its rows are committed.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/cors"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Collector is the OTLP receiving side over one store, plus the TelemetryService that reads
// what it stored. New, then Start; Shutdown stops the receivers, writes what is buffered, and
// is safe to call more than once. It does not close the store.
type Collector struct {
	cfg Config
	st  store.Store
	log *slog.Logger

	budget                  *budget
	traces, logs, metrics   *sink
	datasets                []*dataset.Dataset
	deltas                  *otelrows.Deltas // nil with KeepCumulative
	lookup                  *traceLookup     // nil when the span commits write the lookup rows
	telemetry               *telemetry.Service
	stats                   struct{ traces, logs, metrics signalStats }
	exportDuration          *prometheus.HistogramVec
	grpcSrv                 *grpc.Server
	httpSrv                 *http.Server
	grpcLn, httpLn          net.Listener
	serveErr                chan error
	stopRetention           context.CancelFunc
	retentionDone           chan struct{}
	startOnce, shutdownOnce sync.Once
	started                 bool
	startErr, shutdownErr   error
}

// New prepares a collector writing to st; Start opens its tables and listeners.
func New(cfg Config, st store.Store, log *slog.Logger) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("collector: no store")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	c := &Collector{
		cfg: cfg, st: st, log: log,
		budget:   &budget{max: cfg.MaxBufferBytes},
		serveErr: make(chan error, 2),

		exportDuration: newExportDuration(),
	}
	c.stats.traces.duration = c.exportDuration.WithLabelValues("traces")
	c.stats.logs.duration = c.exportDuration.WithLabelValues("logs")
	c.stats.metrics.duration = c.exportDuration.WithLabelValues("metrics")
	tracesDS, idTsDS, logsDS, metricsDS := otelrows.TracesDataset(cfg.PromotedAttributes...), otelrows.TraceIDTsDataset(),
		otelrows.LogsDataset(cfg.PromotedAttributes...), otelrows.MetricsDataset()
	c.datasets = []*dataset.Dataset{tracesDS, idTsDS, logsDS, metricsDS}
	c.traces = newSink(st, tracesDS, c.budget, cfg)
	if cfg.Backend != dataset.BackendClickHouse { // there the exporter's materialized view fills it
		if pw, ok := st.(store.PositionedWriter); ok {
			c.lookup = newTraceLookup(pw, st, idTsDS, cfg.LookupFlush, log)
			c.traces.committed = c.lookup.add
		} else {
			c.traces.derive = func(b *store.Batch) *store.Batch { return otelrows.TraceIDTimes(idTsDS, b) }
		}
	}
	c.logs = newSink(st, logsDS, c.budget, cfg)
	c.metrics = newSink(st, metricsDS, c.budget, cfg)
	qcfg := cfg.Query
	qcfg.PromotedAttributes = cfg.PromotedAttributes
	c.telemetry = telemetry.New(st, qcfg)
	if c.lookup != nil {
		c.telemetry.PendingBounds(c.lookup.bounds)
	}
	if !cfg.KeepCumulative {
		c.deltas = otelrows.NewDeltas()
	}
	return c, nil
}

// Datasets are the tables the collector writes, as datasets the aggregate API can serve.
func (c *Collector) Datasets() []*dataset.Dataset { return c.datasets }

// TelemetryServer serves GetTrace, SearchTraces and SearchLogs over the store.
func (c *Collector) TelemetryServer() olapgatev1.TelemetryServiceServer { return c.telemetry }

// Telemetry is the same service with its plain Go methods.
func (c *Collector) Telemetry() *telemetry.Service { return c.telemetry }

// GRPCAddr and HTTPAddr are the bound addresses (useful with port 0), "" when that receiver is
// off; valid after Start.
func (c *Collector) GRPCAddr() string {
	if c.grpcLn == nil {
		return ""
	}
	return c.grpcLn.Addr().String()
}

// HTTPAddr is the bound OTLP/HTTP address; see GRPCAddr.
func (c *Collector) HTTPAddr() string {
	if c.httpLn == nil {
		return ""
	}
	return c.httpLn.Addr().String()
}

// Start creates the tables (or adds missing columns), starts the writers and binds the
// listeners. It runs once; later calls return the first call's result.
func (c *Collector) Start(ctx context.Context) error {
	c.startOnce.Do(func() { c.startErr = c.start(ctx) })
	return c.startErr
}

func (c *Collector) start(ctx context.Context) error {
	for _, d := range c.datasets {
		if err := c.st.EnsureDataset(ctx, d); err != nil {
			return fmt.Errorf("start collector: create table %s: %w", d.Name, err)
		}
	}
	// GetTrace starts with a point lookup by trace id in otel_traces_trace_id_ts, which has a
	// row per trace and write: at 10M spans a scan of it took 13 ms, the index lookup < 1 ms.
	if ix, ok := c.st.(indexer); ok {
		if err := ix.EnsureIndex(ctx, otelrows.TraceIDTsTable, "TraceId"); err != nil {
			return fmt.Errorf("start collector: %w", err)
		}
	}
	if c.lookup != nil {
		if err := c.lookup.open(ctx); err != nil {
			return fmt.Errorf("start collector: %w", err)
		}
	}
	if c.cfg.GRPCAddr != Off {
		ln, err := net.Listen("tcp", c.cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("start collector: listen OTLP/gRPC on %s: %w", c.cfg.GRPCAddr, err)
		}
		c.grpcLn = ln
	}
	if c.cfg.HTTPAddr != Off {
		ln, err := net.Listen("tcp", c.cfg.HTTPAddr)
		if err != nil {
			if c.grpcLn != nil {
				_ = c.grpcLn.Close()
				c.grpcLn = nil
			}
			return fmt.Errorf("start collector: listen OTLP/HTTP on %s: %w", c.cfg.HTTPAddr, err)
		}
		c.httpLn = ln
	}
	c.started = true
	for _, s := range []*sink{c.traces, c.logs, c.metrics} {
		go s.run()
	}
	if _, ok := c.st.(deleter); ok && c.cfg.Retention > 0 {
		var rctx context.Context
		rctx, c.stopRetention = context.WithCancel(context.WithoutCancel(ctx))
		c.retentionDone = make(chan struct{})
		go c.runRetention(rctx, c.retentionDone)
	} else if c.cfg.Retention > 0 {
		c.log.Warn("collector retention is set but the store cannot delete rows; set a TTL on the backend instead", "retention", c.cfg.Retention)
	}
	if c.grpcLn != nil {
		c.grpcSrv = grpc.NewServer(
			// Framing beyond the message itself.
			grpc.MaxRecvMsgSize(int(c.cfg.MaxRequestBytes)+64<<10),
			grpc.ChainUnaryInterceptor(recoverUnary(c.log)),
		)
		c.RegisterOTLP(c.grpcSrv)
		go func() {
			if err := c.grpcSrv.Serve(c.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				c.serveErr <- fmt.Errorf("serve OTLP/gRPC: %w", err)
			}
		}()
	}
	if c.httpLn != nil {
		c.httpSrv = &http.Server{
			Handler:           cors.Handler(c.cfg.CORS, c.HTTPHandler()),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		go func() {
			if err := c.httpSrv.Serve(c.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.serveErr <- fmt.Errorf("serve OTLP/HTTP: %w", err)
			}
		}()
	}
	c.log.Info("collector receiving OTLP", "grpc", c.GRPCAddr(), "http", c.HTTPAddr())
	return nil
}

// indexer is a store that builds indexes on request (the embedded store).
type indexer interface {
	EnsureIndex(ctx context.Context, dataset, column string) error
}

// RegisterOTLP registers the OTLP trace, log and metric services on s, for serving OTLP on a
// gRPC server other than the collector's own.
func (c *Collector) RegisterOTLP(s *grpc.Server) {
	ptraceotlp.RegisterGRPCServer(s, &tracesGRPC{c: c})
	plogotlp.RegisterGRPCServer(s, &logsGRPC{c: c})
	pmetricotlp.RegisterGRPCServer(s, &metricsGRPC{c: c})
}

// Err reports a listener that failed after Start (nil channel value until then); a run group
// watches it beside the other servers.
func (c *Collector) Err() <-chan error { return c.serveErr }

// Shutdown stops accepting connections, lets in-flight exports finish (their rows are written
// at once instead of waiting for the flush interval), writes every buffered row, and returns.
// When ctx ends first, connections are closed and Shutdown returns ctx's error; rows still
// buffered then are not written, and their exports were not acknowledged. Safe to call twice.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.shutdownOnce.Do(func() { c.shutdownErr = c.shutdown(ctx) })
	return c.shutdownErr
}

func (c *Collector) shutdown(ctx context.Context) error {
	if !c.started {
		return nil
	}
	if c.stopRetention != nil {
		c.stopRetention() // interrupts a running DELETE: the next start deletes those rows
		<-c.retentionDone
	}
	sinks := []*sink{c.traces, c.logs, c.metrics}
	for _, s := range sinks {
		s.setHurry()
	}
	var errs []error
	if c.httpSrv != nil {
		if err := c.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown collector: drain OTLP/HTTP: %w", err))
			_ = c.httpSrv.Close()
		}
	}
	if c.grpcSrv != nil {
		done := make(chan struct{})
		go func() { c.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			c.grpcSrv.Stop()
			<-done
			errs = append(errs, fmt.Errorf("shutdown collector: drain OTLP/gRPC: %w", ctx.Err()))
		}
	}
	for _, s := range sinks {
		s.close()
	}
	for _, s := range sinks {
		select {
		case <-s.done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("shutdown collector: write buffered %s rows: %w", s.ds.Name, ctx.Err()))
			return errors.Join(errs...)
		}
	}
	if c.lookup != nil {
		if err := c.lookup.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats are cumulative counters since New.
type Stats struct {
	Traces, Logs, Metrics SignalStats
	// BufferedBytes estimates the memory held by rows accepted and not yet written.
	BufferedBytes int64
	// Writes counts store writes; WriteFailures those that failed (their exports were answered
	// with UNAVAILABLE, which exporters retry).
	Writes, WriteFailures int64
}

// Stats returns the collector's counters, for /metrics.
func (c *Collector) Stats() Stats {
	s := Stats{
		Traces: c.stats.traces.snapshot(), Logs: c.stats.logs.snapshot(), Metrics: c.stats.metrics.snapshot(),
		BufferedBytes: c.budget.inUse(),
	}
	for _, k := range []*sink{c.traces, c.logs, c.metrics} {
		s.Writes += k.writes.Load()
		s.WriteFailures += k.writeFailures.Load()
	}
	return s
}

// ExportDuration is the histogram of export handling time by signal
// (olapgate_collector_export_duration_seconds), to register on a metrics registry.
func (c *Collector) ExportDuration() prometheus.Collector { return c.exportDuration }

// recoverUnary turns a handler panic into an INTERNAL answer instead of a crashed process.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in OTLP handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "internal error handling %s", info.FullMethod)
			}
		}()
		return handler(ctx, req)
	}
}
