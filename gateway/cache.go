package gateway

import (
	"container/list"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
)

// resultCache is a memory-bounded LRU of finished query results keyed on query.Query.Key()
// (computed after the tenant predicate is added, so no result crosses tenants). Freshness is
// the client's call: an entry is served only when its age is within the request's
// maxStalenessMs, and the answer carries cacheHit and ageMs. Results are shared read-only.
type resultCache struct {
	mu       sync.Mutex
	maxBytes int64
	used     int64
	lru      *list.List // front = most recently used
	items    map[string]*list.Element
}

type cacheEntry struct {
	key string
	res *store.Result
	// msg is a telemetry answer (telemetry.go); entries hold res or msg, under disjoint keys.
	msg  proto.Message
	enc  *encodings
	at   time.Time // when the query that produced res started: ages err on the old side
	size int64
}

func newResultCache(maxBytes int64) *resultCache {
	return &resultCache{maxBytes: maxBytes, lru: list.New(), items: map[string]*list.Element{}}
}

// encodings memoize a cached result's wire forms, built on its first hit and shared by every
// later one: a dashboard's repeated query then costs a lookup and a copy, not a re-encode.
type encodings struct {
	protoOnce sync.Once
	proto     []*olapgatev1.Column // read-only once built; proto marshaling does not mutate
	jsonOnce  sync.Once
	json      []byte // the HTTP body up to the stats: {"columns":[...],"rows":[...],"stats":
}

// get returns a result no older than maxAge, its memoized encodings, and its age.
func (c *resultCache) get(key string, maxAge time.Duration, now time.Time) (*store.Result, *encodings, time.Duration, bool) {
	e, age, ok := c.lookup(key, maxAge, now)
	if !ok || e.res == nil {
		return nil, nil, 0, false
	}
	return e.res, e.enc, age, true
}

// lookup finds key's entry if it is no older than maxAge, marking it recently used. Entry
// fields are immutable once inserted, so the caller reads them without the lock.
func (c *resultCache) lookup(key string, maxAge time.Duration, now time.Time) (*cacheEntry, time.Duration, bool) {
	if c == nil || maxAge <= 0 {
		return nil, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, 0, false
	}
	e := el.Value.(*cacheEntry)
	age := now.Sub(e.at)
	if age > maxAge {
		return nil, 0, false
	}
	c.lru.MoveToFront(el)
	return e, max(age, 0), true
}

// put stores res, evicting least recently used entries beyond the byte bound. A result larger
// than a quarter of the bound is not cached: one export-sized answer must not flush every
// dashboard's entries.
func (c *resultCache) put(key string, res *store.Result, at time.Time) {
	if c == nil || c.maxBytes <= 0 {
		return
	}
	c.insert(&cacheEntry{key: key, res: res, enc: &encodings{}, at: at, size: resultSize(key, res)})
}

// getMsg is get for protobuf answers (telemetry queries).
func (c *resultCache) getMsg(key string, maxAge time.Duration, now time.Time) (proto.Message, time.Duration, bool) {
	e, age, ok := c.lookup(key, maxAge, now)
	if !ok || e.msg == nil {
		return nil, 0, false
	}
	return e.msg, age, true
}

// putMsg is put for protobuf answers; msg is shared read-only from then on.
func (c *resultCache) putMsg(key string, msg proto.Message, at time.Time) {
	if c == nil || c.maxBytes <= 0 {
		return
	}
	c.insert(&cacheEntry{key: key, msg: msg, at: at, size: int64(len(key)+128) + int64(proto.Size(msg))*2})
}

func (c *resultCache) insert(e *cacheEntry) {
	key, at, size := e.key, e.at, e.size
	if size > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		old := el.Value.(*cacheEntry)
		if old.at.After(at) {
			return // a newer answer is already cached
		}
		c.used -= old.size
		c.lru.Remove(el)
		delete(c.items, key)
	}
	c.items[key] = c.lru.PushFront(e)
	c.used += size
	for c.used > c.maxBytes {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.items, e.key)
		c.used -= e.size
	}
}

// bytes reports the cache's accounted size (for metrics and tests).
func (c *resultCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// resultSize estimates an entry's memory: interface slots, string bytes, slice headers.
func resultSize(key string, r *store.Result) int64 {
	n := int64(len(key)) + 128
	for _, c := range r.Columns {
		n += int64(len(c.Name)) + 48
	}
	for _, row := range r.Rows {
		n += 24 + int64(len(row))*16
		for _, v := range row {
			switch x := v.(type) {
			case string:
				n += int64(len(x))
			case time.Time:
				n += 24
			}
		}
	}
	return n
}
