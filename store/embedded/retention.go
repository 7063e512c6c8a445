package embedded

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/olapgate/olapgate/store"
)

// DeleteBefore deletes the rows of an ensured dataset whose time is before t, and returns how
// many it deleted: retention for tables that grow without bound (the collector's otel_*
// tables). It runs on the read pool, beside the committer: DuckDB lets a DELETE of old rows
// commit while new rows are appended, as they never touch the same rows. Event-id keys of
// deleted rows stay in the dataset's event-id table; they only matter within DedupWindow.
func (s *Store) DeleteBefore(ctx context.Context, dataset string, t time.Time) (int64, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return 0, store.ErrClosed
	}
	ds := s.datasets[strings.ToLower(dataset)]
	s.queries.Add(1) // under mu, as Query does: Shutdown waits for it
	s.mu.RUnlock()
	defer s.queries.Done()
	if ds == nil {
		return 0, fmt.Errorf("delete old rows of %s: dataset not ensured on this store", dataset)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.queryCtx, cancel)()
	// The bound is a literal so DuckDB skips row groups wholly after it by their zone maps.
	res, err := s.db.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s < make_timestamp(%d::BIGINT)",
		quoteIdent(ds.name), quoteIdent(ds.cols[ds.timeCol].Name), t.UnixMicro()))
	if err != nil {
		return 0, fmt.Errorf("delete old rows of %s: %w", dataset, preferCtxErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old rows of %s: count deleted rows: %w", dataset, err)
	}
	return n, nil
}

// EnsureIndex creates, if missing, an ART index on one column of an ensured dataset, for
// tables read by point lookups that zone maps cannot prune (the collector's trace id lookup:
// random ids put every row group's min and max far apart). Indexes slow appends a little and
// live in memory, so the store makes none by itself. Call it before the table takes writes:
// it runs beside the committer, and DuckDB would fail a concurrent append to the table.
func (s *Store) EnsureIndex(ctx context.Context, dataset, column string) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	ds := s.datasets[strings.ToLower(dataset)]
	s.queries.Add(1)
	s.mu.RUnlock()
	defer s.queries.Done()
	if ds == nil {
		return fmt.Errorf("index %s.%s: dataset not ensured on this store", dataset, column)
	}
	found := false
	for _, c := range ds.cols {
		if strings.EqualFold(c.Name, column) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("index %s.%s: no such column", dataset, column)
	}
	name := "_olapgate_idx_" + ds.name + "_" + column
	if _, err := s.db.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+quoteIdent(name)+" ON "+quoteIdent(ds.name)+" ("+quoteIdent(column)+")"); err != nil {
		return fmt.Errorf("index %s.%s: %w", dataset, column, err)
	}
	return nil
}
