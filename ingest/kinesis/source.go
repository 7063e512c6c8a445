package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// ClosedPrefix starts the stored position of a shard that has been read to its end and
// committed: "closed:<last sequence number>" ("closed:" when it held no record for this
// source). Its children may then be read; the shard is never read again.
const ClosedPrefix = "closed:"

const (
	// busyInterval is the pause between GetRecords calls of a shard that is behind: Kinesis
	// allows five per second per shard.
	busyInterval = 200 * time.Millisecond
	// apiTimeout bounds one Kinesis call.
	apiTimeout = 30 * time.Second
	// Backoff after throttling or errors: exponential from minBackoff to maxBackoff, with
	// jitter.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Option adjusts a Source beyond its Config.
type Option func(*Source)

// WithCredentials signs requests with p (e.g. an AWS SDK provider chain with instance roles
// or SSO), overriding credentials.source.
func WithCredentials(p aws.CredentialsProvider) Option { return func(s *Source) { s.creds = p } }

// WithPositionStore is where a source whose datasets are on ClickHouse keeps its checkpoints
// when it has no lease table: the positions of the server's embedded store (one instance
// reads the stream). Ignored otherwise.
func WithPositionStore(ps store.PositionedWriter) Option { return func(s *Source) { s.posStore = ps } }

// Store is what a source writes to: a store.PositionedWriter (the embedded store: rows and
// positions in one transaction) for datasets on the embedded backend, or a store.Store whose
// Write honours clickhouse.WithInsertToken (store/clickhouse) for datasets on ClickHouse.
type Store interface {
	EnsureDataset(ctx context.Context, d *dataset.Dataset) error
}

// Source reads the shards of a Kinesis stream into the embedded store (rows and positions in
// one commit) or into ClickHouse (idempotent inserts, then checkpoints), exactly once in
// effect. See the package doc.
type Source struct {
	cfg      Config
	target   Store
	st       store.PositionedWriter // the embedded store, when the datasets are there
	ch       *chWriter              // ClickHouse, when the datasets are there; nil otherwise
	cp       checkpoints            // where the shards' positions are kept
	posStore store.PositionedWriter // WithPositionStore
	leases   *leaser                // with Config.Leases (made by Start): the shards held, and cp
	log      *slog.Logger
	m        *metrics
	name     string // "kinesis:<name>": the store's source key and the metrics' source label
	dlq      *dataset.Dataset
	creds    aws.CredentialsProvider
	kc       *kinesis.Client
	tr       *http.Transport // the client's: its idle connections are closed on shutdown

	runCtx     context.Context // cancelled by Shutdown: stop reading, flush, stop
	stopRun    context.CancelFunc
	writeCtx   context.Context // cancelled when Shutdown's deadline passes: abandon writes
	stopWrites context.CancelFunc
	done       chan struct{}
	startOnce  sync.Once
	started    atomic.Bool
	shutOnce   sync.Once
	shutErr    error
	finalErr   error // the final flush's, set before done closes

	// Owned by the run goroutine.
	pipe        *pipeline.Pipeline
	held        int  // records held in the shards' ranges (ClickHouse targets)
	flushSoon   bool // a shard was marked ended without a record: checkpoint it closed now
	shards      map[string]*shard
	oldest      time.Time // when the oldest pending record was added
	results     chan fetch
	readers     sync.WaitGroup
	readCtx     context.Context
	stopReaders context.CancelFunc
	discoverAt  time.Time
	discoverErr int // consecutive failed discoveries

	// Test hooks: aborted makes the source stop without flushing (a crash); afterCommit sees
	// the positions of each successful commit, afterTake the records held after each answer
	// taken, afterRewind each rewind; they run on the run goroutine and are set before Start.
	aborted     atomic.Bool
	afterCommit func([]store.Position)
	afterTake   func(held int)
	afterRewind func()
}

// shard is what the source knows of one shard.
type shard struct {
	id      string
	parents []string // ParentShardId, AdjacentParentShardId when set
	listed  bool     // in the last ListShards answer
	closed  bool     // has an ending sequence number (it was split or merged)
	// stored is the shard's position in the store ("" none; a sequence number; or
	// ClosedPrefix+seq). last is the sequence number of the last record handed to the
	// pipeline, or of the stored position when nothing was handed since.
	stored, last string
	// ended: the reader reached the shard's end; the next commit stores it closed.
	// finished: that commit happened (or, under LATEST, the shard was closed before this
	// source ever read it): its children may be read.
	ended, finished bool
	rd              *reader // the running reader, nil when none
	// afterParent: with leases, a parent of the shard has a lease (this source read it), so
	// the shard starts at TRIM_HORIZON.
	afterParent bool
	// ClickHouse targets: the ranges read since the last checkpoint, oldest first; and the
	// pending range [replayFrom, replayTo] recorded before a crash or failure, read again
	// (from replayFrom) until its last record is.
	ranges               []*seqRange
	replayFrom, replayTo string
}

// next is the position the next commit stores for the shard, "" for none.
func (sh *shard) next() string {
	if sh.ended {
		return ClosedPrefix + sh.last
	}
	return sh.last
}

// reader reads one shard on its own goroutine, handing what it reads to the run goroutine.
type reader struct {
	shard string
	from  iteratorSpec
}

// iteratorSpec is where a shard iterator starts.
type iteratorSpec struct {
	typ types.ShardIteratorType
	seq string    // AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER
	at  time.Time // AT_TIMESTAMP
}

func (sp iteratorSpec) String() string {
	switch sp.typ {
	case types.ShardIteratorTypeAfterSequenceNumber:
		return "after " + sp.seq
	case types.ShardIteratorTypeAtSequenceNumber:
		return "at " + sp.seq
	case types.ShardIteratorTypeAtTimestamp:
		return "at " + sp.at.Format(time.RFC3339Nano)
	}
	return string(sp.typ)
}

// fetch is one GetRecords answer of a reader.
type fetch struct {
	rd           *reader
	records      []types.Record
	millisBehind int64
	end          bool // the shard is closed and every record of it was read
}

// New returns a source reading into st. datasets are the declared datasets (validated); the
// ones the stream routes to must all be on one backend (Config.Backend): embedded, with st a
// store.PositionedWriter, or clickhouse, with st a store.Store over ClickHouse and either
// Config.Leases or WithPositionStore for the checkpoints. They must be ensured on st before
// Start, which ensures the dead-letter dataset itself (on the same backend). reg may be nil
// (no metrics), log nil (discard).
func New(cfg Config, st Store, datasets []*dataset.Dataset, reg prometheus.Registerer, log *slog.Logger, opts ...Option) (*Source, error) {
	byName := map[string]*dataset.Dataset{}
	for _, d := range datasets {
		byName[d.Name] = d
	}
	if err := cfg.Validate(func(n string) bool { return byName[n] != nil }); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("kinesis source %s: no store", cfg.Name)
	}
	backend, err := cfg.Backend(func(n string) *dataset.Dataset { return byName[n] })
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, target: st, log: log, name: "kinesis:" + cfg.Name, shards: map[string]*shard{},
		results: make(chan fetch), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	route := cfg.route()
	if s.dlq, err = pipeline.DeadLetterDataset(cfg.DeadLetter.Dataset); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(s)
	}
	switch backend {
	case dataset.BackendClickHouse:
		w, ok := st.(pipeline.InsertWriter)
		if !ok {
			return nil, fmt.Errorf("kinesis source %s: datasets on clickhouse need a store that takes writes (got %T)", cfg.Name, st)
		}
		// Dead letters are rows of a ClickHouse table, inserted like the rows.
		s.dlq.Backend = dataset.BackendClickHouse
		s.ch = &chWriter{st: w, withToken: clickhouse.WithInsertToken}
		switch {
		case cfg.Leases != nil:
			// The lease table, made on Start.
		case s.posStore != nil:
			s.cp = storePositions{st: s.posStore, source: s.name}
		default:
			return nil, fmt.Errorf("kinesis source %s: %w", cfg.Name, errNoCheckpoints)
		}
	default:
		pw, ok := st.(store.PositionedWriter)
		if !ok {
			return nil, fmt.Errorf("kinesis source %s: datasets on the embedded backend need a store that commits positions (got %T)", cfg.Name, st)
		}
		s.st = pw
		s.cp = storePositions{st: pw, source: s.name}
	}
	if s.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("kinesis source %s: register metrics: %w", cfg.Name, err)
	}
	s.pipe, err = pipeline.New(pipeline.Config{
		Source:     s.name,
		Route:      func(string) *pipeline.Route { return route }, // one stream per source
		Datasets:   func(n string) *dataset.Dataset { return byName[n] },
		DeadLetter: s.dlq,
	})
	if err != nil {
		return nil, err
	}
	if s.creds == nil {
		s.creds = cfg.Credentials.provider()
	}
	s.runCtx, s.stopRun = context.WithCancel(context.Background())
	s.writeCtx, s.stopWrites = context.WithCancel(context.Background())
	return s, nil
}

