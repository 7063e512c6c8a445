package embedded

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero", Config{}, ""},
		{"full", Config{Dir: "/tmp/x", MemoryLimit: "1GB", Threads: 2, DedupWindow: time.Hour, MaxCommitRows: 10}, ""},
		{"question mark in dir", Config{Dir: "/tmp/x?y"}, "must not contain"},
		{"negative threads", Config{Threads: -1}, "threads"},
		{"negative window", Config{DedupWindow: -time.Second}, "dedupWindow"},
		{"negative max rows", Config{MaxCommitRows: -1}, "maxCommitRows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestOpenSettings(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MemoryLimit: "1GB", Threads: 1})
	res, err := s.Query(context.Background(), store.Statement{
		SQL: `SELECT current_setting('threads'), current_setting('memory_limit'),
			current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')`,
		Output: []store.ResultColumn{{Name: "threads", Type: store.TypeInt64}, {Name: "mem", Type: store.TypeString},
			{Name: "install", Type: store.TypeBool}, {Name: "load", Type: store.TypeBool}},
	})
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	if row[0] != int64(1) || !strings.Contains(row[1].(string), "953.6 MiB") || row[2] != false || row[3] != false {
		t.Fatalf("settings = %v, want threads 1, memory_limit 1GB (953.6 MiB), no extension autoinstall/autoload", row)
	}
}

