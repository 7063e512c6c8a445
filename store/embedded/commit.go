package embedded

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// The write path. DuckDB fsyncs its WAL on every commit, so commits are the scarce resource:
// one goroutine, the committer, owns a connection and turns whatever callers queued meanwhile
// (up to MaxCommitRows) into one transaction: group commit. In that transaction it
//
//  1. drops, in Go, rows whose event id repeats one kept earlier in the same commit; asks the
//     in-memory key filter (filter.go) about the others, and appends the (seq, key, time) of
//     those it cannot prove new to the dataset's TEMP probe table on its own connection (temp
//     tables never reach the WAL);
//  2. marks in the probe the rows whose key is already stored within the window (see
//     schema.go), reads their seq back, and appends the keys of the rows it keeps to the
//     event-id table;
//  3. appends every surviving row through the Appender straight into the dataset table (two
//     Appenders filled in parallel for a large commit, see appendRows);
//  4. COMMITs, and only then answers each caller, each with its own result.
//
// The brief sketched staging whole rows in a TEMP table and moving them with INSERT … SELECT;
// that was the first version. Its INSERT … SELECT copy cost 10-20 ms per 10k-row batch, about
// as much as appending the batch in the first place, which held a dataset without eventId to
// 65-80% of BenchmarkAppenderBaseline. Staging only what deduplication needs and appending the
// rows once, into the table, brings it to the baseline, and atomicity is unchanged: the appends
// are part of the same transaction. The dataset tables still carry no PRIMARY KEY: one
// duplicate would make the Appender drop its whole batch.

type reqKind int

const (
	kindWrite reqKind = iota
	kindEnsure
)

type request struct {
	kind  reqKind
	parts []reqPart        // kindWrite: one for Write, any number for WritePositioned
	d     *dataset.Dataset // kindEnsure
	ctx   context.Context  // kindEnsure: the DDL runs under the caller's context

	// WritePositioned only: the partitions the commit moves (positions.go).
	source    string
	positions []store.Position

	// mu guards gone. The committer holds it while it reads b, so a caller that gives up can
	// wait for that and then be sure its batch is no longer touched.
	mu   sync.Mutex
	gone bool

	done chan error // buffered: the committer never blocks on a caller that left
}

// reqPart is one batch of a write request.
type reqPart struct {
	b  *store.Batch
	ds *dsState // the dataset as validated by Write
}

// rows is the number of rows the request carries.
func (r *request) rows() int {
	n := 0
	for _, p := range r.parts {
		n += p.b.N
	}
	return n
}

// abandon is called by a caller whose context ended. On return the committer no longer reads
// the request's batch, and never will.
func (r *request) abandon() {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
}

func (s *Store) submit(ctx context.Context, r *request) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return store.ErrClosed
	}
	select {
	case s.queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return store.ErrClosed
	}
}

func (s *Store) await(ctx context.Context, r *request) error {
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		r.abandon()
		return ctx.Err()
	case <-s.committerDone:
		// The committer answers before it exits, so an empty done means it never saw r (r was
		// queued after the final drain).
		select {
		case err := <-r.done:
			return err
		default:
			return store.ErrClosed
		}
	}
}

