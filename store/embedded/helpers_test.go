package embedded

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// childEnv names the role a re-executed test binary plays (see durability_test.go).
const childEnv = "OLAPGATE_EMBEDDED_TEST_CHILD"

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && os.Getenv(childEnv) == "" {
		if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after all tests:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to wait for goroutines started by the store, the driver or
// database/sql to end, and describes the ones still there.
func leakedGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") {
				continue
			}
			if strings.Contains(g, "olapgate/store/embedded.(*Store)") ||
				strings.Contains(g, "duckdb/duckdb-go") ||
				strings.Contains(g, "database/sql.(*DB)") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func ensure(t testing.TB, s *Store, d *dataset.Dataset) {
	t.Helper()
	if err := s.EnsureDataset(context.Background(), d); err != nil {
		t.Fatalf("EnsureDataset(%s): %v", d.Name, err)
	}
}

func mustValidate(t testing.TB, d *dataset.Dataset) *dataset.Dataset {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

// baseTime is a fixed event time so tests do not depend on the clock.
var baseTime = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// mix64 is a bijection on uint64 (splitmix64's finalizer): distinct inputs give distinct,
// well-spread ids.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var (
	pages     = []string{"/", "/pricing", "/docs", "/blog", "/signup", "/login", "/docs/api", "/about"}
	countries = []string{"US", "DE", "FR", "JP", "BR", "IN", "GB", "NL"}
	devices   = []string{"desktop", "mobile", "tablet"}
	tenants   = []string{"acme", "globex", "initech", "umbrella"}
)

// genBatch makes n rows for d: row i has sequence number seq+i, which sets its event id (the
// eventId column, or any column named id: a unique hex string, or the number itself for int
// ids) and its time (baseTime + seq+i ms).
func genBatch(d *dataset.Dataset, n int, seq int64) *store.Batch {
	return genBatchAt(d, n, seq, baseTime)
}

// genBatchAt is genBatch with times from base instead of baseTime.
func genBatchAt(d *dataset.Dataset, n int, seq int64, base time.Time) *store.Batch {
	b := store.NewBatch(d, n)
	for i := 0; i < n; i++ {
		k := seq + int64(i)
		for c, col := range d.Columns() {
			cb := &b.Cols[c]
			isID := d.EventID != "" && strings.EqualFold(col.Name, d.EventID) || col.Name == "id"
			switch col.Type {
			case dataset.Timestamp:
				cb.Times = append(cb.Times, base.Add(time.Duration(k)*time.Millisecond).UnixMicro())
			case dataset.String:
				var v string
				switch {
				case isID:
					v = strconv.FormatUint(mix64(uint64(k)), 16)
				case col.Name == "page":
					v = pages[k%int64(len(pages))]
				case col.Name == "country":
					v = countries[k%int64(len(countries))]
				case col.Name == "device":
					v = devices[k%int64(len(devices))]
				case col.Name == "tenant":
					v = tenants[k%int64(len(tenants))]
				default:
					v = "u" + strconv.FormatInt(k%10007, 10)
				}
				cb.Strings = append(cb.Strings, v)
			case dataset.Int:
				if isID {
					cb.Ints = append(cb.Ints, k)
				} else {
					cb.Ints = append(cb.Ints, k%1000)
				}
			case dataset.Float:
				cb.Floats = append(cb.Floats, float64(k%1000)/8)
			case dataset.Bool:
				cb.Bools = append(cb.Bools, k%2 == 0)
			}
		}
	}
	b.N = n
	return b
}

// colIndex returns the index of a named column in d.
func colIndex(t testing.TB, d *dataset.Dataset, name string) int {
	t.Helper()
	c, ok := d.Column(name)
	if !ok {
		t.Fatalf("dataset %s has no column %s", d.Name, name)
	}
	return c.Index
}

func countRows(t testing.TB, s *Store, q string, args ...any) int64 {
	t.Helper()
	res, err := s.Query(context.Background(), store.Statement{SQL: q, Args: args, Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res.Rows[0][0].(int64)
}
