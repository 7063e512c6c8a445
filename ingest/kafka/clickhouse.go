package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// pendingPrefix starts the metadata of a group offset committed at the start of a range that
// is about to be inserted: "pending:<last offset>".
const pendingPrefix = "pending:"

// chUnit is one partition's offset range [start, last] and its rows (one batch per dataset,
// then the dead letters), inserted with tokens derived from the range. exact marks a range
// read again after a crash or a failure: it must keep its bounds (its tokens are those of the
// first attempt), so it is never merged with a neighbour.
type chUnit struct {
	tp          topicPartition
	start, last int64
	batches     []*store.Batch
	exact       bool
}

// chCommitter commits flushes to ClickHouse: for each partition's range, the group offset of
// the range start with metadata "pending:<last>", then the inserts with tokens derived from
// (source, topic, partition, start, last, dataset), then the group offset last+1. See the
// package doc.
type chCommitter struct {
	s         *Source
	st        pipeline.InsertWriter
	withToken func(ctx context.Context, token string) context.Context
	// failed is the epoch of the last failed write: the jobs handed off before the source
	// rewound after it are refused, since their ranges follow one that may not be inserted
	// (committing their offsets would skip it). The embedded store refuses them by their
	// expected positions.
	failed atomic.Int64
}

// errEarlierFailed refuses a job queued behind a failed one.
var errEarlierFailed = errors.New("an earlier commit failed; the source rewinds")

func (c *chCommitter) mirrorsGroup() bool { return false }

// token is the insert_deduplication_token prefix of a range's rows of one dataset (the store
// appends /0, /1, ... per INSERT of Config.InsertRows rows).
func (c *chCommitter) token(u *chUnit, ds string) string {
	return c.s.name + "/" + u.tp.topic + "/" + strconv.Itoa(int(u.tp.part)) + "/" +
		strconv.FormatInt(u.start, 10) + "-" + strconv.FormatInt(u.last, 10) + "/" + ds
}

// write inserts the jobs' ranges. Consecutive ranges of a partition are merged into one
// (bigger inserts, one token), unless one is exact. Each round takes at most one range per
// partition: it records the rounds' ranges as pending in the group, inserts them, and the
// next round's pending offsets (or the final commit) mark them done.
func (c *chCommitter) write(ctx context.Context, jobs []*commitJob) error {
	epoch := int64(-1)
	for _, j := range jobs {
		epoch = max(epoch, j.epoch)
		if j.epoch <= c.failed.Load() {
			return errEarlierFailed
		}
	}
	err := c.writeRanges(ctx, jobs)
	if err != nil {
		c.failed.Store(epoch)
	}
	return err
}

func (c *chCommitter) writeRanges(ctx context.Context, jobs []*commitJob) error {
	lanes := map[topicPartition][]*chUnit{}
	var order []topicPartition
	for _, j := range jobs {
		for _, u := range j.units {
			l, ok := lanes[u.tp]
			if !ok {
				order = append(order, u.tp)
			}
			if n := len(l); n > 0 && !u.exact && !l[n-1].exact && l[n-1].last < u.start {
				l[n-1] = mergeUnits(l[n-1], u)
				continue
			}
			lanes[u.tp] = append(l, u)
		}
	}
	for r := 0; ; r++ {
		var round []*chUnit
		for _, tp := range order {
			if l := lanes[tp]; r < len(l) {
				round = append(round, l[r])
			}
		}
		if len(round) == 0 {
			break
		}
		marks := make([]offsetMark, 0, len(round))
		for _, u := range round {
			marks = append(marks, offsetMark{tp: u.tp, offset: u.start, metadata: pendingPrefix + strconv.FormatInt(u.last, 10)})
		}
		// Fenced by the group generation: a member that lost the partition is refused here,
		// before it inserts anything.
		if err := c.commitOffsets(ctx, marks); err != nil {
			return fmt.Errorf("record the ranges to insert: %w", err)
		}
		for _, u := range round {
			for _, b := range u.batches {
				if _, err := c.st.Write(c.withToken(ctx, c.token(u, b.Dataset.Name)), b); err != nil {
					return fmt.Errorf("insert %s offsets %d-%d: %w", u.tp.key(), u.start, u.last, err)
				}
			}
		}
	}
	done := make([]offsetMark, 0, len(order))
	for _, tp := range order {
		l := lanes[tp]
		done = append(done, offsetMark{tp: tp, offset: l[len(l)-1].last + 1})
	}
	if err := c.commitOffsets(ctx, done); err != nil {
		return fmt.Errorf("commit offsets after the inserts: %w", err)
	}
	return nil
}