// Write stores the batch and returns once it is durable (committed, WAL synced). Its dataset
// must have been ensured with the same columns. On a dataset with an eventId, a row whose id is
// already stored on a row within DedupWindow of its time, or kept earlier in the same commit
// within the window, is acknowledged but not stored again. Rows with a null id or a null time
// are always stored.
//
// If ctx ends first, Write returns ctx.Err(): when the batch was still queued it is never
// stored; when the committer had already taken it, it may or may not be committed. Retrying
// such a batch is safe on a dataset with an eventId; otherwise it may store the rows twice.
// The batch is not touched once Write returns.
func (s *Store) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	if b == nil || b.Dataset == nil {
		return store.WriteResult{}, errors.New("write: batch has no dataset")
	}
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	s.mu.RLock()
	ds := s.datasets[strings.ToLower(b.Dataset.Name)]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return store.WriteResult{}, store.ErrClosed
	}
	if ds == nil {
		return store.WriteResult{}, fmt.Errorf("write %s: dataset not ensured on this store", b.Dataset.Name)
	}
	if err := checkBatch(ds, b); err != nil {
		return store.WriteResult{}, fmt.Errorf("write %s: %w", b.Dataset.Name, err)
	}
	if b.N == 0 {
		return store.WriteResult{}, nil
	}
	r := &request{kind: kindWrite, parts: []reqPart{{b: b, ds: ds}}, done: make(chan error, 1)}
	if err := s.submit(ctx, r); err != nil {
		return store.WriteResult{}, err
	}
	if err := s.await(ctx, r); err != nil {
		if errors.Is(err, store.ErrClosed) || errors.Is(err, ctx.Err()) {
			return store.WriteResult{}, err
		}
		return store.WriteResult{}, fmt.Errorf("write %s: %w", b.Dataset.Name, err)
	}
	return store.WriteResult{Rows: b.N}, nil
}

// checkBatch verifies that b has ds's layout, so that a malformed batch fails alone instead of
// failing the group commit it would have joined.
func checkBatch(ds *dsState, b *store.Batch) error {
	if len(b.Cols) != len(ds.cols) {
		return fmt.Errorf("batch has %d columns, dataset has %d", len(b.Cols), len(ds.cols))
	}
	if b.N < 0 {
		return fmt.Errorf("batch has %d rows", b.N)
	}
	for i, c := range ds.cols {
		col := &b.Cols[i]
		if col.Type != c.Type {
			return fmt.Errorf("column %s: batch has type %s, dataset %s", c.Name, col.Type, c.Type)
		}
		var n int
		switch c.Type {
		case dataset.String:
			n = len(col.Strings)
		case dataset.Int:
			n = len(col.Ints)
		case dataset.Float:
			n = len(col.Floats)
		case dataset.Bool:
			n = len(col.Bools)
		case dataset.Timestamp:
			n = len(col.Times)
		}
		if n != b.N {
			return fmt.Errorf("column %s: %d values for %d rows", c.Name, n, b.N)
		}
		if col.Null != nil && len(col.Null) != b.N {
			return fmt.Errorf("column %s: %d null flags for %d rows", c.Name, len(col.Null), b.N)
		}
	}
	return nil
}

// sameLayout reports whether two states describe the same batch layout.
func sameLayout(a, b *dsState) bool {
	if len(a.cols) != len(b.cols) {
		return false
	}
	for i := range a.cols {
		if !strings.EqualFold(a.cols[i].Name, b.cols[i].Name) || a.cols[i].Type != b.cols[i].Type {
			return false
		}
	}
	return true
}

