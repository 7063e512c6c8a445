package gateway

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

// Bucket reuse for dashboards that slide a relative range ("now-6h" refreshed every minute):
// as the result cache cannot help (every refresh has a new range), the gateway keeps, per query
// shape (the query without its range, tenant predicate included), the rows of the buckets that
// were already final when computed, and answers the next query from those plus backend
// statements for what they do not cover: usually only the newest buckets.
//
// A bucket is final once it ended more than the lateness window before it was computed: data
// is assumed to arrive at most that late. Reuse needs the client to accept cached answers
// (maxStalenessMs > 0, no noCache); an extent older than ExtentMaxAge is not used, which bounds
// how long data arriving later than the lateness window stays unseen.

// extent holds one query shape's final buckets over [from, to).
type extent struct {
	key      string
	from, to time.Time
	rows     map[int64][][]any // bucket start (µs) → its rows, in the answer's layout
	at       time.Time         // when the statements that computed the rows started
	size     int64
}

// extentCache is a small byte-bounded LRU of extents.
type extentCache struct {
	mu       sync.Mutex
	maxBytes int64
	used     int64
	lru      *list.List
	items    map[string]*list.Element
}

func newExtentCache(maxBytes int64) *extentCache {
	return &extentCache{maxBytes: maxBytes, lru: list.New(), items: map[string]*list.Element{}}
}

func (c *extentCache) get(key string) *extent {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*extent)
}

func (c *extentCache) put(e *extent) {
	if e.size > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		old := el.Value.(*extent)
		if old.at.After(e.at) {
			return
		}
		c.used -= old.size
		c.lru.Remove(el)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.used += e.size
	for c.used > c.maxBytes {
		el := c.lru.Back()
		old := el.Value.(*extent)
		c.lru.Remove(el)
		delete(c.items, old.key)
		c.used -= old.size
	}
}

// extentKey is the query's key without its range.
func extentKey(q *query.Query) string {
	c := *q
	c.Start, c.End = time.Time{}, time.Time{}
	return "extent|" + c.Key()
}

// executeReusing answers a splittable query from its shape's final buckets and backend
// statements for the rest, and records the new final buckets. It returns the number of
// buckets reused.
func (g *Gateway) executeReusing(ctx context.Context, q *query.Query, p *planner.Plan, st planner.Querier) (*store.Result, int, error) {
	now := g.now()
	step := q.Granularity.Step()
	// Whole buckets of the range: [first, last). With one zone offset over the range (as
	// Splittable requires), bucket starts are step apart.
	first := q.Bucket(q.Start)
	if first.Before(q.Start) {
		first = first.Add(step)
	}
	last := q.Bucket(q.End)
	key := extentKey(q)

	reuseFrom, reuseTo := first, first // empty
	ext := g.extents.get(key)
	if ext != nil && now.Sub(ext.at) <= g.cfg.ExtentMaxAge {
		reuseFrom, reuseTo = later(first, ext.from), earlier(last, ext.to)
		if !reuseFrom.Before(reuseTo) {
			reuseFrom, reuseTo = first, first
		}
	}

	var parts []*store.Result
	run := func(start, end time.Time) error {
		if !start.Before(end) {
			return nil
		}
		r, err := p.Segment(ctx, st, start, end)
		if err == nil {
			parts = append(parts, r)
		}
		return err
	}
	computedAt := time.Now()
	if reuseFrom.Equal(reuseTo) {
		if err := run(q.Start, q.End); err != nil {
			return nil, 0, err
		}
	} else {
		if err := run(q.Start, reuseFrom); err != nil {
			return nil, 0, err
		}
		if err := run(reuseTo, q.End); err != nil {
			return nil, 0, err
		}
	}

	res := &store.Result{}
	reused := 0
	if reuseFrom.Before(reuseTo) {
		for b := reuseFrom; b.Before(reuseTo); b = b.Add(step) {
			res.Rows = append(res.Rows, ext.rows[b.UnixMicro()]...)
			reused++
		}
	}
	metas := make([]store.ResultMeta, 0, len(parts))
	for _, r := range parts {
		res.Rows = append(res.Rows, r.Rows...)
		metas = append(metas, r.Meta)
	}
	// The statements' metadata combine as a multi-statement plan's do: rows scanned summed,
	// the oldest completeness bound.
	res.Meta = planner.MergeMeta(metas)
	if len(parts) == 0 {
		// Every bucket came from the extent: it is as complete as when it was computed.
		res.Meta = store.ResultMeta{RowsScanned: 0, CompleteUpTo: ext.at}
	}

	// The final buckets of this answer become the shape's extent: whole buckets that ended
	// a lateness window before the statements started.
	horizon := computedAt.Add(-g.cfg.Lateness)
	finalTo := first
	for finalTo.Add(step).Compare(last) <= 0 && !finalTo.Add(step).After(horizon) {
		finalTo = finalTo.Add(step)
	}
	if first.Before(finalTo) {
		next := &extent{key: key, from: first, to: finalTo, rows: map[int64][][]any{}, at: computedAt}
		if reused > 0 {
			next.at = ext.at // the reused rows are only as fresh as the extent they came from
		}
		for _, row := range res.Rows {
			b := row[0].(time.Time)
			if !b.Before(first) && b.Before(finalTo) {
				next.rows[b.UnixMicro()] = append(next.rows[b.UnixMicro()], row)
			}
		}
		next.size = int64(len(key)) + 64
		for _, rows := range next.rows {
			next.size += resultSize("", &store.Result{Rows: rows})
		}
		g.extents.put(next)
	}

	if err := p.Assemble(res); err != nil {
		return nil, 0, err
	}
	return res, reused, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
