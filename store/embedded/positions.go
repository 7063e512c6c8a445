package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olapgate/olapgate/store"
)

// Stream positions (DESIGN §6, exactly-once effect from streams). A stream source commits the
// rows it read and the position it read them up to in one transaction (WritePositioned), so
// that after a crash or a rebalance the stored position says exactly which records are in the
// tables: resuming from it neither loses nor repeats one.
//
// The positions live in _olapgate_positions (source, part, position, updated). Only the
// committer writes it, so its in-memory copy (Store.positions, loaded at Open, changed only
// after a COMMIT that moved it) is authoritative, and the expected-previous-position check is a
// map lookup done before BEGIN instead of a read inside every transaction. Like the metadata
// table it has no PRIMARY KEY: DuckDB 1.1 checks unique constraints eagerly, and a move is a
// DELETE and an INSERT of the same key in one transaction.
const positionsTable = "_olapgate_positions"

const createPositionsSQL = `CREATE TABLE IF NOT EXISTS ` + positionsTable + ` (source VARCHAR, part VARCHAR, position VARCHAR, updated TIMESTAMP)`

type posKey struct{ source, part string }

// maxPositionLen bounds partition names and positions (Kinesis sequence numbers have up to 128
// digits), so a confused caller cannot grow the table's rows without limit.
const maxPositionLen = 1024

// loadPositions reads the stored positions; Open calls it before the committer starts.
func (s *Store) loadPositions(ctx context.Context) (err error) {
	rows, err := s.commitCn.QueryContext(ctx, "SELECT source, part, position FROM "+positionsTable)
	if err != nil {
		return fmt.Errorf("read stream positions: %w", err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("read stream positions: %w", cerr)
		}
	}()
	s.positions = map[posKey]string{}
	for rows.Next() {
		var k posKey
		var pos string
		if err := rows.Scan(&k.source, &k.part, &pos); err != nil {
			return fmt.Errorf("read stream positions: %w", err)
		}
		s.positions[k] = pos
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read stream positions: %w", err)
	}
	return nil
}

// WritePositioned implements store.PositionedWriter: the batches (of any ensured datasets;
// event-id deduplication applies as in Write) and the source's new positions are committed in
// one transaction, possibly grouped with other writes. If a partition's stored position is not
// its Prev, the error wraps store.ErrPositionConflict and nothing is stored. Context and
// shutdown behave as in Write: after ctx.Err() the write may or may not be committed, which
// Positions tells.
func (s *Store) WritePositioned(ctx context.Context, source string, batches []*store.Batch, positions []store.Position) (store.WriteResult, error) {
	if err := checkPositions(source, positions); err != nil {
		return store.WriteResult{}, fmt.Errorf("positioned write for %s: %w", source, err)
	}
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	s.mu.RLock()
	closed := s.closed
	parts := make([]reqPart, 0, len(batches))
	var bad error
	for _, b := range batches {
		if b == nil || b.Dataset == nil {
			bad = errors.New("batch has no dataset")
			break
		}
		ds := s.datasets[strings.ToLower(b.Dataset.Name)]
		if ds == nil {
			bad = fmt.Errorf("dataset %s not ensured on this store", b.Dataset.Name)
			break
		}
		parts = append(parts, reqPart{b: b, ds: ds})
	}
	s.mu.RUnlock()
	if closed {
		return store.WriteResult{}, store.ErrClosed
	}
	if bad != nil {
		return store.WriteResult{}, fmt.Errorf("positioned write for %s: %w", source, bad)
	}
	for _, p := range parts {
		if err := checkBatch(p.ds, p.b); err != nil {
			return store.WriteResult{}, fmt.Errorf("positioned write for %s: %s: %w", source, p.b.Dataset.Name, err)
		}
	}
	r := &request{kind: kindWrite, parts: parts, source: source, positions: positions, done: make(chan error, 1)}
	if r.rows() == 0 && len(positions) == 0 {
		return store.WriteResult{}, nil
	}
	if err := s.submit(ctx, r); err != nil {
		return store.WriteResult{}, err
	}
	if err := s.await(ctx, r); err != nil {
		if errors.Is(err, store.ErrClosed) || errors.Is(err, ctx.Err()) {
			return store.WriteResult{}, err
		}
		return store.WriteResult{}, fmt.Errorf("positioned write for %s: %w", source, err)
	}
	return store.WriteResult{Rows: r.rows()}, nil
}

