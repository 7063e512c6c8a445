package collector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// traceLookup keeps the trace-id lookup table (otel_traces_trace_id_ts) of a store that
// commits positions with rows (the embedded store) a little behind the spans, instead of in
// every span commit: a second table in each of the small commits an SDK's exports make cost a
// fifth of the collector's CPU (BENCHMARKS.md). The rows of committed spans wait here, merged
// per trace, and are written once a LookupFlush interval and at shutdown. Trace reads merge
// the waiting rows with the table's (bounds, asked before the table is read), so an
// acknowledged span is always found and a read never writes: writing on read put a commit in
// GetTrace's path and doubled its p99 under ingest.
//
// A crash loses the waiting rows, so the table carries a state, committed as a stream
// position: "dirty" from the first write after start until the last rows are written at a
// clean shutdown ("clean"). A start that finds it dirty first repairs the table from
// otel_traces (each trace whose spans reach outside its lookup rows, or that has none, gets a
// row covering them), which reads both tables once.
type traceLookup struct {
	st       store.PositionedWriter
	query    store.Store
	ds       *dataset.Dataset
	interval time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	pending  map[string]traceSpan
	inflight map[string]traceSpan // taken by the flush in progress, until it has committed

	flushMu sync.Mutex // one write of the table at a time; sync waits for one in progress
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	opened  bool // open marked the stored state dirty
}

type traceSpan struct{ lo, hi int64 }

// lookupSource and lookupPartition name the table's state among the store's positions.
const (
	lookupSource    = "olapgate-collector"
	lookupPartition = otelrows.TraceIDTsTable
	lookupDirty     = "dirty"
	lookupClean     = "clean"
	// lookupMaxPending writes the table early when this many traces wait, bounding memory.
	lookupMaxPending = 65536
)

