package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/gateway/admission"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// answer is one executed query, shared by the gRPC and HTTP encoders.
type answer struct {
	q      *query.Query
	result *store.Result
	// enc memoizes encodings of a cached result (nil when not from the cache).
	enc   *encodings
	stats *olapgatev1.QueryStats
}

// prepare validates and plans a query (for Explain).
func (g *Gateway) prepare(ctx context.Context, pb *olapgatev1.Query) (*query.Query, *planner.Plan, error) {
	q, st, err := g.resolve(ctx, pb)
	if err != nil {
		return nil, nil, err
	}
	p, err := planner.New(q, st.Dialect())
	if err != nil {
		return nil, nil, toStatus(err)
	}
	return q, p, nil
}

// resolve validates a query and finds its backend; the tenant is ANDed in by query.FromProto
// before anything else (cache keys and coalescing later) sees the query. Planning waits until
// the cache has missed.
func (g *Gateway) resolve(ctx context.Context, pb *olapgatev1.Query) (*query.Query, store.Store, error) {
	if pb == nil {
		return nil, nil, status.Error(codes.InvalidArgument, "query: required")
	}
	d, err := g.dataset(pb.GetDataset())
	if err != nil {
		return nil, nil, err
	}
	q, err := query.FromProto(pb, d, query.Options{Now: g.resolveNow(pb), Tenant: tenantFrom(ctx), Limits: g.cfg.Query})
	if err != nil {
		return nil, nil, toStatus(err)
	}
	st, err := g.storeFor(d)
	if err != nil {
		return nil, nil, err
	}
	return q, st, nil
}

// nowQuanta are the steps "now" may be rounded down to for cacheable relative ranges.
var nowQuanta = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// resolveNow is the clock relative ranges ("now-6h") are resolved against. When the client
// accepts stale answers, "now" is rounded down to a quantum of at most half its
// maxStalenessMs, so a dashboard refreshing the same relative range shares cache entries and
// in-flight executions instead of missing on every request; the answer then lags the clock by
// less than one quantum plus its cached age, within the client's bound. The resolved range is
// echoed in the stats as always.
func (g *Gateway) resolveNow(pb *olapgatev1.Query) time.Time {
	now := g.now()
	o := pb.GetOptions()
	maxStale := g.maxStaleness(o)
	if g.cache == nil || o.GetNoCache() || maxStale <= 0 {
		return now
	}
	tr := pb.GetTimeRange()
	if !strings.HasPrefix(strings.TrimSpace(tr.GetStart()), "now") && !strings.HasPrefix(strings.TrimSpace(tr.GetEnd()), "now") && tr.GetEnd() != "" {
		return now // absolute range: nothing to align
	}
	var quantum time.Duration
	for _, q := range nowQuanta {
		if q <= maxStale/2 {
			quantum = q
		}
	}
	if quantum == 0 {
		return now
	}
	return now.Truncate(quantum)
}