func columnTypes(t *testing.T, s *Store, table string) map[string]string {
	t.Helper()
	res, err := s.Query(context.Background(), store.Statement{
		SQL: `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`,
		Args:   []any{table},
		Output: []store.ResultColumn{{Name: "c", Type: store.TypeString}, {Name: "t", Type: store.TypeString}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range res.Rows {
		m[r[0].(string)] = r[1].(string)
	}
	return m
}

func TestEnsureDataset(t *testing.T) {
	allTypes := func() *dataset.Dataset {
		return &dataset.Dataset{
			Name: "things", TimeColumn: "ts",
			Dimensions: []dataset.Field{{Name: "s", Type: dataset.String}, {Name: "i", Type: dataset.Int},
				{Name: "f", Type: dataset.Float}, {Name: "b", Type: dataset.Bool}, {Name: "at", Type: dataset.Timestamp}},
			Metrics: []dataset.Field{{Name: "m", Type: dataset.Float}},
		}
	}
	t.Run("creates with mapped types", func(t *testing.T) {
		d := mustValidate(t, allTypes())
		s := openStore(t, Config{})
		ensure(t, s, d)
		ensure(t, s, d) // idempotent
		got := columnTypes(t, s, "things")
		want := map[string]string{"ts": "TIMESTAMP", "s": "VARCHAR", "i": "BIGINT", "f": "DOUBLE", "b": "BOOLEAN", "at": "TIMESTAMP", "m": "DOUBLE"}
		if len(got) != len(want) {
			t.Fatalf("columns = %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("column %s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
	})

	t.Run("reopen adds declared fields, old rows null", func(t *testing.T) {
		dir := t.TempDir()
		v1 := mustValidate(t, &dataset.Dataset{Name: "ev", TimeColumn: "time",
			Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}},
			Metrics:    []dataset.Field{{Name: "n", Type: dataset.Int}}})
		s, err := Open(context.Background(), Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ensure(t, s, v1)
		if _, err := s.Write(context.Background(), genBatch(v1, 10, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		v2 := mustValidate(t, &dataset.Dataset{Name: "ev", TimeColumn: "time",
			Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "country", Type: dataset.String}},
			Metrics:    []dataset.Field{{Name: "n", Type: dataset.Int}, {Name: "dur", Type: dataset.Float}}})
		s = openStore(t, Config{Dir: dir})
		ensure(t, s, v2)
		got := columnTypes(t, s, "ev")
		if got["country"] != "VARCHAR" || got["dur"] != "DOUBLE" {
			t.Fatalf("columns after reopen = %v, want country VARCHAR and dur DOUBLE added", got)
		}
		if _, err := s.Write(context.Background(), genBatch(v2, 5, 100)); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, `SELECT count(*) FROM ev WHERE country IS NULL AND dur IS NULL`); n != 10 {
			t.Fatalf("old rows with NULL new columns = %d, want 10", n)
		}
		if n := countRows(t, s, `SELECT count(*) FROM ev WHERE country IS NOT NULL AND dur IS NOT NULL`); n != 5 {
			t.Fatalf("new rows with values = %d, want 5", n)
		}
		// A batch in the old layout is refused now rather than mis-stored.
		if _, err := s.Write(context.Background(), genBatch(v1, 1, 0)); err == nil || !strings.Contains(err.Error(), "columns") {
			t.Fatalf("Write with the old layout = %v, want a column-count error", err)
		}
	})

	t.Run("type change is an error", func(t *testing.T) {
		s := openStore(t, Config{Dir: t.TempDir()})
		ensure(t, s, mustValidate(t, &dataset.Dataset{Name: "ev", TimeColumn: "time",
			Dimensions: []dataset.Field{{Name: "code", Type: dataset.String}}}))
		err := s.EnsureDataset(context.Background(), mustValidate(t, &dataset.Dataset{Name: "ev", TimeColumn: "time",
			Dimensions: []dataset.Field{{Name: "code", Type: dataset.Int}, {Name: "extra", Type: dataset.String}}}))
		if err == nil || !strings.Contains(err.Error(), "field code is declared int (BIGINT) but the data directory stores it as VARCHAR") {
			t.Fatalf("EnsureDataset with a changed type = %v, want a clear type-change error", err)
		}
		// The failed ensure changed nothing: no half-added column.
		if got := columnTypes(t, s, "ev"); len(got) != 2 {
			t.Fatalf("columns after the failed ensure = %v, want the original two", got)
		}
	})

	t.Run("unvalidated dataset", func(t *testing.T) {
		s := openStore(t, Config{})
		err := s.EnsureDataset(context.Background(), &dataset.Dataset{Name: "x", TimeColumn: "t"})
		if err == nil || !strings.Contains(err.Error(), "validated") {
			t.Fatalf("EnsureDataset(unvalidated) = %v", err)
		}
	})

	t.Run("quoted identifiers", func(t *testing.T) {
		s := openStore(t, Config{})
		// Reserved words as names: they only work quoted.
		d := mustValidate(t, &dataset.Dataset{Name: "select", TimeColumn: "from",
			Dimensions: []dataset.Field{{Name: "group", Type: dataset.String}, {Name: "order", Type: dataset.Bool}},
			EventID:    "where"})
		ensure(t, s, d)
		if _, err := s.Write(context.Background(), genBatch(d, 3, 0)); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, `SELECT count(*) FROM "select" WHERE "group" IS NOT NULL`); n != 3 {
			t.Fatalf("rows = %d, want 3", n)
		}
		if q := quoteIdent(`we"ird`); q != `"we""ird"` {
			t.Fatalf("quoteIdent = %s", q)
		}
	})
}

// The committer computes event keys in Go; a rebuild of the event-id table computes them in
// SQL. They must agree, or rows stored before a rebuild would not be recognised.
func TestEventKeyMatchesSQL(t *testing.T) {
	s := openStore(t, Config{})
	strs := []string{"", "a", "hello", "évènement-ü", strings.Repeat("x", 1000), "with'quote"}
	ints := []int64{0, 1, -1, 1 << 62, -(1 << 63), 1<<63 - 1}
	check := func(col *store.ColumnBuf, i int, lit string, typ dataset.Type) {
		t.Helper()
		h1, h2 := eventKeySQL(lit, typ)
		res, err := s.Query(context.Background(), store.Statement{
			SQL:    "SELECT (" + h1 + ")::VARCHAR, (" + h2 + ")::VARCHAR",
			Output: []store.ResultColumn{{Type: store.TypeString}, {Type: store.TypeString}},
		})
		if err != nil {
			t.Fatal(err)
		}
		k := eventKey(col, i)
		if got := [2]string{res.Rows[0][0].(string), res.Rows[0][1].(string)}; got != [2]string{
			strconv.FormatUint(k[0], 10), strconv.FormatUint(k[1], 10)} {
			t.Fatalf("key of %s: SQL %v, Go %v", lit, got, k)
		}
	}
	sc := &store.ColumnBuf{Type: dataset.String, Strings: strs}
	for i, v := range strs {
		check(sc, i, quoteString(v), dataset.String)
	}
	ic := &store.ColumnBuf{Type: dataset.Int, Ints: ints}
	for i, v := range ints {
		check(ic, i, "("+strconv.FormatInt(v, 10)+")::BIGINT", dataset.Int)
	}
}
