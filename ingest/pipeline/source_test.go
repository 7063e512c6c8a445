package pipeline

import (
	"strings"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
)

func TestBackends(t *testing.T) {
	declared := map[string]*dataset.Dataset{
		"e": {Name: "e"}, "e2": {Name: "e2", Backend: dataset.BackendEmbedded},
		"c": {Name: "c", Backend: dataset.BackendClickHouse}, "c2": {Name: "c2", Backend: dataset.BackendClickHouse},
		"p": {Name: "p", Backend: dataset.BackendPinot},
	}
	for _, tc := range []struct {
		name   string
		add    []string
		want   string
		errHas string
	}{
		{"none", nil, dataset.BackendEmbedded, ""},
		{"undeclared only", []string{"x"}, dataset.BackendEmbedded, ""},
		{"embedded by default", []string{"e", "e2", "x"}, dataset.BackendEmbedded, ""},
		{"clickhouse", []string{"c", "x", "c2"}, dataset.BackendClickHouse, ""},
		{"mixed", []string{"e", "c"}, "", "dataset e is on the embedded backend and dataset c on clickhouse: one source's datasets must all be on one backend"},
		{"pinot", []string{"c", "p"}, "", "dataset p uses the pinot backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bs Backends
			var err error
			for _, n := range tc.add {
				if err = bs.Add(n, declared[n]); err != nil {
					break
				}
			}
			switch {
			case tc.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one with %q", err, tc.errHas)
				}
			case err != nil:
				t.Fatal(err)
			case bs.Backend() != tc.want:
				t.Fatalf("backend %s, want %s", bs.Backend(), tc.want)
			}
		})
	}
}

func TestValidateDeadLetter(t *testing.T) {
	known := func(n string) bool { return n == "events" }
	if err := ValidateDeadLetter("", known); err != nil {
		t.Fatalf("default: %v", err)
	}
	if err := ValidateDeadLetter("dl", nil); err != nil {
		t.Fatalf("own dataset: %v", err)
	}
	if err := ValidateDeadLetter("events", known); err == nil || !strings.Contains(err.Error(), "is a declared dataset") {
		t.Fatalf("a declared dataset: %v", err)
	}
	if err := ValidateDeadLetter("no such name!", nil); err == nil || !strings.Contains(err.Error(), "dead-letter dataset") {
		t.Fatalf("an invalid name: %v", err)
	}
}