// run executes a query with its deadline and records it in the query log.
func (g *Gateway) run(ctx context.Context, pb *olapgatev1.Query) (a *answer, err error) {
	start := time.Now()
	var q *query.Query
	defer func() { g.logQuery(ctx, start, pb, q, a, err) }()
	// The query span starts at once when the caller's trace continues here; otherwise only
	// once the cache has missed, so an answer from the cache (the hot path of a dashboard)
	// costs no span (the sampler would drop almost all of them anyway).
	var span trace.Span
	startSpan := func() {
		ctx, span = g.tracer.Start(ctx, "query "+pb.GetDataset(), trace.WithSpanKind(trace.SpanKindServer))
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		startSpan()
	}
	defer func() {
		if span != nil {
			finishQuerySpan(span, tenantFrom(ctx), a, err)
		}
	}()
	q, st, err := g.resolve(ctx, pb)
	if err != nil {
		g.metrics.observeQuery(pb.GetDataset(), err, time.Since(start))
		return nil, err
	}
	key := q.Key()
	if !pb.GetOptions().GetNoCache() {
		if res, enc, age, ok := g.cache.get(key, g.maxStaleness(pb.GetOptions()), time.Now()); ok {
			g.metrics.observeQuery(q.Dataset.Name, nil, time.Since(start))
			g.metrics.cacheHits.Inc()
			a := g.newAnswer(q, res, 0)
			a.enc = enc
			a.stats.CacheHit, a.stats.AgeMs = true, age.Milliseconds()
			return a, nil
		}
	}
	if span == nil {
		startSpan()
	}
	p, err := planner.New(q, st.Dialect())
	if err != nil {
		err = toStatus(err)
		g.metrics.observeQuery(q.Dataset.Name, err, time.Since(start))
		return nil, err
	}
	timeout := g.timeout(pb.GetOptions().GetTimeoutMs(), q.Dataset)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	execStart := time.Now()
	reuse := g.extents != nil && !pb.GetOptions().GetNoCache() && g.maxStaleness(pb.GetOptions()) > 0 && p.Splittable()
	var reused int
	var queued time.Duration
	shape := q.Shape()
	tenant := tenantFrom(ctx)
	res, coalesced, err := g.inflight.do(ctx, key, timeout, func(ctx context.Context) (*store.Result, error) {
		// Admitted once, executed (and finished) once, inside the shared execution: coalesced
		// waiters add no backend load, and every waiter only reads res.
		var ticket *admission.Ticket
		if g.admission != nil {
			var err error
			ticket, err = g.admit(ctx, admission.Request{Backend: q.Dataset.Backend, Shape: shape,
				Tenant: tenant, Priority: admission.ParsePriority(q.Hints.Priority)})
			if err != nil {
				return nil, err
			}
			queued = ticket.Queued
		}
		var res *store.Result
		var err error
		traced := tracedQuerier{st: st, tracer: g.tracer}
		if reuse {
			res, reused, err = g.executeReusing(ctx, q, p, traced)
		} else {
			res, err = p.Execute(ctx, traced)
		}
		release(ticket, err)
		if err == nil {
			g.cache.put(key, res, execStart)
		}
		return res, err
	})
	exec := time.Since(execStart)
	g.metrics.observeQuery(q.Dataset.Name, err, time.Since(start))
	if coalesced {
		g.metrics.coalesced.Inc()
	}
	if err != nil {
		var rej *admission.Rejection
		if errors.As(err, &rej) {
			// Degrade before refusing: a client that allows it gets a stale cached answer.
			if bound := time.Duration(pb.GetOptions().GetMaxStalenessOnOverloadMs()) * time.Millisecond; bound > 0 {
				if res, enc, age, ok := g.cache.get(key, bound, time.Now()); ok {
					a := g.newAnswer(q, res, 0)
					a.enc = enc
					a.stats.CacheHit, a.stats.Stale, a.stats.AgeMs = true, true, age.Milliseconds()
					a.stats.QueuedMs = queued.Milliseconds()
					return a, nil
				}
			}
			return nil, rej.GRPCStatus().Err()
		}
		return nil, toStatus(err)
	}
	a = g.newAnswer(q, res, exec)
	a.stats.Coalesced = coalesced
	a.stats.QueuedMs = queued.Milliseconds()
	if !coalesced {
		a.stats.ReusedBuckets = int64(reused)
	}
	return a, nil
}

// release ends an admitted execution (nil: admission control is off): success feeds the
// limiter's latency, a backend's overload answer counts as overload, and other failures say
// nothing about the engine's capacity.
func release(t *admission.Ticket, err error) {
	if t == nil {
		return
	}
	switch {
	case err == nil:
		t.Done(admission.OK)
	case store.IsOverload(err):
		t.Done(admission.Overload)
	default:
		t.Done(admission.Dropped)
	}
}

