package gateway

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/semaphore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ingestBudget bounds the bytes of ingest requests being decoded and committed at once, so a
// flood of pushes cannot exhaust memory. A request waits briefly for room, then is refused with
// RESOURCE_EXHAUSTED / 429 and a retry delay: backpressure the client sees and retries on,
// never a silent drop (nothing of a refused request was accepted).
type ingestBudget struct {
	sem   *semaphore.Weighted
	total int64
	wait  time.Duration
}

func newIngestBudget(bytes int64, wait time.Duration) *ingestBudget {
	return &ingestBudget{sem: semaphore.NewWeighted(bytes), total: bytes, wait: wait}
}

// acquire reserves n bytes; release them with the returned func.
func (b *ingestBudget) acquire(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), b.total)
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		st := status.New(codes.ResourceExhausted, fmt.Sprintf("ingest: overloaded: %d MiB of requests are being written (limit ingest.maxInflightBytes); retry after 1s", b.total>>20))
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); err == nil {
			st = d
		}
		return nil, st.Err()
	}
	return func() { b.sem.Release(n) }, nil
}