// run is the committer goroutine.
func (s *Store) run() {
	defer close(s.committerDone)
	var carried *request // taken from the queue but not fit into the previous group
	for {
		first := carried
		carried = nil
		if first == nil {
			select {
			case first = <-s.queue:
			case <-s.quit:
				// Flush: commit what is queued, then stop. Writers racing with the close
				// get ErrClosed from await.
				select {
				case first = <-s.queue:
				default:
					return
				}
			}
		}
		if first.kind == kindEnsure {
			first.mu.Lock()
			gone := first.gone
			first.mu.Unlock()
			if !gone {
				first.done <- s.ensure(first.ctx, first.d)
			}
			continue
		}
		group := []*request{first}
		rows := first.rows()
	gather:
		for rows < s.cfg.MaxCommitRows {
			select {
			case r := <-s.queue:
				if r.kind != kindWrite || rows+r.rows() > s.cfg.MaxCommitRows {
					carried = r
					break gather
				}
				group = append(group, r)
				rows += r.rows()
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

func (s *Store) commitGroup(group []*request) {
	// A request whose dataset was re-ensured after Write validated it is moved to the new
	// state when the layout is unchanged; otherwise it fails alone.
	s.mu.RLock()
	live := group[:0]
requests:
	for _, r := range group {
		for i := range r.parts {
			p := &r.parts[i]
			cur := s.datasets[strings.ToLower(p.ds.name)]
			switch {
			case cur == p.ds:
			case cur != nil && sameLayout(cur, p.ds):
				p.ds = cur
			default:
				r.done <- fmt.Errorf("dataset %s was redeclared with other columns while the write was queued", p.ds.name)
				continue requests
			}
		}
		live = append(live, r)
	}
	s.mu.RUnlock()
	// A positioned write whose expected positions are stale fails alone, before it can fail
	// the commit it would have shared.
	live = s.refuseStalePositions(live)
	if len(live) == 0 {
		return
	}
	err := s.commit(live)
	if err != nil && len(live) > 1 && s.runCtx.Err() == nil {
		// One bad batch must not fail the batches it happened to share a commit with:
		// commit each alone so only it gets the error.
		for _, r := range live {
			r.done <- s.commit([]*request{r})
		}
		return
	}
	for _, r := range live {
		r.done <- err
	}
}

// commitWork is one dataset's share of a commit.
type commitWork struct {
	ds   *dsState
	bs   []*store.Batch
	skip [][]bool // per batch in bs: rows not to store (duplicates); nil when none

	// Deduplication only.
	ids     idSet
	refs    []probeRow // by probe seq
	checks  int        // rows DuckDB checks (the filter could not prove them new)
	lo, hi  int64      // time range of those rows, unix micros
	deduped int
}

// probeRow is a row with an event id that the commit keeps unless DuckDB finds it stored.
// Its index is its seq in the probe table.
type probeRow struct {
	req, row int32 // index in commitWork.bs, row in its batch
	key      [2]uint64
	t        int64
	dup      bool // already stored
}

// commit stores the requests' rows in one transaction. It answers no one.
func (s *Store) commit(group []*request) error {
	start := time.Now()
	// Hold every request for as long as its batch is read, so that a caller that gives up
	// (abandon) waits for that and can then reuse its batch; skip those already gone.
	var live []*request
	for _, r := range group {
		r.mu.Lock()
		if r.gone {
			r.mu.Unlock()
			continue
		}
		live = append(live, r)
	}
	released := false
	release := func() {
		if !released {
			released = true
			for _, r := range live {
				r.mu.Unlock()
			}
		}
	}
	defer release()
	if len(live) == 0 {
		return nil
	}

	var work []*commitWork
	byDS := map[*dsState]*commitWork{}
	for _, r := range live {
		for _, p := range r.parts {
			if p.b.N == 0 {
				continue
			}
			w := byDS[p.ds]
			if w == nil {
				w = &commitWork{ds: p.ds}
				if p.ds.idCol >= 0 {
					w.ids.init(s.cfg.DedupWindow.Microseconds())
				}
				byDS[p.ds] = w
				work = append(work, w)
			}
			w.bs = append(w.bs, p.b)
			w.skip = append(w.skip, nil)
		}
	}
	moves, err := s.positionMoves(live)
	if err != nil {
		return err
	}

	var stored, deduped, checked int64
	err = s.commitCn.Raw(func(dc any) (err error) {
		c := committerConn{ctx: s.runCtx}
		var ok bool
		if c.conn, ok = dc.(driver.Conn); !ok {
			return fmt.Errorf("committer connection is %T, not a driver connection", dc)
		}
		if c.ex, ok = dc.(driver.ExecerContext); !ok {
			return fmt.Errorf("committer connection %T cannot exec", dc)
		}
		if c.q, ok = dc.(driver.QueryerContext); !ok {
			return fmt.Errorf("committer connection %T cannot query", dc)
		}
		for _, w := range work {
			if w.ds.idCol >= 0 && !w.ds.probeReady {
				// DDL before BEGIN: rolled back with a failed commit, it would leave
				// probeReady lying.
				if _, err := c.exec("create probe table", w.ds.createProbeSQL); err != nil {
					return err
				}
				w.ds.probeReady = true
			}
		}
		if _, err := c.exec("begin", "BEGIN TRANSACTION"); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				return
			}
			if _, rbErr := c.ex.ExecContext(context.WithoutCancel(c.ctx), "ROLLBACK", nil); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr), driver.ErrBadConn)
			}
		}()
		for _, w := range work {
			if w.ds.idCol < 0 {
				continue
			}
			if err := w.dedup(&c); err != nil {
				return fmt.Errorf("deduplicate %s: %w", w.ds.name, err)
			}
			deduped += int64(w.deduped)
			checked += int64(w.checks)
		}
		for _, w := range work {
			n, err := w.appendRows(&c)
			if err != nil {
				return fmt.Errorf("append %s rows: %w", w.ds.name, err)
			}
			stored += n
		}
		if err := moves.write(&c); err != nil {
			return err
		}
		release() // batches are no longer read
		_, err = c.exec("commit", "COMMIT")
		return err
	})
	if err != nil {
		s.stats.failed.Add(1)
		if errors.Is(err, driver.ErrBadConn) {
			s.replaceCommitConn()
		}
		if s.runCtx.Err() != nil {
			return fmt.Errorf("commit interrupted by shutdown: %w", err)
		}
		return err
	}
	s.positionsCommitted(moves)
	now := time.Now()
	for _, w := range work {
		if f := w.ds.filter; f != nil {
			for _, p := range w.refs {
				if !p.dup {
					f.add(p.key[0], p.t)
				}
			}
			f.trim(now)
		}
	}
	s.stats.commits.Add(1)
	s.stats.rows.Add(stored)
	s.stats.deduped.Add(deduped)
	s.stats.checked.Add(checked)
	s.stats.lastNanos.Store(int64(time.Since(start)))
	return nil
}

