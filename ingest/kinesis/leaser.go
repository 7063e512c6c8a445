package kinesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/olapgate/olapgate/store"
)

// leaser holds this worker's leases, KCL-like. Every RenewInterval it renews the leases it
// holds, creates the leases of shards ListShards shows for the first time (every
// DiscoveryInterval, and at once when a shard of its ends), and takes leases: free ones,
// expired ones (their counter has not moved for Duration, by this worker's clock: no clocks
// are compared across workers), and, to balance, one per round from a worker holding more
// than its share (the active leases over the live workers, rounded up). A shard is leased
// only once each parent's lease is checkpointed closed (or the parent is gone), so a parent's
// records are committed before any of its children's, whoever reads them.
//
// It is also the source's checkpoints: a checkpoint is a conditional write on the lease's
// owner and epoch, so a worker that lost a lease (even one that took it back since) cannot
// move it.
type leaser struct {
	s          *Source
	t          *leaseTable
	me         string
	dur, every time.Duration

	mu   sync.Mutex
	held map[string]*holding // shard → this worker's holding of its lease
	info map[string]shardInfo

	// Owned by the leaser's goroutine.
	ready      bool                // the table exists
	seen       map[string]sighting // lease → its counter, and when this worker first saw it
	listed     map[string]bool     // shards of the last ListShards → closed (has an ending sequence number)
	discoverAt time.Time
	failures   int

	changed chan struct{} // the set of leases held changed: the run goroutine reloads
	kick    chan struct{} // a shard ended: look for its children now
	stop    context.CancelFunc
	done    chan struct{}
}

// holding is this worker's hold on a lease.
type holding struct {
	epoch   int64
	renewed time.Time // last successful renewal (or the take)
}

// shardInfo is what the run goroutine needs of a leased shard besides its checkpoint.
type shardInfo struct {
	parents []string
	closed  bool
	// afterParent: a parent has a lease, so this source read it: the shard starts at
	// TRIM_HORIZON whatever StartPosition says.
	afterParent bool
}

type sighting struct {
	counter int64
	at      time.Time
}

func newLeaser(s *Source) *leaser {
	lc := s.cfg.Leases
	me := lc.WorkerID
	if me == "" {
		me = defaultWorkerID()
	}
	return &leaser{s: s, t: newLeaseTable(s.cfg, s.creds), me: me, dur: lc.Duration, every: lc.RenewInterval,
		held: map[string]*holding{}, info: map[string]shardInfo{}, seen: map[string]sighting{}, listed: map[string]bool{},
		changed: make(chan struct{}, 1), kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// defaultWorkerID is <hostname>-<8 random hex digits>: unique per process start, so a restarted
// instance never mistakes its previous life's leases for held ones.
func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "olapgate"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// start runs the leaser until halt.
func (l *leaser) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	go l.run(ctx)
}

// halt stops the leaser's goroutine and waits for it; the leases stay held until they expire
// unless released.
func (l *leaser) halt() {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	l.t.tr.CloseIdleConnections()
}

func (l *leaser) run(ctx context.Context) {
	defer close(l.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
			l.discoverAt = time.Time{}
		}
		wait := l.every
		if err := l.round(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			l.failures++
			wait = min(wait, backoff(l.failures))
			l.s.log.Warn("kinesis: lease round", "table", l.t.name, "err", err)
		} else {
			l.failures = 0
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// round renews, discovers when due, and takes what this worker should hold.
func (l *leaser) round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(l.every, apiTimeout))
	defer cancel()
	if !l.ready {
		if err := l.t.ensure(ctx); err != nil {
			return err
		}
		l.ready = true
	}
	l.renew(ctx)
	if now := time.Now(); !now.Before(l.discoverAt) {
		if err := l.discover(ctx); err != nil {
			l.discoverAt = now.Add(backoff(l.failures + 1))
			return err
		}
		l.discoverAt = now.Add(l.s.cfg.DiscoveryInterval)
	}
	return l.balance(ctx)
}

// renew renews every lease held; one taken by another worker, or not renewed for a whole
// lease duration (it may have been taken), is dropped.
func (l *leaser) renew(ctx context.Context) {
	for shard, h := range l.holdings() {
		err := l.t.renew(ctx, shard, l.me, h.epoch)
		now := time.Now()
		switch {
		case err == nil:
			l.mu.Lock()
			h.renewed = now
			l.mu.Unlock()
		case errors.Is(err, errLeaseLost):
			l.s.log.Info("kinesis: lease taken by another worker", "shard", shard)
			l.drop(shard, h.epoch)
		case now.Sub(h.renewed) > l.dur:
			l.s.log.Warn("kinesis: lease not renewed for a lease duration; letting it go", "shard", shard, "err", err)
			l.drop(shard, h.epoch)
		default:
			l.s.log.Warn("kinesis: renew lease", "shard", shard, "err", err)
		}
	}
}

// discover lists the stream's shards and creates the leases of new ones, parents first.
func (l *leaser) discover(ctx context.Context) error {
	shards, err := l.s.listShards(ctx)
	if err != nil {
		return err
	}
	known, err := l.t.list(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, k := range known {
		exists[k.shard] = true
	}
	clear(l.listed)
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		l.listed[id] = sh.SequenceNumberRange != nil && aws.ToString(sh.SequenceNumberRange.EndingSequenceNumber) != ""
		if exists[id] {
			continue
		}
		var parents []string
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if aws.ToString(p) != "" {
				parents = append(parents, aws.ToString(p))
			}
		}
		// ListShards lists parents before their children: a child's lease never exists
		// without its parents'.
		if err := l.t.create(ctx, id, parents); err != nil {
			return err
		}
	}
	return nil
}

