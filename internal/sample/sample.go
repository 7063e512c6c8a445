// Package sample generates pageviews-shaped events for demos, load and benchmarks.
package sample

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

var (
	pages     = []string{"/", "/pricing", "/docs", "/docs/install", "/docs/query", "/blog", "/blog/launch", "/signup", "/login", "/account"}
	countries = []string{"US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "AU", "NL", "ES", "IT"}
	devices   = []string{"desktop", "mobile", "tablet"}
)

// Generator produces deterministic events for one seed.
type Generator struct {
	rng   *rand.Rand
	start time.Time
	span  time.Duration
	users int
	seq   int64
	// Tenants, when set, are spread over events' tenant field.
	Tenants []string
}

// New returns a generator of events with times uniform in [start, start+span) and user ids
// drawn from users distinct values (high cardinality for distinct counts).
func New(seed uint64, start time.Time, span time.Duration, users int) *Generator {
	if users < 1 {
		users = 1
	}
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), start: start, span: span, users: users}
}

// Event is one pageviews event.
type Event struct {
	ID         string
	Time       time.Time
	Page       string
	Country    string
	Device     string
	UserID     string
	Tenant     string
	DurationMs int64
	Bytes      int64
}

// Next returns the next event.
func (g *Generator) Next() Event {
	g.seq++
	e := Event{
		ID:      "e" + strconv.FormatInt(g.seq, 36) + "-" + strconv.FormatUint(g.rng.Uint64()&0xffffffff, 36),
		Time:    g.start.Add(time.Duration(g.rng.Int64N(int64(g.span)))).Truncate(time.Millisecond),
		Page:    pages[zipf(g.rng, len(pages))],
		Country: countries[zipf(g.rng, len(countries))],
		Device:  devices[g.rng.IntN(len(devices))],
		UserID:  "u" + strconv.Itoa(g.rng.IntN(g.users)),
		// Log-normal-ish latencies: most fast, a long tail, like real page timings.
		DurationMs: int64(20 + g.rng.ExpFloat64()*120),
		Bytes:      int64(500 + g.rng.IntN(200000)),
	}
	if len(g.Tenants) > 0 {
		e.Tenant = g.Tenants[g.rng.IntN(len(g.Tenants))]
	}
	return e
}

// zipf picks index i with weight 1/(i+1), so a few values dominate as on real sites.
func zipf(r *rand.Rand, n int) int {
	var total float64
	for i := 1; i <= n; i++ {
		total += 1 / float64(i)
	}
	x := r.Float64() * total
	for i := 1; i <= n; i++ {
		x -= 1 / float64(i)
		if x <= 0 {
			return i - 1
		}
	}
	return n - 1
}

// AppendJSON appends e as one JSON object (no newline), times as RFC 3339 in UTC.
func (e Event) AppendJSON(b []byte) []byte {
	b = fmt.Appendf(b, `{"id":%q,"time":%q,"page":%q,"country":%q,"device":%q,"user_id":%q,`,
		e.ID, e.Time.UTC().Format(time.RFC3339Nano), e.Page, e.Country, e.Device, e.UserID)
	if e.Tenant != "" {
		b = fmt.Appendf(b, `"tenant":%q,`, e.Tenant)
	}
	return fmt.Appendf(b, `"duration_ms":%d,"bytes":%d}`, e.DurationMs, e.Bytes)
}

// Map returns e as a field map, the form the reference evaluator and structpb take.
func (e Event) Map() map[string]any {
	m := map[string]any{
		"id": e.ID, "time": e.Time.UTC(), "page": e.Page, "country": e.Country, "device": e.Device,
		"user_id": e.UserID, "duration_ms": e.DurationMs, "bytes": e.Bytes,
	}
	if e.Tenant != "" {
		m["tenant"] = e.Tenant
	} else {
		m["tenant"] = nil
	}
	return m
}
