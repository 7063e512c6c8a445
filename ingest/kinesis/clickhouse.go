package kinesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/store"
)

// chWriter inserts ranges into ClickHouse with tokens derived from them.
type chWriter struct {
	st        pipeline.InsertWriter
	withToken func(ctx context.Context, token string) context.Context
}

// seqRange is a shard's records [first, last] read since its last checkpoint, inserted with
// tokens derived from the range. exact marks a pending range read again after a crash or a
// failure: its bounds are the recorded ones (so are its tokens), whatever was read of it.
type seqRange struct {
	first, last string
	recs        []*pipeline.Record
	exact       bool
}

// token is the insert_deduplication_token prefix of a range's rows of one dataset (the store
// appends /0, /1, ... per INSERT).
func (s *Source) token(shardID string, r *seqRange, ds string) string {
	return s.name + "/" + s.cfg.Stream + "/" + shardID + "/" + r.first + "-" + r.last + "/" + ds
}

// takeRange adds the records of one Kinesis record (a KPL aggregate's user records, or the
// record itself) to the shard's ranges: the pending range being replayed while the sequence
// number is within it, else the open range.
func (s *Source) takeRange(sh *shard, seq string, recs ...*pipeline.Record) {
	if sh.replayTo != "" && seqAfter(seq, sh.replayTo) {
		sh.replayFrom, sh.replayTo = "", "" // the replayed range is complete
	}
	var r *seqRange
	if n := len(sh.ranges); n > 0 {
		r = sh.ranges[n-1]
	}
	switch {
	case sh.replayTo != "":
		if r == nil {
			r = &seqRange{first: sh.replayFrom, last: sh.replayTo, exact: true}
			sh.ranges = append(sh.ranges, r)
		}
		if seq == sh.replayTo {
			sh.replayFrom, sh.replayTo = "", ""
		}
	case r == nil || r.exact:
		r = &seqRange{first: seq, last: seq}
		sh.ranges = append(sh.ranges, r)
	default:
		r.last = seq
	}
	r.recs = append(r.recs, recs...)
	s.held += len(recs)
}

// chUnit is a range ready to insert: its rows decoded, one batch per dataset and one of dead
// letters.
type chUnit struct {
	sh      *shard
	r       *seqRange
	batches []*store.Batch
}

// flushRanges commits what the shards read to ClickHouse. Round by round (a shard's replayed
// range, then its new one): each range's checkpoint is recorded as pending, then its rows
// are inserted with tokens derived from it; finally each shard's checkpoint is moved to its
// last record (closed:<last> at its end). A shard still replaying a pending range waits until
// the range is read whole: inserted in part, its tokens would not be the first attempt's.
func (s *Source) flushRanges(ctx context.Context) (pipeline.Counts, []store.Position, error) {
	counts := pipeline.Counts{Accepted: map[string]int{}, Rejected: map[string]int{}}
	ids := make([]string, 0, len(s.shards))
	for id, sh := range s.shards {
		if sh.finished || (sh.replayTo != "" && !sh.ended) {
			continue
		}
		if len(sh.ranges) > 0 || (sh.next() != "" && sh.next() != sh.stored) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return pipeline.Counts{}, nil, nil
	}
	slices.Sort(ids)
	// Decode first: a pipeline bug records nothing.
	var rounds [][]*chUnit
	for _, id := range ids {
		sh := s.shards[id]
		for i, r := range sh.ranges {
			for _, rec := range r.recs {
				s.pipe.Add(rec)
			}
			batches, c, err := s.pipe.Flush()
			if err != nil {
				return counts, nil, fmt.Errorf("decode shard %s: %w", id, err)
			}
			addCounts(counts, c)
			if i == len(rounds) {
				rounds = append(rounds, nil)
			}
			rounds[i] = append(rounds[i], &chUnit{sh: sh, r: r, batches: batches})
		}
	}
	cur := map[string]string{}
	for _, id := range ids {
		cur[id] = s.shards[id].stored
	}
	for _, round := range rounds {
		var pending []store.Position
		for _, u := range round {
			if u.r.exact {
				continue // recorded before the crash or failure
			}
			next := pendingPosition(u.r.first, u.r.last)
			pending = append(pending, store.Position{Partition: u.sh.id, Prev: cur[u.sh.id], Next: next})
			cur[u.sh.id] = next
		}
		// Conditional: a consumer that lost the shard is refused here, before it inserts.
		if err := s.cp.save(ctx, pending); err != nil {
			return counts, nil, fmt.Errorf("record the ranges to insert: %w", err)
		}
		for _, u := range round {
			for _, b := range u.batches {
				if _, err := s.ch.st.Write(s.ch.withToken(ctx, s.token(u.sh.id, u.r, b.Dataset.Name)), b); err != nil {
					return counts, nil, fmt.Errorf("insert shard %s sequence numbers %s-%s into %s: %w", u.sh.id, u.r.first, u.r.last, b.Dataset.Name, err)
				}
			}
		}
	}
	var done []store.Position
	for _, id := range ids {
		if next := s.shards[id].next(); next != "" && next != cur[id] {
			done = append(done, store.Position{Partition: id, Prev: cur[id], Next: next})
		}
	}
	if err := s.cp.save(ctx, done); err != nil {
		return counts, nil, fmt.Errorf("checkpoint after the inserts: %w", err)
	}
	for _, p := range done {
		cur[p.Partition] = p.Next
	}
	for _, id := range ids {
		sh := s.shards[id]
		s.held -= heldIn(sh.ranges)
		sh.ranges, sh.stored = nil, cur[id]
		if sh.ended {
			sh.replayFrom, sh.replayTo = "", ""
		}
	}
	if s.held > 0 {
		// Shards still replaying: their records wait another MaxWait.
		s.oldest = time.Now()
	}
	return counts, done, nil
}

func heldIn(rs []*seqRange) int {
	n := 0
	for _, r := range rs {
		n += len(r.recs)
	}
	return n
}

func addCounts(dst, src pipeline.Counts) {
	for k, v := range src.Accepted {
		dst.Accepted[k] += v
	}
	for k, v := range src.Rejected {
		dst.Rejected[k] += v
	}
}

// errNoCheckpoints refuses a ClickHouse source with nowhere to keep its checkpoints.
var errNoCheckpoints = errors.New("datasets on clickhouse need somewhere to keep checkpoints: leases (a DynamoDB table), or the embedded store (WithPositionStore)")
