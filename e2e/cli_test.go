package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olapgate/olapgate/internal/cli"
)

// TestCLI drives `olapgate ingest` and `olapgate query` against a running server.
func TestCLI(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	var out, errOut bytes.Buffer
	cli.Stdout, cli.Stderr = &out, &errOut
	t.Cleanup(func() { cli.Stdout, cli.Stderr = os.Stdout, os.Stderr })
	run := func(f func([]string) error, args ...string) {
		t.Helper()
		out.Reset()
		errOut.Reset()
		if err := f(append([]string{"--server", base}, args...)); err != nil {
			t.Fatalf("%v: %v\nstderr: %s", args, err, errOut.String())
		}
	}

	run(cli.Ingest, "--dataset", "pageviews", "--sample", "12345", "--batch", "1000")
	if !strings.Contains(errOut.String(), "12345 accepted (committed), 0 rejected") {
		t.Fatalf("sample ingest summary: %q", errOut.String())
	}

	dir := t.TempDir()
	arr := filepath.Join(dir, "events.json")
	if err := os.WriteFile(arr, []byte(`[
	  {"id":"f1","time":"2026-11-22T10:00:00Z","page":"/cli","device":"cli"},
	  {"id":"f2","time":"2026-11-22T10:05:00Z","page":"/cli","duration_ms":"slow"},
	  {"id":"f3","time":1795342500000,"page":"/cli","device":"cli"}
	]`), 0o644); err != nil {
		t.Fatal(err)
	}
	nd := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(nd, []byte("{\"id\":\"f4\",\"time\":\"2026-11-22T11:00:00Z\",\"page\":\"/cli\",\"device\":\"cli\"}\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(cli.Ingest, "--dataset", "pageviews", arr, nd)
	if s := errOut.String(); !strings.Contains(s, "3 accepted (committed), 1 rejected") || !strings.Contains(s, "event 1: field \"duration_ms\"") {
		t.Fatalf("file ingest summary: %q", s)
	}

	run(cli.Query, "--dataset", "pageviews", "--start", "2026-11-22T00:00:00Z", "--end", "2026-11-23T00:00:00Z",
		"--granularity", "1h", "--metric", "count", "--where", "device=cli")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "__time") || !strings.Contains(lines[1], "2026-11-22T10:00:00Z") || !strings.HasSuffix(lines[1], " 2") || !strings.HasSuffix(lines[2], " 1") {
		t.Fatalf("table output:\n%s", out.String())
	}

	run(cli.Query, "--output", "json", `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}],"filter":{"cmp":{"field":"page","op":"EQ","values":["/cli"]}}}`)
	var ans struct{ Rows [][]int64 }
	if err := json.Unmarshal(out.Bytes(), &ans); err != nil || ans.Rows[0][0] != 3 {
		t.Fatalf("json output %s (%v)", out.String(), err)
	}

	run(cli.Query, "--explain", "--dataset", "pageviews", "--metric", "p99:duration_ms", "--group-by", "page")
	if s := out.String(); !strings.Contains(s, "quantile_cont") || !strings.Contains(s, `"page"`) {
		t.Fatalf("explain output: %s", s)
	}

	// Errors from the server reach the user with its message.
	err := cli.Query([]string{"--server", base, "--dataset", "pageviews", "--metric", "sum:nope"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("bad query error: %v", err)
	}
}