// provider turns the credentials configuration into a provider.
func (c CredentialsConfig) provider() aws.CredentialsProvider {
	if c.Source == CredentialsStatic {
		creds := aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey, SessionToken: c.SessionToken, Source: "olapgate config"}
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		creds := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "environment"}
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
			return aws.Credentials{}, errors.New("kinesis credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (or set credentials.source: static)")
		}
		return creds, nil
	})
}

// DeadLetterDataset is the dataset this source's dead letters go to (for listing it).
func (s *Source) DeadLetterDataset() *dataset.Dataset { return s.dlq }

// Start ensures the dead-letter dataset and starts reading. ctx bounds the start only; the
// source runs until Shutdown. The stream need not be reachable yet: the source retries.
func (s *Source) Start(ctx context.Context) error {
	err := errors.New("kinesis source: already started")
	s.startOnce.Do(func() { err = s.start(ctx) })
	return err
}

func (s *Source) start(ctx context.Context) error {
	if err := s.target.EnsureDataset(ctx, s.dlq); err != nil {
		return fmt.Errorf("kinesis source %s: ensure dead-letter dataset: %w", s.cfg.Name, err)
	}

	o := kinesis.Options{
		Region:      s.cfg.Region,
		Credentials: s.creds,
		// The source retries itself, with its own backoff, and counts throttling.
		Retryer: aws.NopRetryer{},
	}
	if s.cfg.Endpoint != "" {
		o.BaseEndpoint = aws.String(s.cfg.Endpoint)
	}
	s.tr = http.DefaultTransport.(*http.Transport).Clone()
	o.HTTPClient = &http.Client{Transport: s.tr}
	s.kc = kinesis.New(o)
	if s.cfg.Leases != nil {
		s.leases = newLeaser(s)
		s.cp = s.leases
		s.leases.start()
	}
	s.started.Store(true)
	go s.run()
	return nil
}

