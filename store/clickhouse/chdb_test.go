package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/olapgate/olapgate/internal/chdbtest"
	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
)

// TestDDLOnChdb runs the DDL on ClickHouse 26.7 (chdb): the table is created, takes rows with
// nulls, reads back with the types ch-go's insert columns declare, deduplicates a retried
// insert by insert_deduplication_token, and grows by AddColumnsSQL when the dataset does.
func TestDDLOnChdb(t *testing.T) {
	r := chdbtest.Require(t)
	sess, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	}()
	run := func(stmts ...string) []chdbtest.Result {
		t.Helper()
		res, err := sess.Run(stmts...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("%s: %v", stmts[i], r.Err)
			}
		}
		return res
	}
	describe := func(table string) map[string]string {
		t.Helper()
		res := run("SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = " + chsql.String(table))
		out := map[string]string{}
		for _, row := range res[0].Rows {
			out[row[0].(string)] = row[1].(string)
		}
		return out
	}

	d := allTypes(t)
	ddl, err := CreateTableSQL(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	run(ddl, ddl) // IF NOT EXISTS: twice is fine
	cols := describe(d.Name)
	in, err := blockInput(d, batchOf(t, d, 2), 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range in {
		if normalizeType(cols[c.Name]) != normalizeType(string(c.Data.Type())) {
			t.Errorf("column %s: table has %s, inserts send %s", c.Name, cols[c.Name], c.Data.Type())
		}
	}
	if alter, err := AddColumnsSQL(d, cols); err != nil || alter != "" {
		t.Errorf("AddColumnsSQL on the fresh table: %q %v", alter, err)
	}

	insert := func(token string) string {
		return "INSERT INTO `events` SETTINGS insert_deduplication_token = " + chsql.String(token) + " FORMAT JSONEachRow\n" +
			`{"time": "2026-11-22 01:02:03.000004", "s": "it's", "n": -1, "f": 0.5, "b": true, "ts": "2026-11-22 00:00:00.000001", "mi": 9223372036854775807, "mf": 1e21, "id": "e1", "tenant": "acme"}` + "\n" +
			`{"time": "2026-11-22 01:02:03.000005", "s": null, "n": null, "f": null, "b": null, "ts": null, "mi": null, "mf": null, "id": null, "tenant": null}`
	}
	res := run(insert("a"), insert("a"), insert("b"),
		"SELECT count(), countIf(`s` IS NULL), max(`mi`), toString(min(`ts`)) FROM `events`")
	if got := fmt.Sprint(res[3].Rows); got != "[[4 2 9223372036854775807 2026-11-22 00:00:00.000001]]" {
		t.Errorf("after inserts a, a (retry), b: %s", got)
	}

	grown := *d
	grown.Dimensions = append(append([]dataset.Field(nil), d.Dimensions...), dataset.Field{Name: "region", Type: dataset.String})
	grown.Metrics = append(append([]dataset.Field(nil), d.Metrics...), dataset.Field{Name: "cost", Type: dataset.Float})
	if err := grown.Validate(); err != nil {
		t.Fatal(err)
	}
	alter, err := AddColumnsSQL(&grown, cols)
	if err != nil || !strings.Contains(alter, "`region` Nullable(String)") || !strings.Contains(alter, "`cost` Nullable(Float64)") {
		t.Fatalf("AddColumnsSQL: %q %v", alter, err)
	}
	run(alter, alter)
	if again, err := AddColumnsSQL(&grown, describe(d.Name)); err != nil || again != "" {
		t.Errorf("after ALTER: %q %v", again, err)
	}
}

// TestExceptionCodesOnChdb: the codes olapgate maps are the ClickHouse codes it means.
func TestExceptionCodesOnChdb(t *testing.T) {
	r := chdbtest.Require(t)
	sess, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			t.Errorf("close chdb: %v", err)
		}
	}()
	var stmts []string
	var want []string
	for code, cls := range exceptionClasses {
		stmts = append(stmts, fmt.Sprintf("SELECT errorCodeToName(%d)", code))
		want = append(want, cls.name)
	}
	res, err := sess.Run(stmts...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || len(r.Rows) != 1 || r.Rows[0][0] != want[i] {
			t.Errorf("%s = %v %v, want %s", stmts[i], r.Rows, r.Err, want[i])
		}
	}
}
