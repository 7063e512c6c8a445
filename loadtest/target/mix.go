package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
)

// Mix is a weighted set of queries. The same file drives the gRPC and HTTP targets.
//
//	queries:
//	  - name: top-pages
//	    weight: 3
//	    priority: interactive   # or bulk; sent as options.priority
//	    tenant: acme            # X-Olapgate-Tenant / x-olapgate-tenant
//	    query: {dataset: pageviews, timeRange: {start: now-1h, end: now}, metrics: [{agg: COUNT}], groupBy: [page]}
//
// A bare list of entries, and JSON, are accepted too.
type Mix struct {
	Entries []Entry
	cum     []uint64
}

// Entry is one query of a mix.
type Entry struct {
	Name     string
	Weight   int
	Priority string
	Tenant   string
	// Query is the request as gRPC sends it; JSON is the same query as the HTTP API takes it.
	Query *olapgatev1.Query
	JSON  []byte
}

type mixFile struct {
	Queries []mixEntry `yaml:"queries"`
}

type mixEntry struct {
	Name     string         `yaml:"name"`
	Weight   *int           `yaml:"weight"`
	Priority string         `yaml:"priority"`
	Tenant   string         `yaml:"tenant"`
	Query    map[string]any `yaml:"query"`
}

// LoadMix reads a mix from a YAML or JSON file.
func LoadMix(path string) (*Mix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read query mix: %w", err)
	}
	m, err := ParseMix(b)
	if err != nil {
		return nil, fmt.Errorf("query mix %s: %w", path, err)
	}
	return m, nil
}

// ParseMix reads a mix from YAML or JSON (JSON is YAML here). Every query is checked against
// the API's schema now, so a typo fails before the run rather than as 400s during it.
func ParseMix(b []byte) (*Mix, error) {
	var f mixFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		// Not a mapping with queries: perhaps a bare list.
		var list []mixEntry
		if err2 := yaml.Unmarshal(b, &list); err2 != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		f.Queries = list
	}
	if len(f.Queries) == 0 {
		return nil, errors.New("no queries (want a list under queries:)")
	}
	m := &Mix{}
	var total uint64
	for i, q := range f.Queries {
		name := q.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		w := 1
		if q.Weight != nil {
			w = *q.Weight
		}
		if w < 0 || w > 1_000_000 {
			return nil, fmt.Errorf("query %s: weight %d out of range 0..1000000", name, w)
		}
		if w == 0 {
			continue
		}
		prio := strings.ToLower(q.Priority)
		if prio != "" && prio != "interactive" && prio != "bulk" {
			return nil, fmt.Errorf("query %s: priority %q (interactive or bulk)", name, q.Priority)
		}
		if q.Query == nil {
			return nil, fmt.Errorf("query %s: no query", name)
		}
		raw, err := json.Marshal(q.Query)
		if err != nil {
			return nil, fmt.Errorf("query %s: encode as JSON: %w", name, err)
		}
		pb := &olapgatev1.Query{}
		if err := protojson.Unmarshal(raw, pb); err != nil {
			return nil, fmt.Errorf("query %s: not an olapgate query: %w", name, err)
		}
		if prio != "" {
			if pb.Options == nil {
				pb.Options = &olapgatev1.QueryOptions{}
			}
			pb.Options.Priority = prio
		}
		js, err := protojson.Marshal(pb)
		if err != nil {
			return nil, fmt.Errorf("query %s: encode: %w", name, err)
		}
		total += uint64(w)
		m.Entries = append(m.Entries, Entry{Name: name, Weight: w, Priority: prio, Tenant: q.Tenant, Query: pb, JSON: js})
		m.cum = append(m.cum, total)
	}
	if total == 0 {
		return nil, errors.New("every query has weight 0")
	}
	return m, nil
}

// Pick chooses request seq's entry by weight. It hashes seq rather than drawing from a shared
// random source, so concurrent senders need no lock and a run's sequence is reproducible.
func (m *Mix) Pick(seq uint64) *Entry {
	x := splitmix64(seq) % m.cum[len(m.cum)-1]
	i := sort.Search(len(m.cum), func(i int) bool { return m.cum[i] > x })
	return &m.Entries[i]
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