// Shutdown stops reading and commits what was read (rows and positions, one transaction; or
// the inserts, then the checkpoints), then releases the leases held, if any. If ctx ends
// first, the write in progress is abandoned (its records are read again after a restart;
// nothing is lost or stored twice). Safe to call twice, and before Start.
func (s *Source) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() { s.shutErr = s.shutdown(ctx) })
	return s.shutErr
}

func (s *Source) shutdown(ctx context.Context) error {
	s.startOnce.Do(func() {}) // a later Start is refused
	s.stopRun()
	defer s.stopWrites()
	if !s.started.Load() {
		return nil
	}
	var errs []error
	select {
	case <-s.done:
		if s.finalErr != nil {
			errs = append(errs, fmt.Errorf("kinesis source %s: shutdown: final flush: %w", s.cfg.Name, s.finalErr))
		}
	case <-ctx.Done():
		s.stopWrites()
		<-s.done
		errs = append(errs, fmt.Errorf("kinesis source %s: shutdown: final flush: %w", s.cfg.Name, ctx.Err()))
	}
	if s.leases != nil {
		// Renewed until the final commit; released after it, so other workers take the
		// shards at once rather than after a lease duration.
		s.leases.halt()
		if err := s.leases.releaseAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kinesis source %s: shutdown: release leases: %w", s.cfg.Name, err))
		}
		s.leases.t.tr.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// abort is a crash, for tests: reading stops without a flush; nothing read since the last
// commit is stored.
func (s *Source) abort() {
	s.aborted.Store(true)
	s.startOnce.Do(func() {})
	s.shutOnce.Do(func() {
		s.stopRun()
		s.stopWrites()
		if s.started.Load() {
			<-s.done
			if s.leases != nil {
				s.leases.halt() // the leases expire: other workers take them after a duration
			}
		}
	})
}

// leaseChanges is the leaser's signal that the leases held changed; nil (never ready)
// without leases.
func (s *Source) leaseChanges() <-chan struct{} {
	if s.leases == nil {
		return nil
	}
	return s.leases.changed
}

// run is the coordinator: it owns the shards, the pipeline and the commits; readers hand it
// what they read.
func (s *Source) run() {
	defer close(s.done)
	defer s.tr.CloseIdleConnections()
	s.readCtx, s.stopReaders = context.WithCancel(s.runCtx)
	defer func() { s.stopAllReaders() }()
	if !s.loadPositions() {
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	failures := 0
	for {
		now := time.Now()
		if s.leases != nil {
			s.discoverAt = now.Add(time.Hour) // the leaser discovers
		} else if !now.Before(s.discoverAt) {
			s.discover()
			now = time.Now()
		}
		wake := s.discoverAt
		if s.heldLen() > 0 {
			wake = minTime(wake, s.oldest.Add(s.cfg.Batch.MaxWait))
		}
		if s.flushSoon {
			wake = now
		}
		timer.Reset(max(wake.Sub(now), 0))
		flush := false
		select {
		case <-s.runCtx.Done():
			s.stopAllReaders()
			if !s.aborted.Load() {
				s.finalErr = s.flush(s.writeCtx)
			}
			return
		case f := <-s.results:
			s.take(f)
			flush = s.heldLen() >= s.cfg.Batch.MaxEvents || f.end
		case <-timer.C:
			flush = s.flushSoon || s.heldLen() > 0 && !time.Now().Before(s.oldest.Add(s.cfg.Batch.MaxWait))
		case <-s.leaseChanges():
			// Commit what was read, then read the shards held now from their checkpoints.
			if err := s.flush(s.writeCtx); err != nil {
				if s.runCtx.Err() == nil {
					failures++
					s.rewind(backoff(failures))
				}
				continue
			}
			s.rewind(0)
			continue
		}
		if !flush {
			continue
		}
		s.flushSoon = false
		if err := s.flush(s.writeCtx); err != nil {
			if s.runCtx.Err() != nil {
				continue // shutting down: the final flush tries again
			}
			// The store refused or failed: read everything again from the stored positions,
			// after a backoff so a store that is down is not hammered.
			failures++
			s.rewind(backoff(failures))
			continue
		}
		failures = 0
		s.startReaders()
	}
}

// loadPositions reads the stored positions, retrying until it succeeds or the source stops.
func (s *Source) loadPositions() bool {
	for attempt := 1; ; attempt++ {
		stored, err := s.cp.load(s.runCtx)
		if err == nil {
			err = s.applyPositions(stored)
		}
		if err == nil {
			return true
		}
		if s.runCtx.Err() != nil {
			return false
		}
		s.log.Error("kinesis: read stored positions", "err", err)
		if !sleep(s.runCtx, backoff(attempt)) {
			return false
		}
	}
}

// applyPositions makes the stored positions the truth about every shard: what the pipeline
// held is gone, so each shard goes on from its stored position.
func (s *Source) applyPositions(stored map[string]string) error {
	for id, pos := range stored {
		if _, _, _, err := parsePending(pos); err != nil {
			return fmt.Errorf("shard %s: %w", id, err)
		}
		s.shardEntry(id)
	}
	if s.leases != nil {
		// The shards of the leases held, and only those, are read.
		for id := range s.shards {
			if _, ok := stored[id]; !ok {
				delete(s.shards, id)
				s.m.millisBehind.DeleteLabelValues(s.name, s.cfg.Stream, id)
			}
		}
		s.m.leasesHeld.WithLabelValues(s.name).Set(float64(len(stored)))
		for id := range stored {
			sh, info := s.shards[id], s.leases.shardInfo(id)
			sh.listed, sh.closed, sh.parents, sh.afterParent = true, info.closed, info.parents, info.afterParent
		}
	}
	s.held = 0
	for id, sh := range s.shards {
		pos := stored[id]
		sh.stored, sh.last, sh.ended, sh.ranges = pos, strings.TrimPrefix(pos, ClosedPrefix), false, nil
		// A pending range is read again from its first record, and inserted again whole.
		sh.replayFrom, sh.replayTo, _, _ = parsePending(pos)
		if sh.replayTo != "" {
			sh.last = ""
		}
		// Under LATEST a closed shard never read is finished without a stored position;
		// startReaders finds that again.
		sh.finished = strings.HasPrefix(pos, ClosedPrefix)
	}
	return nil
}

func (s *Source) shardEntry(id string) *shard {
	sh := s.shards[id]
	if sh == nil {
		sh = &shard{id: id}
		s.shards[id] = sh
	}
	return sh
}

// discover lists the stream's shards and starts readers for those that are ready.
func (s *Source) discover() {
	listed, err := s.listShards(s.runCtx)
	if err != nil {
		if s.runCtx.Err() != nil {
			return
		}
		s.discoverErr++
		s.discoverAt = time.Now().Add(backoff(s.discoverErr))
		if throttled(err) {
			s.m.throttles.WithLabelValues(s.name, "ListShards").Inc()
			s.log.Debug("kinesis: ListShards throttled", "err", err)
		} else {
			s.log.Warn("kinesis: list shards", "stream", s.cfg.Stream, "err", err)
		}
		return
	}
	s.discoverErr = 0
	s.discoverAt = time.Now().Add(s.cfg.DiscoveryInterval)
	for _, sh := range s.shards {
		sh.listed = false
	}
	for _, l := range listed {
		sh := s.shardEntry(aws.ToString(l.ShardId))
		sh.listed = true
		sh.parents = sh.parents[:0]
		for _, p := range []*string{l.ParentShardId, l.AdjacentParentShardId} {
			if aws.ToString(p) != "" {
				sh.parents = append(sh.parents, aws.ToString(p))
			}
		}
		sh.closed = l.SequenceNumberRange != nil && aws.ToString(l.SequenceNumberRange.EndingSequenceNumber) != ""
	}
	s.startReaders()
}

func (s *Source) listShards(ctx context.Context) ([]types.Shard, error) {
	var out []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.cfg.Stream)}
	for {
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		page, err := s.kc.ListShards(cctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", s.cfg.Stream, err)
		}
		out = append(out, page.Shards...)
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		// A continuation names the token only.
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

// ready reports whether every parent of the shard is finished, or gone from the stream
// (trimmed past its retention: nothing of it can be read any more).
func (s *Source) ready(sh *shard) bool {
	for _, p := range sh.parents {
		if ps := s.shards[p]; ps != nil && ps.listed && !ps.finished {
			return false
		}
	}
	return true
}

// from is where a reader of the shard starts.
func (s *Source) from(sh *shard) iteratorSpec {
	if sh.last != "" {
		return iteratorSpec{typ: types.ShardIteratorTypeAfterSequenceNumber, seq: sh.last}
	}
	if sh.replayFrom != "" {
		return iteratorSpec{typ: types.ShardIteratorTypeAtSequenceNumber, seq: sh.replayFrom}
	}
	if sh.afterParent {
		return iteratorSpec{typ: types.ShardIteratorTypeTrimHorizon}
	}
	for _, p := range sh.parents {
		if ps := s.shards[p]; ps != nil && ps.stored != "" {
			// A child of a shard this source read: every record of it follows.
			return iteratorSpec{typ: types.ShardIteratorTypeTrimHorizon}
		}
	}
	switch s.cfg.StartPosition {
	case StartLatest:
		return iteratorSpec{typ: types.ShardIteratorTypeLatest}
	case StartAtTimestamp:
		return iteratorSpec{typ: types.ShardIteratorTypeAtTimestamp, at: s.cfg.StartTimestamp}
	}
	return iteratorSpec{typ: types.ShardIteratorTypeTrimHorizon}
}

// startReaders starts a reader for every listed shard that is ready, parents first.
func (s *Source) startReaders() {
	if s.runCtx.Err() != nil {
		return
	}
	ids := make([]string, 0, len(s.shards))
	for id := range s.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for changed := true; changed; {
		changed = false
		for _, id := range ids {
			sh := s.shards[id]
			if !sh.listed || sh.finished || sh.ended || sh.rd != nil || !s.ready(sh) {
				continue
			}
			from := s.from(sh)
			if from.typ == types.ShardIteratorTypeLatest && sh.closed {
				// Nothing is ever after LATEST in a closed shard: it is done, and its
				// children start at LATEST too. Into ClickHouse it is checkpointed closed
				// (other instances wait for that), so its children start at TRIM_HORIZON.
				s.log.Debug("kinesis: closed shard skipped (LATEST)", "shard", sh.id)
				if s.ch != nil {
					sh.ended, s.flushSoon = true, true
					continue
				}
				sh.finished, changed = true, true
				continue
			}
			sh.rd = &reader{shard: sh.id, from: from}
			s.log.Debug("kinesis: reading shard", "shard", sh.id, "from", from.String())
			s.readers.Add(1)
			go s.read(s.readCtx, sh.rd)
		}
	}
}

// stopAllReaders stops every reader and waits for them.
func (s *Source) stopAllReaders() {
	s.stopReaders()
	s.readers.Wait()
	for _, sh := range s.shards {
		sh.rd = nil
	}
}

// rewind drops what the pipeline holds, waits, re-reads the stored positions (a write that
// timed out may have been committed) and reads every shard again from there.
func (s *Source) rewind(wait time.Duration) {
	s.stopAllReaders()
	s.pipe.Reset()
	s.readCtx, s.stopReaders = context.WithCancel(s.runCtx)
	s.held = 0
	for _, sh := range s.shards {
		sh.last, sh.ended, sh.ranges = strings.TrimPrefix(sh.stored, ClosedPrefix), false, nil
	}
	if !sleep(s.runCtx, wait) {
		return
	}
	for attempt := 1; ; attempt++ {
		stored, err := s.cp.load(s.runCtx)
		if err == nil {
			err = s.applyPositions(stored)
		}
		if err == nil {
			break
		}
		s.log.Error("kinesis: read stored positions", "err", err)
		if !sleep(s.runCtx, backoff(attempt)) {
			return
		}
	}
	if s.afterRewind != nil {
		s.afterRewind()
	}
	s.startReaders()
}

// take hands a reader's records to the pipeline.
func (s *Source) take(f fetch) {
	sh := s.shards[f.rd.shard]
	if sh == nil || sh.rd != f.rd || s.aborted.Load() {
		return // a reader stopped since
	}
	for i := range f.records {
		r := &f.records[i]
		seq := aws.ToString(r.SequenceNumber)
		if sh.last != "" && !seqAfter(seq, sh.last) {
			continue // read already (a reader restarted from an older position)
		}
		if s.heldLen() == 0 {
			s.oldest = time.Now()
		}
		at := aws.ToTime(r.ApproximateArrivalTimestamp)
		var recs []*pipeline.Record
		if subs, ok := deaggregate(r.Data); ok {
			// A KPL aggregate: its user records are taken together, so one commit holds them
			// all and the sequence number stays the position.
			for j, sub := range subs {
				recs = append(recs, &pipeline.Record{Stream: s.cfg.Stream, Partition: sh.id, Position: seq + "/" + strconv.Itoa(j),
					Key: sub.key, Value: sub.data, Time: at})
			}
		} else {
			recs = append(recs, &pipeline.Record{Stream: s.cfg.Stream, Partition: sh.id, Position: seq,
				Key: []byte(aws.ToString(r.PartitionKey)), Value: r.Data, Time: at})
		}
		if s.ch != nil {
			s.takeRange(sh, seq, recs...)
		} else {
			for _, rec := range recs {
				s.pipe.Add(rec)
			}
		}
		sh.last = seq
	}
	s.m.millisBehind.WithLabelValues(s.name, s.cfg.Stream, sh.id).Set(float64(f.millisBehind))
	if f.end {
		sh.ended, sh.rd = true, nil
		s.log.Debug("kinesis: shard read to its end", "shard", sh.id, "last", sh.last)
	}
	if s.afterTake != nil {
		s.afterTake(s.heldLen())
	}
}

// heldLen is the number of records read and not committed yet.
func (s *Source) heldLen() int {
	if s.ch != nil {
		return s.held
	}
	return s.pipe.Len()
}

// flush commits the records read and the shards' new positions: to the embedded store in one
// transaction, or to ClickHouse and then the checkpoints (flushRanges).
func (s *Source) flush(ctx context.Context) error {
	var (
		positions []store.Position
		counts    pipeline.Counts
		err       error
	)
	if s.ch != nil {
		counts, positions, err = s.flushRanges(ctx)
	} else {
		counts, positions, err = s.commitEmbedded(ctx)
	}
	if err != nil {
		outcome := "error"
		if errors.Is(err, store.ErrPositionConflict) {
			outcome = "conflict"
			s.log.Warn("kinesis: another consumer moved a shard; re-reading from the stored positions", "err", err)
		} else {
			s.log.Error("kinesis: store commit failed; re-reading from the stored positions", "err", err)
		}
		s.m.commits.WithLabelValues(s.name, outcome).Inc()
		return fmt.Errorf("kinesis source %s: commit batch: %w", s.cfg.Name, err)
	}
	if counts.Accepted == nil && len(positions) == 0 {
		return nil // nothing to commit
	}
	s.m.commits.WithLabelValues(s.name, "ok").Inc()
	for ds, n := range counts.Accepted {
		s.m.events.WithLabelValues(s.name, ds, "accepted").Add(float64(n))
	}
	dead := 0
	for ds, n := range counts.Rejected {
		if ds == "" {
			ds = "_unrouted"
		}
		s.m.events.WithLabelValues(s.name, ds, "rejected").Add(float64(n))
		dead += n
	}
	if dead > 0 {
		s.m.deadLetters.WithLabelValues(s.name).Add(float64(dead))
	}
	for _, p := range positions {
		sh := s.shards[p.Partition]
		sh.stored = p.Next
		if strings.HasPrefix(p.Next, ClosedPrefix) {
			sh.finished = true
			s.m.millisBehind.DeleteLabelValues(s.name, s.cfg.Stream, sh.id)
			// Its children may not be known yet.
			s.discoverAt = time.Now()
			if s.leases != nil {
				s.leases.shardEnded()
			}
		}
	}
	if s.afterCommit != nil {
		s.afterCommit(positions)
	}
	return nil
}

// commitEmbedded commits the pipeline's records and the shards' new positions to the
// embedded store in one transaction. Nothing to commit: zero Counts.
func (s *Source) commitEmbedded(ctx context.Context) (pipeline.Counts, []store.Position, error) {
	var positions []store.Position
	for _, sh := range s.shards {
		if sh.finished {
			continue
		}
		if next := sh.next(); next != "" && next != sh.stored {
			positions = append(positions, store.Position{Partition: sh.id, Prev: sh.stored, Next: next})
		}
	}
	if s.pipe.Len() == 0 && len(positions) == 0 {
		return pipeline.Counts{}, nil, nil
	}
	slices.SortFunc(positions, func(a, b store.Position) int { return strings.Compare(a.Partition, b.Partition) })
	batches, counts, err := s.pipe.Flush()
	if err == nil {
		_, err = s.st.WritePositioned(ctx, s.name, batches, positions)
	}
	return counts, positions, err
}

// read is a shard's reader: GetRecords in a loop, each answer handed to the run goroutine,
// until the shard ends or ctx does.
func (s *Source) read(ctx context.Context, rd *reader) {
	defer s.readers.Done()
	var iter *string
	after := "" // the last sequence number handed on
	lastMillis := int64(-1)
	for attempt := 0; ; {
		if iter == nil {
			from := rd.from
			if after != "" {
				from = iteratorSpec{typ: types.ShardIteratorTypeAfterSequenceNumber, seq: after}
			}
			it, err := s.shardIterator(ctx, rd.shard, from)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				attempt++
				s.callFailed("GetShardIterator", rd.shard, err)
				if !sleep(ctx, backoff(attempt)) {
					return
				}
				continue
			}
			iter = it
		}
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		out, err := s.kc.GetRecords(cctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(s.cfg.GetRecordsLimit)})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if apiCode(err) == "ExpiredIteratorException" {
				// Idle too long (the run goroutine was busy): a new iterator from the last
				// record handed on, or from where the reader started.
				s.log.Debug("kinesis: shard iterator expired; getting a new one", "shard", rd.shard)
				iter = nil
				continue
			}
			attempt++
			s.callFailed("GetRecords", rd.shard, err)
			if !throttled(err) {
				iter = nil // the iterator itself may be what is wrong
			}
			if !sleep(ctx, backoff(attempt)) {
				return
			}
			continue
		}
		attempt = 0
		f := fetch{rd: rd, records: out.Records, millisBehind: aws.ToInt64(out.MillisBehindLatest), end: out.NextShardIterator == nil}
		if len(f.records) > 0 || f.end || f.millisBehind != lastMillis {
			select {
			case s.results <- f:
			case <-ctx.Done():
				return
			}
			lastMillis = f.millisBehind
		}
		if n := len(out.Records); n > 0 {
			after = aws.ToString(out.Records[n-1].SequenceNumber)
		}
		if f.end {
			return
		}
		iter = out.NextShardIterator
		wait := s.cfg.PollInterval
		if len(out.Records) > 0 && (f.millisBehind > 0 || len(out.Records) >= int(s.cfg.GetRecordsLimit)) {
			wait = min(wait, busyInterval)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (s *Source) shardIterator(ctx context.Context, shardID string, from iteratorSpec) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.cfg.Stream), ShardId: aws.String(shardID), ShardIteratorType: from.typ}
	switch from.typ {
	case types.ShardIteratorTypeAfterSequenceNumber, types.ShardIteratorTypeAtSequenceNumber:
		in.StartingSequenceNumber = aws.String(from.seq)
	case types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(from.at)
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	out, err := s.kc.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get shard iterator of %s %s: %w", shardID, from, err)
	}
	if out.ShardIterator == nil {
		return nil, fmt.Errorf("get shard iterator of %s %s: no iterator in the answer", shardID, from)
	}
	return out.ShardIterator, nil
}

// callFailed counts and logs a failed Kinesis call that will be retried.
func (s *Source) callFailed(op, shardID string, err error) {
	if throttled(err) {
		s.m.throttles.WithLabelValues(s.name, op).Inc()
		s.log.Debug("kinesis: throttled; backing off", "op", op, "shard", shardID, "err", err)
		return
	}
	s.log.Warn("kinesis: call failed; retrying", "op", op, "shard", shardID, "err", err)
}

// apiCode is the AWS error code of err, "" when it is not an API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// throttled reports an error that asks the caller to slow down.
func throttled(err error) bool {
	switch apiCode(err) {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException", "ThrottlingException":
		return true
	}
	return false
}

// backoff is the wait before retry number attempt (1, 2, ...): exponential from minBackoff
// to maxBackoff, with jitter so readers throttled together do not retry together.
func backoff(attempt int) time.Duration {
	d := min(minBackoff<<min(max(attempt-1, 0), 16), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// seqAfter reports whether Kinesis sequence number a comes after b (both decimal, of up to
// 128 bits: longer is larger once leading zeros are gone).
func seqAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// sleep waits d or until ctx ends; it reports whether the wait was whole.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
