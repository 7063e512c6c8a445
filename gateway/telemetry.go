package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"crypto/sha256"
	"google.golang.org/protobuf/proto"

	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
)

// telemetryGuard serves the collector's TelemetryService through the same protections as
// aggregate queries (DESIGN §6: admission sits after the cache): an identical request in
// flight is joined (coalescing), a recent identical answer is served from the result cache,
// and every execution that reaches the store is admitted by the telemetry backend's limiter,
// in its own cost class per method ("telemetry/GetTrace", …) so a trace search scanning an
// hour of spans does not make trace lookups by id look like congestion.
//
// Telemetry requests carry no freshness option; answers are reused for
// Config.TelemetryMaxStaleness (default 1s): a trace view opened by several people, or
// re-polled by a UI, costs one store read per second, and spans that arrive later are seen
// a second late at most.
type telemetryGuard struct {
	olapgatev1.UnimplementedTelemetryServiceServer
	g       *Gateway
	inner   olapgatev1.TelemetryServiceServer
	backend string
	flights coalescer[proto.Message]
}

// GetTrace implements TelemetryService.
func (t *telemetryGuard) GetTrace(ctx context.Context, req *olapgatev1.GetTraceRequest) (*olapgatev1.GetTraceResponse, error) {
	return guarded(ctx, t, "GetTrace", req, t.inner.GetTrace)
}

// SearchTraces implements TelemetryService.
func (t *telemetryGuard) SearchTraces(ctx context.Context, req *olapgatev1.SearchTracesRequest) (*olapgatev1.SearchTracesResponse, error) {
	return guarded(ctx, t, "SearchTraces", req, t.inner.SearchTraces)
}

// SearchLogs implements TelemetryService.
func (t *telemetryGuard) SearchLogs(ctx context.Context, req *olapgatev1.SearchLogsRequest) (*olapgatev1.SearchLogsResponse, error) {
	return guarded(ctx, t, "SearchLogs", req, t.inner.SearchLogs)
}

// guarded runs call for req behind the cache, coalescing and admission. Answers are shared
// read-only between callers (the gRPC and HTTP encoders do not modify them).
func guarded[Req, Resp proto.Message](ctx context.Context, t *telemetryGuard, method string, req Req, call func(context.Context, Req) (Resp, error)) (Resp, error) {
	var zero Resp
	start := time.Now()
	dataset := "telemetry/" + method
	tenant := tenantFrom(ctx)
	key, err := telemetryKey(method, tenant, req)
	if err != nil {
		return zero, err
	}
	g := t.g
	maxAge := g.cfg.TelemetryMaxStaleness
	if msg, _, ok := g.cache.getMsg(key, maxAge, start); ok {
		g.metrics.observeQuery(dataset, nil, time.Since(start))
		g.metrics.cacheHits.Inc()
		return msg.(Resp), nil
	}
	timeout := min(g.cfg.DefaultTimeout, g.cfg.MaxTimeout)
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	msg, coalesced, err := t.flights.do(ctx, key, timeout, func(ctx context.Context) (proto.Message, error) {
		var ticket *admission.Ticket
		if g.admission != nil {
			var err error
			ticket, err = g.admit(ctx, admission.Request{Backend: t.backend, Shape: dataset,
				Tenant: tenant, Priority: admission.Interactive})
			if err != nil {
				return nil, err
			}
		}
		execStart := time.Now()
		resp, err := call(ctx, req)
		release(ticket, err)
		if err != nil {
			return nil, err
		}
		g.cache.putMsg(key, resp, execStart)
		return resp, nil
	})
	g.metrics.observeQuery(dataset, err, time.Since(start))
	if coalesced {
		g.metrics.coalesced.Inc()
	}
	if err != nil {
		var rej *admission.Rejection
		if errors.As(err, &rej) {
			return zero, rej.GRPCStatus().Err()
		}
		return zero, err
	}
	return msg.(Resp), nil
}

// telemetryKey is the cache and coalescing key of a request: the method, the tenant (no
// answer crosses tenants), and a digest of the request's deterministic encoding.
func telemetryKey(method, tenant string, req proto.Message) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "telemetry/" + method + "\x00" + tenant + "\x00" + hex.EncodeToString(sum[:16]), nil
}