func newTraceLookup(st store.PositionedWriter, query store.Store, ds *dataset.Dataset, interval time.Duration, log *slog.Logger) *traceLookup {
	return &traceLookup{
		st: st, query: query, ds: ds, interval: interval, log: log,
		pending: map[string]traceSpan{},
		wake:    make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// open repairs the table if the last run did not end cleanly, marks it dirty, and starts the
// periodic writer.
func (l *traceLookup) open(ctx context.Context) error {
	pos, err := l.st.Positions(ctx, lookupSource)
	if err != nil {
		return fmt.Errorf("read the trace-id lookup table's state: %w", err)
	}
	prev := pos[lookupPartition]
	// No state: the table was kept in the span commits (earlier versions) or is new.
	if prev == lookupDirty {
		if err := l.repair(ctx); err != nil {
			return err
		}
	}
	if _, err := l.st.WritePositioned(ctx, lookupSource, nil, []store.Position{{Partition: lookupPartition, Prev: prev, Next: lookupDirty}}); err != nil {
		return fmt.Errorf("mark the trace-id lookup table in use: %w", err)
	}
	l.opened = true
	go l.run()
	return nil
}

// repairSQL finds the traces whose spans the lookup table does not cover: no row, or spans
// starting before its first Start or after its last End.
const repairSQL = `SELECT t."TraceId", t.lo, t.hi FROM
  (SELECT "TraceId", min("Timestamp") AS lo, max("Timestamp") AS hi FROM "` + otelrows.TracesTable + `" WHERE "TraceId" <> '' GROUP BY "TraceId") AS t
  LEFT JOIN (SELECT "TraceId", min("Start") AS lo, max("End") AS hi FROM "` + otelrows.TraceIDTsTable + `" GROUP BY "TraceId") AS l
  ON t."TraceId" = l."TraceId"
  WHERE l."TraceId" IS NULL OR t.lo < l.lo OR t.hi > l.hi`

func (l *traceLookup) repair(ctx context.Context) error {
	start := time.Now()
	l.log.Info("the last run did not end cleanly: repairing the trace-id lookup table from otel_traces")
	res, err := l.query.Query(ctx, store.Statement{SQL: repairSQL, Output: []store.ResultColumn{
		{Name: "TraceId", Type: store.TypeString}, {Name: "lo", Type: store.TypeTimestamp}, {Name: "hi", Type: store.TypeTimestamp},
	}})
	if err != nil {
		return fmt.Errorf("repair the trace-id lookup table: %w", err)
	}
	b := store.NewBatch(l.ds, len(res.Rows))
	for _, r := range res.Rows {
		id, _ := r[0].(string)
		lo, ok1 := r[1].(time.Time)
		hi, ok2 := r[2].(time.Time)
		if id == "" || !ok1 || !ok2 {
			continue
		}
		appendLookupRow(b, id, traceSpan{lo.UnixMicro(), hi.UnixMicro()})
	}
	if b.N > 0 {
		if _, err := l.query.Write(ctx, b); err != nil {
			return fmt.Errorf("repair the trace-id lookup table: write %d rows: %w", b.N, err)
		}
	}
	l.log.Info("trace-id lookup table repaired", "traces", b.N, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func appendLookupRow(b *store.Batch, id string, s traceSpan) {
	b.Cols[otelrows.TraceIDTsStart].Times = append(b.Cols[otelrows.TraceIDTsStart].Times, s.lo)
	b.Cols[otelrows.TraceIDTsTraceID].Strings = append(b.Cols[otelrows.TraceIDTsTraceID].Strings, id)
	b.Cols[otelrows.TraceIDTsEnd].Times = append(b.Cols[otelrows.TraceIDTsEnd].Times, s.hi)
	b.N++
}

// add takes a batch of committed spans: each trace's first and last span start (the rows
// otelrows.TraceIDTimes would make) merged straight into the waiting rows, without building
// that batch. The sink calls it before it acknowledges the spans' exports.
func (l *traceLookup) add(spans *store.Batch) {
	ids := spans.Cols[otelrows.SpanTraceID].Strings
	ts := spans.Cols[otelrows.SpanTimestamp].Times
	l.mu.Lock()
	for i := 0; i < spans.N; i++ {
		id := ids[i]
		if id == "" {
			continue
		}
		s, ok := l.pending[id]
		if !ok {
			s = traceSpan{ts[i], ts[i]}
		} else {
			s.lo, s.hi = min(s.lo, ts[i]), max(s.hi, ts[i])
		}
		l.pending[id] = s
	}
	full := len(l.pending) >= lookupMaxPending
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// bounds is the first and last span start over the waiting rows of the traces ids; ok is
// false when none waits. Read it before the table: a row leaves memory only once the table
// holds it.
func (l *traceLookup) bounds(ids ...string) (lo, hi time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var span traceSpan
	for _, id := range ids {
		for _, m := range []map[string]traceSpan{l.pending, l.inflight} {
			s, found := m[id]
			if !found {
				continue
			}
			if !ok {
				span, ok = s, true
				continue
			}
			span.lo, span.hi = min(span.lo, s.lo), max(span.hi, s.hi)
		}
	}
	if !ok {
		return lo, hi, false
	}
	return time.UnixMicro(span.lo).UTC(), time.UnixMicro(span.hi).UTC(), true
}

// sync writes every waiting row: after it returns nil, the table covers every span committed
// before the call.
func (l *traceLookup) sync(ctx context.Context) error {
	return l.flush(ctx, nil)
}

// flush writes the waiting rows, with the positions given (in one commit). On failure the
// rows wait again.
func (l *traceLookup) flush(ctx context.Context, positions []store.Position) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	taken := l.pending
	if len(taken) == 0 && len(positions) == 0 {
		l.mu.Unlock()
		return nil
	}
	l.pending = make(map[string]traceSpan, len(taken))
	l.inflight = taken
	l.mu.Unlock()
	b := store.NewBatch(l.ds, len(taken))
	for id, s := range taken {
		appendLookupRow(b, id, s)
	}
	var err error
	if len(positions) > 0 {
		_, err = l.st.WritePositioned(ctx, lookupSource, []*store.Batch{b}, positions)
	} else {
		_, err = l.query.Write(ctx, b)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = nil
	if err != nil {
		for id, s := range taken {
			if p, ok := l.pending[id]; ok {
				s.lo, s.hi = min(s.lo, p.lo), max(s.hi, p.hi)
			}
			l.pending[id] = s
		}
		return fmt.Errorf("write %d trace-id lookup rows: %w", b.N, err)
	}
	return nil
}

func (l *traceLookup) run() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.wake:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(10*time.Second, 4*l.interval))
		if err := l.sync(ctx); err != nil {
			l.log.Warn("trace-id lookup rows not written yet; retrying", "err", err)
		}
		cancel()
	}
}

// close stops the periodic writer and writes the waiting rows with the clean state. Called
// after the span sink has written everything. An error leaves the state dirty: the next
// start repairs the table.
func (l *traceLookup) close(ctx context.Context) error {
	if !l.opened {
		return nil
	}
	l.opened = false
	close(l.stop)
	<-l.done
	if err := l.flush(ctx, []store.Position{{Partition: lookupPartition, Prev: lookupDirty, Next: lookupClean}}); err != nil {
		return fmt.Errorf("shutdown collector: trace-id lookup table: %w", err)
	}
	return nil
}