func checkPositions(source string, positions []store.Position) error {
	if source == "" || len(source) > maxPositionLen {
		return fmt.Errorf("source name of %d bytes: want 1..%d", len(source), maxPositionLen)
	}
	seen := make(map[string]bool, len(positions))
	for _, p := range positions {
		switch {
		case p.Partition == "" || len(p.Partition) > maxPositionLen:
			return fmt.Errorf("partition name of %d bytes: want 1..%d", len(p.Partition), maxPositionLen)
		case p.Next == "" || len(p.Next) > maxPositionLen || len(p.Prev) > maxPositionLen:
			return fmt.Errorf("partition %s: positions %q → %q: next must be 1..%d bytes", p.Partition, p.Prev, p.Next, maxPositionLen)
		case seen[p.Partition]:
			return fmt.Errorf("partition %s given twice", p.Partition)
		}
		seen[p.Partition] = true
	}
	return nil
}

// Positions implements store.PositionedWriter: the committed position of each partition of
// source.
func (s *Store) Positions(ctx context.Context, source string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, store.ErrClosed
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	out := map[string]string{}
	for k, v := range s.positions {
		if k.source == source {
			out[k.part] = v
		}
	}
	return out, nil
}

// posMoves is what one commit does to the positions table: the last position of each
// partition it moves, in first-seen order.
type posMoves struct {
	keys []posKey
	next map[posKey]string
}

// positionMoves checks the requests' expected positions against the stored ones and those the
// earlier requests of the same commit move, and returns the moves. A conflict fails the commit;
// commitGroup has already refused the requests it could tell were stale, so here it only
// happens when an earlier request in the group was abandoned or, committed alone after a
// failed group commit, failed.
func (s *Store) positionMoves(reqs []*request) (posMoves, error) {
	var m posMoves
	s.posMu.Lock()
	defer s.posMu.Unlock()
	for _, r := range reqs {
		if err := m.add(s.positions, r); err != nil {
			return posMoves{}, err
		}
	}
	return m, nil
}

// add checks r's expected positions against stored and the moves so far, and adds r's moves.
// On a conflict it changes nothing.
func (m *posMoves) add(stored map[posKey]string, r *request) error {
	for _, p := range r.positions {
		k := posKey{r.source, p.Partition}
		cur, moved := m.next[k]
		if !moved {
			cur = stored[k]
		}
		if cur != p.Prev {
			return &store.PositionConflictError{Source: r.source, Partition: p.Partition, Expected: p.Prev, Stored: cur}
		}
	}
	for _, p := range r.positions {
		k := posKey{r.source, p.Partition}
		if m.next == nil {
			m.next = map[posKey]string{}
		}
		if _, moved := m.next[k]; !moved {
			m.keys = append(m.keys, k)
		}
		m.next[k] = p.Next
	}
	return nil
}

// refuseStalePositions answers, with a conflict, the requests whose expected positions do not
// hold given the stored positions and the requests before them, and returns the others.
func (s *Store) refuseStalePositions(reqs []*request) []*request {
	stale := false
	for _, r := range reqs {
		if len(r.positions) > 0 {
			stale = true // worth checking
			break
		}
	}
	if !stale {
		return reqs
	}
	var m posMoves
	s.posMu.Lock()
	defer s.posMu.Unlock()
	out := reqs[:0]
	for _, r := range reqs {
		if err := m.add(s.positions, r); err != nil {
			r.done <- err
			continue
		}
		out = append(out, r)
	}
	return out
}

// write replaces the moved partitions' rows inside the commit's transaction. Values are
// literals (quoteString): the committer's raw driver connection runs text only, and these
// statements are a handful of short rows per commit.
func (m *posMoves) write(c *committerConn) error {
	if len(m.keys) == 0 {
		return nil
	}
	var del, ins strings.Builder
	del.WriteString("DELETE FROM " + positionsTable + " WHERE (source, part) IN (")
	ins.WriteString("INSERT INTO " + positionsTable + " VALUES ")
	now := time.Now().UnixMicro()
	for i, k := range m.keys {
		if i > 0 {
			del.WriteString(", ")
			ins.WriteString(", ")
		}
		fmt.Fprintf(&del, "(%s, %s)", quoteString(k.source), quoteString(k.part))
		fmt.Fprintf(&ins, "(%s, %s, %s, make_timestamp(%d::BIGINT))", quoteString(k.source), quoteString(k.part), quoteString(m.next[k]), now)
	}
	del.WriteString(")")
	if _, err := c.exec("clear moved stream positions", del.String()); err != nil {
		return err
	}
	if _, err := c.exec("store stream positions", ins.String()); err != nil {
		return err
	}
	return nil
}

// positionsCommitted makes a committed commit's moves visible.
func (s *Store) positionsCommitted(m posMoves) {
	if len(m.keys) == 0 {
		return
	}
	s.posMu.Lock()
	for _, k := range m.keys {
		s.positions[k] = m.next[k]
	}
	s.posMu.Unlock()
}
