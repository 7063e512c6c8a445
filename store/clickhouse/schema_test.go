package clickhouse

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// allTypes has a field of every type, a tenant column and an event id.
func allTypes(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "events", TimeColumn: "time", TenantColumn: "tenant", EventID: "id", Backend: dataset.BackendClickHouse,
		Dimensions: []dataset.Field{
			{Name: "s", Type: dataset.String}, {Name: "n", Type: dataset.Int}, {Name: "f", Type: dataset.Float},
			{Name: "b", Type: dataset.Bool}, {Name: "ts", Type: dataset.Timestamp},
		},
		Metrics: []dataset.Field{{Name: "mi", Type: dataset.Int}, {Name: "mf", Type: dataset.Float}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./store/clickhouse -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./store/clickhouse -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestCreateTableSQL(t *testing.T) {
	tenant := allTypes(t)
	plain := &dataset.Dataset{Name: "pageviews", TimeColumn: "at", Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}},
		Metrics: []dataset.Field{{Name: "ms", Type: dataset.Int}}}
	if err := plain.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		d      *dataset.Dataset
		window int
	}{{"tenant", tenant, 0}, {"plain", plain, 500}} {
		t.Run(tc.name, func(t *testing.T) {
			ddl, err := CreateTableSQL(tc.d, tc.window)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "create_"+tc.name+".sql"), ddl+";\n")
		})
	}
}

func TestAddColumnsSQL(t *testing.T) {
	d := allTypes(t)
	full := map[string]string{}
	for i, c := range d.Columns() {
		typ, err := ColumnType(c, i == 0)
		if err != nil {
			t.Fatal(err)
		}
		full[c.Name] = strings.ReplaceAll(typ, ", ", ",") // spacing is not a difference
	}
	if got, err := AddColumnsSQL(d, full); err != nil || got != "" {
		t.Errorf("complete table: %q, %v", got, err)
	}
	lacking := map[string]string{}
	for k, v := range full {
		if k != "ts" && k != "mf" {
			lacking[k] = v
		}
	}
	lacking["dropped"] = "Nullable(String)" // no longer declared: left alone
	got, err := AddColumnsSQL(d, lacking)
	want := "ALTER TABLE `events` ADD COLUMN IF NOT EXISTS `ts` Nullable(DateTime64(6, 'UTC')), ADD COLUMN IF NOT EXISTS `mf` Nullable(Float64)"
	if err != nil || got != want {
		t.Errorf("lacking: %q, %v\nwant %q", got, err, want)
	}
	retyped := map[string]string{}
	for k, v := range full {
		retyped[k] = v
	}
	retyped["n"] = "Nullable(String)"
	if _, err := AddColumnsSQL(d, retyped); err == nil || !strings.Contains(err.Error(), "field n is declared int") {
		t.Errorf("retyped: %v", err)
	}
	delete(retyped, "time")
	retyped["n"] = full["n"]
	if _, err := AddColumnsSQL(d, retyped); err == nil || !strings.Contains(err.Error(), "time column") {
		t.Errorf("no time column: %v", err)
	}
}

func TestQuoting(t *testing.T) {
	if got := chsql.Ident("a`b\\"); got != "`a\\`b\\\\`" {
		t.Errorf("quoteIdent: %s", got)
	}
	if got := chsql.String("it's \\ é\x00"); got != `'it\'s \\ \xC3\xA9\x00'` {
		t.Errorf("quoteString: %s", got)
	}
}
