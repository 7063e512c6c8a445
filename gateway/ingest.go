package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// AckCommitted is the ack of a write durable in the store (DESIGN §6).
const AckCommitted = "committed"

// AckStream is the ack of a write produced to the stream a Pinot table consumes: durable in
// the stream, queryable once Pinot has consumed it (DESIGN §6).
const AckStream = "stream"

// StreamSink takes the accepted events of a dataset its store does not write (Pinot pulls
// from a stream): Write returns once they are in the stream (ingest/pinotsink).
type StreamSink interface {
	Write(ctx context.Context, b *store.Batch) error
}

// SetStreamSink sends the accepted events of dataset name to s instead of its store; their
// answers say ack "stream". Call it before serving.
func (g *Gateway) SetStreamSink(name string, s StreamSink) {
	if g.sinks == nil {
		g.sinks = map[string]StreamSink{}
	}
	g.sinks[strings.ToLower(name)] = s
}

// ackFor is the ack a write into d earns.
func (g *Gateway) ackFor(d *dataset.Dataset) string {
	if g.sinks[strings.ToLower(d.Name)] != nil {
		return AckStream
	}
	return AckCommitted
}

// ingestOutcome is what one batch did.
type ingestOutcome struct {
	accepted int
	rejected []decode.Rejection
}

// write stores the accepted part of a decoded batch and returns once it is durable.
func (g *Gateway) write(ctx context.Context, b *store.Batch) error {
	if b == nil || b.N == 0 {
		return nil
	}
	if sink := g.sinks[strings.ToLower(b.Dataset.Name)]; sink != nil {
		if err := sink.Write(ctx, b); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return status.FromContextError(ctxErr).Err()
			}
			return status.Errorf(codes.Unavailable, "ingest into dataset %s: produce to its stream: %v", b.Dataset.Name, err)
		}
		return nil
	}
	st, err := g.storeFor(b.Dataset)
	if err != nil {
		return err
	}
	if _, err := st.Write(ctx, b); err != nil {
		if errors.Is(err, store.ErrNotWritable) {
			return status.Errorf(codes.FailedPrecondition, "ingest into dataset %s: %v", b.Dataset.Name, err)
		}
		if errors.Is(err, store.ErrClosed) {
			return status.Error(codes.Unavailable, "ingest: store is shutting down; retry against another replica or after restart")
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return status.FromContextError(ctxErr).Err()
		}
		return status.Errorf(codes.Internal, "ingest: write batch: %v", err)
	}
	return nil
}

// ingestBatch decodes one gRPC message's events and writes them.
func (g *Gateway) ingestBatch(ctx context.Context, d *dataset.Dataset, events []*structpb.Struct, lines []byte, indexBase int) (ingestOutcome, error) {
	size := int64(len(lines))
	for _, e := range events {
		size += int64(proto.Size(e))
	}
	release, err := g.ingestMem.acquire(ctx, size)
	if err != nil {
		return ingestOutcome{}, err
	}
	defer release()
	batch, out, err := g.decodeMessage(ctx, d, events, lines, indexBase)
	if err != nil {
		return out, err
	}
	if err := g.write(ctx, batch); err != nil {
		return out, err
	}
	g.metrics.observeIngest(d.Name, "grpc", out.accepted, len(out.rejected))
	return out, nil
}

// decodeMessage decodes one gRPC message's events, structs first, then json_lines; indexBase
// numbers events across a stream.
func (g *Gateway) decodeMessage(ctx context.Context, d *dataset.Dataset, events []*structpb.Struct, lines []byte, indexBase int) (*store.Batch, ingestOutcome, error) {
	var out ingestOutcome
	lim := decode.Limits{MaxEvents: g.cfg.MaxEvents}
	batch, rej, err := decode.Structs(d, events, indexBase, lim)
	if err != nil {
		return nil, out, decodeStatus(err)
	}
	out.rejected = rej
	if len(lines) > 0 {
		// Structs and json_lines share one message's event budget; errors name the configured
		// limit, not the remainder.
		tooMany := status.Errorf(codes.ResourceExhausted, "ingest: message holds more than %d events (limit maxEvents)", g.cfg.MaxEvents)
		remaining := g.cfg.MaxEvents - len(events)
		if remaining <= 0 {
			return nil, out, tooMany
		}
		b2, rej2, err := decode.JSON(d, lines, decode.FormatNDJSON, indexBase+len(events), decode.Limits{MaxEvents: remaining})
		if errors.Is(err, decode.ErrTooManyEvents) {
			return nil, out, tooMany
		}
		if err != nil {
			return nil, out, decodeStatus(err)
		}
		batch.Append(b2)
		out.rejected = append(out.rejected, rej2...)
	}
	out.rejected = applyTenant(ctx, d, batch, out.rejected, indexBase)
	out.accepted = batch.N
	return batch, out, nil
}