// logQuery records a finished query (answered or not) in the query log.
func (g *Gateway) logQuery(ctx context.Context, start time.Time, pb *olapgatev1.Query, q *query.Query, a *answer, err error) {
	if g.queryLog == nil {
		return
	}
	r := QueryRecord{Time: start, Tenant: tenantFrom(ctx), Dataset: pb.GetDataset(), Latency: time.Since(start),
		Code: status.Code(err).String(), Priority: pb.GetOptions().GetPriority(), RowsScanned: -1}
	if err != nil {
		r.Error = status.Convert(err).Message()
		if len(r.Error) > 512 {
			r.Error = r.Error[:512]
		}
	}
	if q != nil {
		r.Dataset, r.Backend, r.Shape, r.Granularity = q.Dataset.Name, q.Dataset.Backend, q.Shape(), q.Granularity.String()
		r.Priority = q.Hints.Priority
	}
	if a != nil {
		r.CacheHit, r.Coalesced, r.Stale, r.Partial = a.stats.CacheHit, a.stats.Coalesced, a.stats.Stale, a.stats.Partial
		r.Exec, r.Queued = time.Duration(a.stats.ExecMs)*time.Millisecond, time.Duration(a.stats.QueuedMs)*time.Millisecond
		r.Rows = int64(len(a.result.Rows))
		if !a.stats.CacheHit {
			r.RowsScanned = a.result.Meta.RowsScanned
		}
	}
	g.queryLog.Record(r)
}

func (g *Gateway) newAnswer(q *query.Query, res *store.Result, exec time.Duration) *answer {
	approx := false
	for _, c := range res.Columns {
		approx = approx || c.Approximate
	}
	// Trimmed groups make every aggregate of the answer an estimate.
	approx = approx || res.Meta.Trimmed
	return &answer{q: q, result: res, stats: &olapgatev1.QueryStats{
		Backend:     q.Dataset.Backend,
		TimeRange:   resolvedRange(q),
		ExecMs:      exec.Milliseconds(),
		Approximate: approx,
		Partial:     res.Meta.Partial,
		// A cached answer keeps the bound of the execution that made it.
		DataCompleteUpTo: completeUpTo(res.Meta.CompleteUpTo, q),
		RowCount:         int64(len(res.Rows)),
		TimeZone:         q.Location.String(),
	}}
}

func resolvedRange(q *query.Query) *olapgatev1.ResolvedTimeRange {
	return &olapgatev1.ResolvedTimeRange{
		Start: q.Start.In(q.Location).Format(time.RFC3339Nano),
		End:   q.End.In(q.Location).Format(time.RFC3339Nano),
	}
}

// timeout is a query's deadline: its timeoutMs or the default, capped by the server's and the
// dataset's maximum.
func (g *Gateway) timeout(ms int64, d *dataset.Dataset) time.Duration {
	t := g.cfg.DefaultTimeout
	if ms > 0 {
		t = time.Duration(ms) * time.Millisecond
	}
	limit := g.cfg.MaxTimeout
	if d.MaxTimeout > 0 && d.MaxTimeout < limit {
		limit = d.MaxTimeout
	}
	return min(t, limit)
}

// Aggregate implements QueryService.
func (g *Gateway) Aggregate(ctx context.Context, req *olapgatev1.AggregateRequest) (*olapgatev1.AggregateResponse, error) {
	a, err := g.run(withRemoteParent(ctx, nil), req.GetQuery())
	if err != nil {
		return nil, err
	}
	return &olapgatev1.AggregateResponse{
		Columns:  a.columns(),
		RowCount: int64(len(a.result.Rows)),
		Stats:    a.stats,
	}, nil
}