// balance reads the table and takes the leases this worker should hold.
func (l *leaser) balance(ctx context.Context) error {
	leases, err := l.t.list(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	byShard := map[string]*lease{}
	fresh := map[string]sighting{}
	for i := range leases {
		ls := &leases[i]
		byShard[ls.shard] = ls
		if s, ok := l.seen[ls.shard]; ok && s.counter == ls.counter {
			fresh[ls.shard] = s
		} else {
			fresh[ls.shard] = sighting{counter: ls.counter, at: now}
		}
	}
	l.seen = fresh
	held := l.holdings()
	expired := func(ls *lease) bool { return now.Sub(l.seen[ls.shard].at) > l.dur }
	// Live workers and what they hold; a finished lease counts for nobody.
	load := map[string][]*lease{l.me: nil}
	var candidates []*lease
	for i := range leases {
		ls := &leases[i]
		if ls.closed() {
			if h := held[ls.shard]; h != nil && ls.owner == l.me && ls.epoch == h.epoch {
				// Read to its end: let it go (nobody takes a closed lease).
				if err := l.t.release(ctx, ls.shard, l.me, h.epoch); err != nil && !errors.Is(err, errLeaseLost) {
					return err
				}
				l.drop(ls.shard, h.epoch)
			}
			continue
		}
		if h := held[ls.shard]; h != nil {
			if ls.owner != l.me || ls.epoch != h.epoch {
				l.s.log.Info("kinesis: lease taken by another worker", "shard", ls.shard, "owner", ls.owner)
				l.drop(ls.shard, h.epoch)
			} else {
				load[l.me] = append(load[l.me], ls)
				continue
			}
		}
		switch {
		case ls.owner == "" || ls.owner == l.me || expired(ls):
			// Free; or this worker's from an earlier life (same workerId); or its owner
			// stopped renewing it.
			if l.parentsDone(ls, byShard) {
				candidates = append(candidates, ls)
			}
		default:
			load[ls.owner] = append(load[ls.owner], ls)
		}
	}
	active := 0
	for _, ls := range load {
		active += len(ls)
	}
	active += len(candidates)
	target := (active + len(load) - 1) / len(load)
	need := target - len(load[l.me])
	// Free leases first, then expired ones, each in shard order.
	slices.SortFunc(candidates, func(a, b *lease) int {
		if (a.owner == "") != (b.owner == "") {
			if a.owner == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.shard, b.shard)
	})
	took := false
	for _, ls := range candidates {
		if need <= 0 {
			break
		}
		if l.takeLease(ctx, ls, byShard) {
			need--
			took = true
		}
	}
	if need > 0 && !took {
		// Steal one lease from the most loaded worker above its share: it finds out at its
		// next renewal, and its checkpoints are refused from now on.
		victim := ""
		for owner, ls := range load {
			if owner != l.me && len(ls) > target && (victim == "" || len(ls) > len(load[victim]) || len(ls) == len(load[victim]) && owner < victim) {
				victim = owner
			}
		}
		if victim != "" {
			ls := slices.Clone(load[victim])
			slices.SortFunc(ls, func(a, b *lease) int { return strings.Compare(b.shard, a.shard) })
			for _, c := range ls {
				if l.parentsDone(c, byShard) {
					if l.takeLease(ctx, c, byShard) {
						l.s.log.Info("kinesis: lease stolen to balance", "shard", c.shard, "from", victim)
					}
					break
				}
			}
		}
	}
	return nil
}

// parentsDone reports whether every parent of the shard is checkpointed closed, or gone (no
// lease, and not listed: trimmed past retention).
func (l *leaser) parentsDone(ls *lease, byShard map[string]*lease) bool {
	for _, p := range ls.parents {
		if pl := byShard[p]; pl != nil {
			if !pl.closed() {
				return false
			}
		} else if _, listed := l.listed[p]; listed {
			return false // its lease is not created yet
		}
	}
	return true
}

// takeLease takes a lease as seen; false when another worker moved it first.
func (l *leaser) takeLease(ctx context.Context, seen *lease, byShard map[string]*lease) bool {
	got, err := l.t.take(ctx, *seen, l.me)
	if err != nil {
		if !errors.Is(err, errLeaseLost) {
			l.s.log.Warn("kinesis: take lease", "shard", seen.shard, "err", err)
		}
		return false
	}
	info := shardInfo{parents: got.parents, closed: l.listed[got.shard]}
	for _, p := range got.parents {
		if byShard[p] != nil {
			info.afterParent = true
		}
	}
	l.mu.Lock()
	l.held[got.shard] = &holding{epoch: got.epoch, renewed: time.Now()}
	l.info[got.shard] = info
	l.mu.Unlock()
	l.s.log.Debug("kinesis: lease taken", "shard", got.shard, "epoch", got.epoch, "from", seen.owner)
	l.notify()
	return true
}

// holdings is a snapshot of the leases held (the holdings themselves are shared).
func (l *leaser) holdings() map[string]*holding {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*holding, len(l.held))
	for k, v := range l.held {
		out[k] = v
	}
	return out
}

