package collector

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// The three OTLP services, shared by the gRPC and HTTP receivers.

func (c *Collector) exportTraces(ctx context.Context, td ptrace.Traces) (accepted, error) {
	return c.export(ctx, c.traces, &c.stats.traces, "span", td.SpanCount(), func(b *store.Batch, o otelrows.Options) otelrows.Result {
		return otelrows.AppendTraces(b, td, o)
	})
}

func (c *Collector) exportLogs(ctx context.Context, ld plog.Logs) (accepted, error) {
	return c.export(ctx, c.logs, &c.stats.logs, "log record", ld.LogRecordCount(), func(b *store.Batch, o otelrows.Options) otelrows.Result {
		return otelrows.AppendLogs(b, ld, o)
	})
}

func (c *Collector) exportMetrics(ctx context.Context, md pmetric.Metrics) (accepted, error) {
	return c.export(ctx, c.metrics, &c.stats.metrics, "data point", md.DataPointCount(), func(b *store.Batch, o otelrows.Options) otelrows.Result {
		return otelrows.AppendMetrics(b, md, o)
	})
}

// ConsumeTraces stores spans handed over in-process (olapgate's self-tracing,
// internal/selftrace) with the same validation, buffering and backpressure as an OTLP export.
func (c *Collector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	_, err := c.exportTraces(ctx, td)
	return err
}

type tracesGRPC struct {
	ptraceotlp.UnimplementedGRPCServer
	c *Collector
}

func (s *tracesGRPC) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	a, err := s.c.exportTraces(ctx, req.Traces())
	resp := ptraceotlp.NewExportResponse()
	if err != nil {
		return resp, err
	}
	if a.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(a.rejected)
		resp.PartialSuccess().SetErrorMessage(a.message)
	}
	return resp, nil
}

type logsGRPC struct {
	plogotlp.UnimplementedGRPCServer
	c *Collector
}

func (s *logsGRPC) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	a, err := s.c.exportLogs(ctx, req.Logs())
	resp := plogotlp.NewExportResponse()
	if err != nil {
		return resp, err
	}
	if a.rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(a.rejected)
		resp.PartialSuccess().SetErrorMessage(a.message)
	}
	return resp, nil
}

type metricsGRPC struct {
	pmetricotlp.UnimplementedGRPCServer
	c *Collector
}

func (s *metricsGRPC) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	a, err := s.c.exportMetrics(ctx, req.Metrics())
	resp := pmetricotlp.NewExportResponse()
	if err != nil {
		return resp, err
	}
	if a.rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(a.rejected)
		resp.PartialSuccess().SetErrorMessage(a.message)
	}
	return resp, nil
}