// committerConn is the committer's driver connection for the length of one commit.
type committerConn struct {
	ctx  context.Context
	conn driver.Conn
	ex   driver.ExecerContext
	q    driver.QueryerContext
}

func (c *committerConn) exec(what, q string) (int64, error) {
	res, err := c.ex.ExecContext(c.ctx, q, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", what, err)
	}
	return n, nil
}

// dedup marks in w.skip the rows that repeat an event id: kept earlier in this commit (decided
// in Go) or already stored (decided by the key filter, and by DuckDB for the rows the filter
// cannot prove new), and appends the keys of the rows to be stored to the event-id table.
func (w *commitWork) dedup(c *committerConn) (err error) {
	var probe *duckdb.Appender // opened on the first row DuckDB must check
	defer func() {
		if probe != nil {
			err = errors.Join(err, probe.Close())
		}
	}()
	id, tc := w.ds.idCol, w.ds.timeCol
	vals := make([]driver.Value, 5) // seq, h1, h2, t, dup (NULL)
	// Sized for the commit up front: growing refs and the id map row by row showed in the
	// profile.
	rows := 0
	for _, b := range w.bs {
		rows += b.N
	}
	w.refs = make([]probeRow, 0, rows)
	w.ids.first = make(map[[2]uint64]int64, rows)
	for ri, b := range w.bs {
		idc, tcol := &b.Cols[id], &b.Cols[tc]
		for i := 0; i < b.N; i++ {
			if idc.IsNull(i) || tcol.IsNull(i) {
				continue // never deduplicated
			}
			t := tcol.Times[i]
			key := eventKey(idc, i)
			if w.ids.dupOrAdd(key, t) {
				w.markSkip(ri, i)
				continue
			}
			if w.ds.filter.maybeStored(key[0], t) {
				if probe == nil {
					if probe, err = duckdb.NewAppenderFromConn(c.conn, "", w.ds.probe); err != nil {
						return fmt.Errorf("open probe appender: %w", err)
					}
				}
				if w.checks == 0 || t < w.lo {
					w.lo = t
				}
				if w.checks == 0 || t > w.hi {
					w.hi = t
				}
				w.checks++
				vals[0], vals[1], vals[2], vals[3] = int32(len(w.refs)), key[0], key[1], time.UnixMicro(t).UTC()
				if err := probe.AppendRow(vals...); err != nil {
					return fmt.Errorf("append to probe: %w", err)
				}
			}
			w.refs = append(w.refs, probeRow{req: int32(ri), row: int32(i), key: key, t: t})
		}
	}
	if probe != nil {
		p := probe
		probe = nil
		if err := p.Close(); err != nil {
			return fmt.Errorf("flush probe: %w", err)
		}
		lo, hi := addClamped(w.lo, -w.ids.window), addClamped(w.hi, w.ids.window)
		n, err := c.exec("find stored duplicates", fmt.Sprintf(w.ds.markDupSQL, lo, hi))
		if err != nil {
			return err
		}
		if n > 0 {
			if err := c.eachInt32(w.ds.dupSeqSQL, func(seq int32) error {
				if seq < 0 || int(seq) >= len(w.refs) {
					return fmt.Errorf("probe seq %d out of range", seq)
				}
				ref := &w.refs[seq]
				ref.dup = true
				w.markSkip(int(ref.req), int(ref.row))
				return nil
			}); err != nil {
				return fmt.Errorf("read stored duplicates: %w", err)
			}
		}
		if _, err := c.exec("clear probe", w.ds.clearProbeSQL); err != nil {
			return err
		}
	}
	if len(w.refs) == 0 {
		return nil
	}
	ids, err := duckdb.NewAppenderFromConn(c.conn, "", eventIDTableName(w.ds.name))
	if err != nil {
		return fmt.Errorf("open event-id appender: %w", err)
	}
	vals = vals[:3]
	for _, p := range w.refs {
		if p.dup {
			continue
		}
		vals[0], vals[1], vals[2] = p.key[0], p.key[1], time.UnixMicro(p.t).UTC()
		if err := ids.AppendRow(vals...); err != nil {
			return errors.Join(fmt.Errorf("record event ids: %w", err), ids.Close())
		}
	}
	if err := ids.Close(); err != nil {
		return fmt.Errorf("record event ids: %w", err)
	}
	return nil
}