// Explain implements QueryService.
func (g *Gateway) Explain(ctx context.Context, req *olapgatev1.ExplainRequest) (*olapgatev1.ExplainResponse, error) {
	q, p, err := g.prepare(ctx, req.GetQuery())
	if err != nil {
		return nil, err
	}
	out := &olapgatev1.ExplainResponse{
		Backend:   q.Dataset.Backend,
		Sql:       planner.Explain(p),
		TimeRange: resolvedRange(q),
		Cache:     g.cacheDecision(q, req.GetQuery().GetOptions()),
		Rollup:    "none",
	}
	for _, a := range p.Stmt.Args {
		out.Params = append(out.Params, renderArg(a))
	}
	out.SqlByDialect = map[string]string{}
	for _, name := range planner.Dialects() {
		dp, err := planner.New(q, name)
		if err != nil {
			out.SqlByDialect[name] = "-- " + err.Error()
			continue
		}
		out.SqlByDialect[name] = planner.Explain(dp)
	}
	return out, nil
}

// maxStaleness is how old a cached answer the request accepts.
func (g *Gateway) maxStaleness(o *olapgatev1.QueryOptions) time.Duration {
	if ms := o.GetMaxStalenessMs(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return g.cfg.DefaultMaxStaleness
}

// cacheDecision says whether Aggregate would answer this query from the cache now.
func (g *Gateway) cacheDecision(q *query.Query, o *olapgatev1.QueryOptions) string {
	maxStale := g.maxStaleness(o)
	switch {
	case g.cache == nil:
		return "disabled"
	case o.GetNoCache() || maxStale <= 0:
		return "bypass (no staleness allowed)"
	}
	if _, _, age, ok := g.cache.get(q.Key(), maxStale, time.Now()); ok {
		return fmt.Sprintf("hit (age %dms)", age.Milliseconds())
	}
	return "miss"
}

func renderArg(a any) string {
	switch v := a.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(a)
}

// columnsProto turns a row-major result into the typed column-major proto form.
// columns is the answer's columns as protos, memoized for cached results.
func (a *answer) columns() []*olapgatev1.Column {
	if a.enc == nil {
		return columnsProto(a.result)
	}
	a.enc.protoOnce.Do(func() { a.enc.proto = columnsProto(a.result) })
	return a.enc.proto
}

func columnsProto(r *store.Result) []*olapgatev1.Column {
	cols := make([]*olapgatev1.Column, len(r.Columns))
	for j, c := range r.Columns {
		pc := &olapgatev1.Column{Name: c.Name, Type: olapgatev1.ColumnType(c.Type), Approximate: c.Approximate}
		n := len(r.Rows)
		switch c.Type {
		case store.TypeString:
			pc.StringValues = make([]string, n)
		case store.TypeInt64:
			pc.Int64Values = make([]int64, n)
		case store.TypeDouble:
			pc.DoubleValues = make([]float64, n)
		case store.TypeBool:
			pc.BoolValues = make([]bool, n)
		case store.TypeTimestamp:
			pc.TimestampValues = make([]int64, n)
		}
		for i, row := range r.Rows {
			switch v := row[j].(type) {
			case nil:
				pc.NullRows = append(pc.NullRows, int32(i))
			case string:
				pc.StringValues[i] = v
			case int64:
				pc.Int64Values[i] = v
			case float64:
				pc.DoubleValues[i] = v
			case bool:
				pc.BoolValues[i] = v
			case time.Time:
				pc.TimestampValues[i] = v.UnixMicro()
			}
		}
		cols[j] = pc
	}
	return cols
}

// toStatus maps errors from validation, planning and stores to gRPC statuses (DESIGN §5).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var qe *query.Error
	switch {
	case errors.As(err, &qe):
		return status.Error(codes.InvalidArgument, qe.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "query: deadline exceeded before the backend answered")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "query: canceled by the client")
	case errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, "store is shutting down")
	}
	return status.Error(codes.Internal, err.Error())
}

// completeUpTo formats a freshness bound in the query's zone; "" when the backend gave none.
func completeUpTo(t time.Time, q *query.Query) string {
	if t.IsZero() {
		return ""
	}
	return t.In(q.Location).Format(time.RFC3339Nano)
}