func decodeStatus(err error) error {
	if errors.Is(err, decode.ErrTooManyEvents) {
		return status.Error(codes.ResourceExhausted, "ingest: "+err.Error())
	}
	return status.Error(codes.InvalidArgument, "ingest: "+err.Error())
}

func rejectionsProto(rs []decode.Rejection) []*olapgatev1.Rejection {
	out := make([]*olapgatev1.Rejection, len(rs))
	for i, r := range rs {
		out[i] = &olapgatev1.Rejection{Index: int64(r.Index), Reason: r.Reason}
	}
	return out
}

// allRejected is the error for a request whose every event was refused: the caller must see
// a failure, not a 200 with nothing stored.
func allRejected(rs []decode.Rejection) error {
	const show = 3
	var b strings.Builder
	fmt.Fprintf(&b, "ingest: all %d events rejected", len(rs))
	for i, r := range rs {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(rs)-show)
			break
		}
		fmt.Fprintf(&b, "; event %d: %s", r.Index, r.Reason)
	}
	return status.Error(codes.InvalidArgument, b.String())
}

// Ingest implements IngestService.
func (g *Gateway) Ingest(ctx context.Context, req *olapgatev1.IngestRequest) (*olapgatev1.IngestResponse, error) {
	d, err := g.dataset(req.GetDataset())
	if err != nil {
		return nil, err
	}
	out, err := g.ingestBatch(ctx, d, req.GetEvents(), req.GetJsonLines(), 0)
	if err != nil {
		return nil, err
	}
	if out.accepted == 0 && len(out.rejected) > 0 {
		return nil, allRejected(out.rejected)
	}
	return &olapgatev1.IngestResponse{Accepted: int64(out.accepted), Rejected: rejectionsProto(out.rejected), Ack: g.ackFor(d)}, nil
}

// streamWritesInFlight bounds the messages of one stream being committed at once. Writing while
// the next message is received and decoded lets one stream fill a group commit instead of
// waiting for an fsync per message; the bound keeps a fast client from queueing without limit.
const streamWritesInFlight = 4

// IngestStream implements IngestService. Messages are decoded in order and committed as they
// arrive, up to streamWritesInFlight at a time; the answer is sent once all are durable.
// Indexes count across the whole stream. On a write failure the error names the first event
// whose message may not be stored: every message before it is.
func (g *Gateway) IngestStream(stream olapgatev1.IngestService_IngestStreamServer) error {
	ctx := stream.Context()
	var (
		total    ingestOutcome
		index    int
		prevName string
		d        *dataset.Dataset
		wg       sync.WaitGroup
		mu       sync.Mutex
		failAt   = -1
		failErr  error
		slots    = make(chan struct{}, streamWritesInFlight)
		// ack is "stream" once any message went to a stream sink: the weaker promise.
		ack = AckCommitted
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return failErr != nil }
	wait := func() error {
		wg.Wait()
		if failErr != nil {
			st := status.Convert(failErr)
			return status.Errorf(st.Code(), "%s (events from index %d on may not be stored; all before are)", st.Message(), failAt)
		}
		return nil
	}
	for !failed() {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errors.Join(err, wait())
		}
		if d == nil || (msg.GetDataset() != "" && msg.GetDataset() != prevName) {
			if d, err = g.dataset(msg.GetDataset()); err != nil {
				return errors.Join(err, wait())
			}
			prevName = msg.GetDataset()
			if g.ackFor(d) == AckStream {
				ack = AckStream
			}
		}
		// The message's bytes stay reserved until its write is durable: the stream waits (and in
		// the end is refused) rather than pile decoded batches up in memory.
		release, err := g.ingestMem.acquire(ctx, int64(proto.Size(msg)))
		if err != nil {
			st := status.Convert(err)
			return errors.Join(status.Errorf(st.Code(), "%s (events from index %d on were not stored)", st.Message(), index), wait())
		}
		batch, out, err := g.decodeMessage(ctx, d, msg.GetEvents(), msg.GetJsonLines(), index)
		if err != nil {
			release()
			return errors.Join(err, wait())
		}
		first := index
		// Every event is either accepted or rejected, so this numbers the next message's first event.
		index += out.accepted + len(out.rejected)
		total.accepted += out.accepted
		total.rejected = append(total.rejected, out.rejected...)
		slots <- struct{}{}
		wg.Add(1)
		go func(ds string) {
			defer func() { release(); <-slots; wg.Done() }()
			if err := g.write(ctx, batch); err != nil {
				mu.Lock()
				if failAt < 0 || first < failAt {
					failAt, failErr = first, err
				}
				mu.Unlock()
				return
			}
			g.metrics.observeIngest(ds, "grpc", out.accepted, len(out.rejected))
		}(d.Name)
	}
	if err := wait(); err != nil {
		return err
	}
	if total.accepted == 0 && len(total.rejected) > 0 {
		return allRejected(total.rejected)
	}
	return stream.SendAndClose(&olapgatev1.IngestStreamResponse{
		Accepted: int64(total.accepted), Rejected: rejectionsProto(total.rejected), Ack: ack,
	})
}