// eachInt32 runs a one-column INTEGER query and calls f with each value.
func (c *committerConn) eachInt32(q string, f func(int32) error) (err error) {
	rows, err := c.q.QueryContext(c.ctx, q, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	dest := make([]driver.Value, 1)
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		v, ok := dest[0].(int32)
		if !ok {
			return fmt.Errorf("got %T, want int32", dest[0])
		}
		if err := f(v); err != nil {
			return err
		}
	}
}

func (w *commitWork) markSkip(req, row int) {
	if w.skip[req] == nil {
		w.skip[req] = make([]bool, w.bs[req].N)
	}
	if !w.skip[req][row] {
		w.skip[req][row] = true
		w.deduped++
	}
}

// appendRows appends the rows not skipped to the dataset table, in table column order.
//
// Filling the Appender (AppendRow: a SetValue and a driver.Value per value, in Go) is the
// largest CPU cost of a commit, and it touches no connection state: duckdb-go hands each full
// 2,048-row chunk to the Appender's own buffer in DuckDB (duckdb_append_data_chunk copies it
// there), and the buffer reaches the table, through the connection, only at Close, or by
// itself once it holds appenderFlushRows rows. So a commit of up to twice that fills two
// Appenders on two goroutines, one per contiguous half of the rows, and closes them in order,
// which keeps the rows in batch order (TestAppendRowsSplit); a larger one fills one Appender,
// so that no two flushes run on the connection at once. The committer otherwise leaves the
// second core idle while it fills: on this 2-core machine BenchmarkWrite/sample went from 54-55
// to 47-52 ms per 10k-row commit, and BenchmarkWriteVsBaseline from 0.64-0.71 to 0.70-0.85.
func (w *commitWork) appendRows(c *committerConn) (n int64, err error) {
	total := 0
	for _, b := range w.bs {
		total += b.N
	}
	nparts := 1
	if total >= parallelAppendRows && total <= 2*appenderFlushRows && runtime.GOMAXPROCS(0) >= 2 {
		nparts = 2
	}
	parts := make([]appendPart, nparts)
	defer func() {
		// In order: Close is when an Appender's rows reach the table.
		for i := range parts {
			if parts[i].app == nil {
				continue
			}
			if cerr := parts[i].app.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("flush appender: %w", cerr))
			}
		}
	}()
	for i := range parts {
		if parts[i].app, err = duckdb.NewAppenderFromConn(c.conn, "", w.ds.name); err != nil {
			return 0, fmt.Errorf("open appender: %w", err)
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < nparts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.fill(&parts[i], total*i/nparts, total*(i+1)/nparts)
		}()
	}
	w.fill(&parts[0], 0, total/nparts)
	wg.Wait()
	for i := range parts {
		n += parts[i].n
		if parts[i].err != nil {
			err = errors.Join(err, parts[i].err)
		}
	}
	return n, err
}

