package collector

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// signalStats counts one signal's items (spans, log records or data points) and times its
// exports.
type signalStats struct {
	received, stored, rejected, refused atomic.Int64
	duration                            prometheus.Observer
}

// exportDurationBuckets are the upper bounds, in seconds, of the export-duration histogram.
// An export waits for its group's commit: a few milliseconds under load, when groups fill to
// BatchRows, and up to the flush interval (200 ms by default) plus the commit when traffic is
// light, hence the fine steps up to half a second.
var exportDurationBuckets = []float64{
	.001, .002, .005, .01, .02, .03, .05, .075, .1, .125, .15, .175, .2, .225, .25, .3, .4, .5, .75, 1, 2.5, 5, 10, 30,
}

// newExportDuration is the histogram of export handling time (decode excluded: from the
// parsed request to the answer), by signal.
func newExportDuration() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "olapgate_collector_export_duration_seconds",
		Help:    "Time from a decoded OTLP export request to its answer (conversion, buffering, waiting for the commit), by signal.",
		Buckets: exportDurationBuckets,
	}, []string{"signal"})
}

// SignalStats are cumulative counters for one signal since New.
type SignalStats struct {
	// Received items; Stored: committed to the store; Rejected: refused as a partial success
	// (invalid or oversized items); Refused: in requests answered with an error (buffer full,
	// store failure, shutdown), which exporters retry.
	Received, Stored, Rejected, Refused int64
}

func (s *signalStats) snapshot() SignalStats {
	return SignalStats{Received: s.received.Load(), Stored: s.stored.Load(), Rejected: s.rejected.Load(), Refused: s.refused.Load()}
}

// accepted is the answer to an export that was stored, wholly or partly.
type accepted struct {
	rejected int64
	message  string
}

// export stores the rows conv appends to a batch of the sink's table, waiting until they are
// committed. It answers with gRPC status errors, which the HTTP receiver maps to HTTP codes.
func (c *Collector) export(ctx context.Context, s *sink, st *signalStats, item string, items int,
	conv func(*store.Batch, otelrows.Options) otelrows.Result) (accepted, error) {
	st.received.Add(int64(items))
	if st.duration != nil {
		defer func(start time.Time) { st.duration.Observe(time.Since(start).Seconds()) }(time.Now())
	}
	if items == 0 {
		// The OTLP spec: an empty request is a success.
		return accepted{}, nil
	}
	if c.budget.full() {
		// Refuse before converting: under overload the cheapest answer is the best one.
		st.refused.Add(int64(items))
		return accepted{}, c.retryLater()
	}
	b := store.NewBatch(s.ds, items)
	res := conv(b, otelrows.Options{MaxFieldBytes: c.cfg.MaxFieldBytes, Promoted: c.cfg.PromotedAttributes, Deltas: c.deltas})
	st.rejected.Add(res.Rejected)
	if res.Rows == 0 {
		if res.Rejected > 0 && res.Dropped == 0 {
			return accepted{}, status.Error(codes.InvalidArgument, "every "+item+" was rejected: "+res.Message(item))
		}
		// Nothing to write: an empty request, or cumulative points that only seeded delta
		// conversion (accepted).
		return accepted{rejected: res.Rejected, message: res.Message(item)}, nil
	}
	g, err := s.add(b, res.Bytes)
	if err != nil {
		st.refused.Add(int64(res.Rows))
		if errors.Is(err, errBufferFull) {
			return accepted{}, c.retryLater()
		}
		return accepted{}, status.Error(codes.Unavailable, "collector is shutting down")
	}
	if err := g.wait(ctx); err != nil {
		st.refused.Add(int64(res.Rows))
		if ctxErr := ctx.Err(); ctxErr != nil {
			return accepted{}, status.FromContextError(ctxErr).Err()
		}
		// A failed write is retryable: the rows are not stored, and a retry may succeed (the
		// store may have been busy past the write timeout, or closing).
		c.log.Warn("collector write failed", "table", s.ds.Name, "err", err)
		return accepted{}, status.Error(codes.Unavailable, fmt.Sprintf("store %ss: %v", item, err))
	}
	st.stored.Add(int64(res.Rows))
	return accepted{rejected: res.Rejected, message: res.Message(item)}, nil
}

// retryLater is the OTLP answer for a full buffer: RESOURCE_EXHAUSTED with RetryInfo, which
// OTLP exporters retry only when the detail is present.
func (c *Collector) retryLater() error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("collector buffer full (%d bytes of rows not yet written); retry later", c.budget.inUse()))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(c.cfg.RetryAfter)}); err == nil {
		return d.Err()
	}
	return st.Err()
}

// retryDelay reads the RetryInfo delay of a status, for the HTTP Retry-After header.
func retryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