// drop forgets a holding of the given epoch (a newer one stays) and tells the run goroutine.
func (l *leaser) drop(shard string, epoch int64) {
	l.mu.Lock()
	h := l.held[shard]
	gone := h != nil && h.epoch == epoch
	if gone {
		delete(l.held, shard)
	}
	l.mu.Unlock()
	if gone {
		l.notify()
	}
}

func (l *leaser) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// shardEnded asks for a discovery and a round now: the shard's children may be leased.
func (l *leaser) shardEnded() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// shardInfo is what the leaser knows of a held shard.
func (l *leaser) shardInfo(shard string) shardInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info[shard]
}

// load reads the checkpoints of the leases held ("" for a shard not committed yet); a lease
// found taken is dropped.
func (l *leaser) load(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for shard, h := range l.holdings() {
		ls, ok, err := l.t.get(ctx, shard)
		if err != nil {
			return nil, err
		}
		if !ok || ls.owner != l.me || ls.epoch != h.epoch {
			l.drop(shard, h.epoch)
			continue
		}
		out[shard] = ls.checkpoint
	}
	return out, nil
}

// save writes checkpoints of leases held, each conditional on the holding.
func (l *leaser) save(ctx context.Context, moves []store.Position) error {
	for _, m := range moves {
		l.mu.Lock()
		h := l.held[m.Partition]
		l.mu.Unlock()
		if h == nil {
			return fmt.Errorf("checkpoint %s: %w", m.Partition, errLeaseLost)
		}
		if err := l.t.checkpoint(ctx, m.Partition, l.me, h.epoch, m.Next); err != nil {
			if errors.Is(err, errLeaseLost) {
				l.drop(m.Partition, h.epoch)
			}
			return err
		}
	}
	return nil
}

// releaseAll gives up every lease held, so other workers take them at once (after the final
// commit of a shutdown).
func (l *leaser) releaseAll(ctx context.Context) error {
	var errs []error
	for shard, h := range l.holdings() {
		if err := l.t.release(ctx, shard, l.me, h.epoch); err != nil && !errors.Is(err, errLeaseLost) {
			errs = append(errs, err)
		}
		l.drop(shard, h.epoch)
	}
	return errors.Join(errs...)
}