// parallelAppendRows is the smallest commit whose rows appendRows fills on two goroutines.
const parallelAppendRows = 4096

// appenderFlushRows is when a DuckDB Appender writes its buffered rows to the table by itself
// (BaseAppender's flush count: 100 chunks of 2,048 rows).
const appenderFlushRows = 100 * 2048

// appendPart is one Appender of appendRows and what filling it came to.
type appendPart struct {
	app *duckdb.Appender
	n   int64
	err error
}

// fill appends to p the rows not skipped among rows [from, to) of the requests' batches, taken
// one after the other.
func (w *commitWork) fill(p *appendPart, from, to int) {
	vals := make([]driver.Value, len(w.ds.order)) // columns the dataset no longer declares stay nil
	base := 0
	for ri, b := range w.bs {
		lo, hi := max(from-base, 0), min(to-base, b.N)
		base += b.N
		skip := w.skip[ri]
		for i := lo; i < hi; i++ {
			if skip != nil && skip[i] {
				continue
			}
			for j, k := range w.ds.order {
				if k >= 0 {
					vals[j] = b.Cols[k].Value(i)
				}
			}
			if err := p.app.AppendRow(vals...); err != nil {
				p.err = err
				return
			}
			p.n++
		}
	}
}

// replaceCommitConn swaps a committer connection that failed to roll back for a fresh one.
// Its probe tables die with it and are recreated on next use.
func (s *Store) replaceCommitConn() {
	cn, err := s.db.Conn(s.runCtx)
	if err != nil {
		return // keep the old one; the next commit reports the trouble
	}
	_ = s.commitCn.Close() // already broken: its error says nothing new
	s.commitCn = cn
	s.mu.RLock()
	for _, ds := range s.datasets {
		ds.probeReady = false
	}
	s.mu.RUnlock()
}

// rowValues puts row i of b into vals as the Appender takes them (the benchmarks' raw Appender).
func rowValues(b *store.Batch, i int, vals []driver.Value) {
	for c := range b.Cols {
		vals[c] = b.Cols[c].Value(i)
	}
}

// idSet remembers the event keys (and their times) kept so far in one commit.
type idSet struct {
	window int64
	first  map[[2]uint64]int64   // key → time of its first kept row
	more   map[[2]uint64][]int64 // further kept times of a key: only ids repeated beyond the window
}

func (m *idSet) init(window int64) {
	m.window = window
	m.first = map[[2]uint64]int64{}
}

// dupOrAdd reports whether key was kept earlier in the commit at a time within the window of
// t; if not, it records it.
func (m *idSet) dupOrAdd(key [2]uint64, t int64) bool {
	first, seen := m.first[key]
	if !seen {
		m.first[key] = t
		return false
	}
	if within(first, t, m.window) {
		return true
	}
	for _, x := range m.more[key] {
		if within(x, t, m.window) {
			return true
		}
	}
	if m.more == nil {
		m.more = map[[2]uint64][]int64{}
	}
	m.more[key] = append(m.more[key], t)
	return false
}

func within(a, b, window int64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= window
}

// Event times beyond ±2^62 µs (146,000 years) are clamped so that adding the window cannot
// overflow; DuckDB's TIMESTAMP range is wider.
const maxBound = int64(1) << 62

func addClamped(t, d int64) int64 {
	switch {
	case t > maxBound-d && d > 0:
		return maxBound
	case t < -maxBound-d && d < 0:
		return -maxBound
	}
	return t + d
}