// mergeUnits is a's range followed by b's, in fresh batches (a job's batches stay as they
// were, should the write fail).
func mergeUnits(a, b *chUnit) *chUnit {
	m := &chUnit{tp: a.tp, start: a.start, last: b.last}
	at := map[*dataset.Dataset]*store.Batch{}
	for _, u := range []*chUnit{a, b} {
		for _, ub := range u.batches {
			mb := at[ub.Dataset]
			if mb == nil {
				mb = store.NewBatch(ub.Dataset, ub.N)
				at[ub.Dataset] = mb
				m.batches = append(m.batches, mb)
			}
			mb.Append(ub)
		}
	}
	return m
}

// client is the source's client, once Start has made it (group callbacks may run before
// NewClient returns).
func (c *chCommitter) client(ctx context.Context) (*kgo.Client, error) {
	select {
	case <-c.s.clSet:
		return c.s.cl, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// offsetMark is a group offset to commit, with its metadata.
type offsetMark struct {
	tp       topicPartition
	offset   int64
	metadata string
}

// commitOffsets commits group offsets with metadata as the current member and generation
// (kgo's commits carry no metadata of the caller's), so a member that is no longer in the
// generation is refused.
func (c *chCommitter) commitOffsets(ctx context.Context, marks []offsetMark) error {
	if len(marks) == 0 {
		return nil
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	member, gen := cl.GroupMetadata()
	if gen < 0 || member == "" {
		return errors.New("not a member of the group")
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = c.s.cfg.Group, gen, member
	at := map[string]int{}
	for _, m := range marks {
		i, ok := at[m.tp.topic]
		if !ok {
			i = len(req.Topics)
			at[m.tp.topic] = i
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = m.tp.topic
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = m.tp.part, m.offset, -1
		meta := m.metadata
		p.Metadata = &meta
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// OffsetCommit v10+ names topics by ID (kgo fills them in for its own commits only).
	meta := kmsg.NewPtrMetadataRequest()
	for _, t := range req.Topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t.Topic)
		meta.Topics = append(meta.Topics, mt)
	}
	mresp, err := cl.RequestCachedMetadata(ctx, meta, 0)
	if err != nil {
		return fmt.Errorf("topic ids: %w", err)
	}
	for _, mt := range mresp.Topics {
		if mt.Topic != nil {
			if i, ok := at[*mt.Topic]; ok {
				req.Topics[i].TopicID = mt.TopicID
			}
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	return commitResponseErr(resp)
}

// resume reads the group's committed offsets of the partitions, with their metadata: a
// "pending:<last>" range is inserted again before anything after it.
func (c *chCommitter) resume(ctx context.Context, parts []topicPartition) (map[string]resumePos, error) {
	out := map[string]resumePos{}
	if len(parts) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = c.s.cfg.Group
	at := map[string]int{}
	for _, tp := range parts {
		i, ok := at[tp.topic]
		if !ok {
			i = len(req.Topics)
			at[tp.topic] = i
			t := kmsg.NewOffsetFetchRequestTopic()
			t.Topic = tp.topic
			req.Topics = append(req.Topics, t)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.part)
	}
	req.RequireStable = true
	cl, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("fetch group offsets: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch group offsets: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("fetch group offset of %s/%d: %w", t.Topic, p.Partition, err)
			}
			if p.Offset < 0 {
				continue
			}
			r := resumePos{next: p.Offset, pendingTo: -1}
			if p.Metadata != nil && strings.HasPrefix(*p.Metadata, pendingPrefix) {
				last, err := strconv.ParseInt(strings.TrimPrefix(*p.Metadata, pendingPrefix), 10, 64)
				if err != nil || last < p.Offset {
					return nil, fmt.Errorf("group offset of %s/%d: metadata %q is not a pending range from %d", t.Topic, p.Partition, *p.Metadata, p.Offset)
				}
				r.pendingTo = last
			}
			out[topicPartition{t.Topic, p.Partition}.key()] = r
		}
	}
	return out, nil
}

// handOffRangesLocked is handOffLocked for ClickHouse targets (room waited for): what the
// pipeline holds is decoded partition by partition, each partition's records one range.
func (s *Source) handOffRangesLocked() error {
	if s.pipe.Len() == 0 {
		return nil
	}
	byPart := map[string][]*pipeline.Record{}
	for i := range s.recs {
		r := &s.recs[i]
		k := r.Stream + "/" + r.Partition
		byPart[k] = append(byPart[k], r)
	}
	s.pipe.Reset()
	owned := make(map[string]topicPartition, len(s.parts))
	for tp, ps := range s.parts {
		owned[ps.pname] = tp
	}
	names := make([]string, 0, len(byPart))
	for k := range byPart {
		names = append(names, k)
	}
	slices.Sort(names)
	j := &commitJob{counts: pipeline.Counts{Accepted: map[string]int{}, Rejected: map[string]int{}}}
	for _, k := range names {
		tp, ok := owned[k]
		if !ok {
			continue // not ours any more (never: revoked partitions are flushed first)
		}
		ps := s.parts[tp]
		for _, r := range byPart[k] {
			s.pipe.Add(r)
		}
		batches, counts, err := s.pipe.Flush()
		if err != nil {
			return s.decodeFailedLocked(err)
		}
		start := ps.sentOff
		if start < 0 {
			start = ps.resume
		}
		j.units = append(j.units, &chUnit{tp: tp, start: start, last: ps.next - 1, batches: batches})
		j.positions = append(j.positions, store.Position{Partition: ps.pname, Prev: ps.sent, Next: strconv.FormatInt(ps.next, 10)})
		j.moved = append(j.moved, ps)
		j.nextOff = append(j.nextOff, ps.next)
		addCounts(j.counts, counts)
		j.events += len(byPart[k])
	}
	s.dropRecs() // the batches hold copies
	if len(j.units) == 0 {
		return nil
	}
	return s.sendLocked(j)
}

// handOffReplayLocked hands off a partition's pending range, read again in full: one exact
// range with the bounds (and so the tokens) recorded before the first attempt.
func (s *Source) handOffReplayLocked(ps *partState) error {
	if s.aborted.Load() {
		return nil
	}
	if err := s.waitRoomLocked(len(ps.replay)); err != nil {
		return err // rewound: the partition's pending range is read again
	}
	var tp topicPartition
	for t, p := range s.parts {
		if p == ps {
			tp = t
		}
	}
	recs, start, last := ps.replay, ps.sentOff, ps.replayTo
	ps.replay, ps.replayTo = nil, -1
	ps.next = max(ps.next, last+1)
	s.rpipe.Reset()
	for i := range recs {
		s.rpipe.Add(&recs[i])
	}
	batches, counts, err := s.rpipe.Flush()
	if err != nil {
		return s.decodeFailedLocked(err)
	}
	s.log.Info("kafka: inserting a pending range again (ClickHouse drops what landed before)", "partition", ps.pname, "from", start, "to", last, "records", len(recs))
	return s.sendLocked(&commitJob{
		units:     []*chUnit{{tp: tp, start: start, last: last, batches: batches, exact: true}},
		positions: []store.Position{{Partition: ps.pname, Prev: ps.sent, Next: strconv.FormatInt(last+1, 10)}},
		moved:     []*partState{ps},
		nextOff:   []int64{last + 1},
		counts:    counts,
		events:    len(recs),
	})
}

// decodeFailedLocked handles a pipeline bug as handOffLocked does: nothing is handed off,
// everything is read again after a backoff.
func (s *Source) decodeFailedLocked(err error) error {
	s.log.Error("kafka: decode batch", "err", err)
	s.m.commits.WithLabelValues(s.name, "error").Inc()
	s.pipe.Reset()
	if s.rpipe != nil {
		s.rpipe.Reset()
	}
	if derr := s.drainLocked(); derr != nil {
		return derr // rewound already
	}
	s.rewindLocked(s.writeCtx)
	return fmt.Errorf("kafka source %s: decode batch: %w", s.cfg.Name, err)
}

func addCounts(dst, src pipeline.Counts) {
	for k, v := range src.Accepted {
		dst.Accepted[k] += v
	}
	for k, v := range src.Rejected {
		dst.Rejected[k] += v
	}
}
