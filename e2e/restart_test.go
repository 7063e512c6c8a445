package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/sample"
)

// child is the test binary serving as olapgate in its own process.
type child struct {
	cmd        *exec.Cmd
	httpBase   string
	grpcAddr   string
	waitResult chan error
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child server: %v", err)
	}
	c := &child{cmd: cmd, waitResult: make(chan error, 1)}
	lines := bufio.NewScanner(out)
	ready := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "LISTENING ") {
				ready <- lines.Text()
			}
		}
		c.waitResult <- cmd.Wait()
	}()
	select {
	case l := <-ready:
		f := strings.Fields(l)
		c.httpBase, c.grpcAddr = "http://"+f[1], f[2]
	case err := <-c.waitResult:
		t.Fatalf("child server exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child server did not start within 60s")
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// TestRestartAfterKill9 ingests in a separate server process, kills it with SIGKILL while
// requests are in flight, restarts on the same data directory and checks that every
// acknowledged event is there exactly once.
func TestRestartAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	c := startChild(t, dir)

	g := sample.New(7, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 24*time.Hour, 1000)
	const batch = 250
	var ackedIDs []string
	sent := 0
	killed := make(chan struct{})
	for b := 0; ; b++ {
		var body []byte
		var ids []string
		for range batch {
			e := g.Next()
			ids = append(ids, e.ID)
			body = append(e.AppendJSON(body), '\n')
		}
		sent += batch
		if b == 20 {
			// Kill while this batch is in flight: it may or may not be committed, but every
			// batch acknowledged before must survive.
			go func() {
				time.Sleep(2 * time.Millisecond)
				_ = c.cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}()
		}
		code, out, err := tryPost(c.httpBase+"/v1/datasets/pageviews/events", body)
		if err != nil {
			break // the process is gone
		}
		if code != 200 {
			t.Fatalf("batch %d: status %d: %s", b, code, out)
		}
		ackedIDs = append(ackedIDs, ids...)
		if b > 2000 {
			t.Fatal("server still answering long after SIGKILL")
		}
	}
	<-killed
	<-c.waitResult
	if len(ackedIDs) < 20*batch {
		t.Fatalf("only %d events acknowledged before the kill", len(ackedIDs))
	}

	c2 := startChild(t, dir)
	count := func(filter any) int64 {
		q := map[string]any{
			"dataset":   "pageviews",
			"timeRange": map[string]any{"start": "2026-11-19T00:00:00Z", "end": "2026-11-22T00:00:00Z"},
			"metrics":   []any{map[string]any{"agg": "COUNT"}, map[string]any{"agg": "COUNT_DISTINCT", "field": "id"}},
		}
		if filter != nil {
			q["filter"] = filter
		}
		raw, _ := json.Marshal(q)
		code, out := postJSON(t, c2.httpBase+"/v1/query", "application/json", raw)
		if code != 200 {
			t.Fatalf("query: %d %s", code, out)
		}
		var ans struct{ Rows [][]int64 }
		if err := json.Unmarshal(out, &ans); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		if ans.Rows[0][0] != ans.Rows[0][1] {
			t.Fatalf("%d rows but %d distinct ids: duplicates after restart", ans.Rows[0][0], ans.Rows[0][1])
		}
		return ans.Rows[0][0]
	}
	total := count(nil)
	if total < int64(len(ackedIDs)) || total > int64(sent) {
		t.Fatalf("after restart %d events stored; acknowledged %d, sent %d", total, len(ackedIDs), sent)
	}
	// The most recently acknowledged events are the ones a lost commit would drop.
	last := ackedIDs[len(ackedIDs)-batch:]
	vals := make([]any, len(last))
	for i, id := range last {
		vals[i] = id
	}
	if n := count(map[string]any{"cmp": map[string]any{"field": "id", "op": "IN", "values": vals}}); n != int64(len(last)) {
		t.Fatalf("last acknowledged batch: %d of %d events present after restart", n, len(last))
	}
	t.Logf("acknowledged %d, sent %d, present after kill -9 and restart %d", len(ackedIDs), sent, total)
}

func tryPost(url string, body []byte) (int, []byte, error) {
	resp, err := http.Post(url, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// TestGracefulShutdown sends SIGTERM while ingest requests are in flight: the process must exit
// cleanly, and after restart every acknowledged event is present.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	c := startChild(t, dir)
	g := sample.New(9, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 24*time.Hour, 1000)
	const workers, perWorker, batch = 4, 10, 500
	bodies := make([][]byte, workers*perWorker)
	for i := range bodies {
		for range batch {
			bodies[i] = append(g.Next().AppendJSON(bodies[i]), '\n')
		}
	}
	acked := make(chan int, len(bodies))
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; i < len(bodies); i += workers {
				code, _, err := tryPost(c.httpBase+"/v1/datasets/pageviews/events", bodies[i])
				if err != nil || code != 200 {
					return
				}
				acked <- batch
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.waitResult:
		if err != nil {
			t.Fatalf("server did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30s of SIGTERM")
	}
	for range workers {
		<-done
	}
	close(acked)
	total := 0
	for n := range acked {
		total += n
	}

	c2 := startChild(t, dir)
	raw, _ := json.Marshal(map[string]any{
		"dataset":   "pageviews",
		"timeRange": map[string]any{"start": "2026-11-19T00:00:00Z", "end": "2026-11-22T00:00:00Z"},
		"metrics":   []any{map[string]any{"agg": "COUNT"}},
	})
	code, out := postJSON(t, c2.httpBase+"/v1/query", "application/json", raw)
	var ans struct{ Rows [][]int64 }
	if err := json.Unmarshal(out, &ans); err != nil || code != 200 {
		t.Fatalf("query: %d %s", code, out)
	}
	if got := ans.Rows[0][0]; got < int64(total) || got > int64(len(bodies)*batch) {
		t.Fatalf("after SIGTERM and restart %d events stored; %d acknowledged", got, total)
	}
	t.Logf("acknowledged %d events before SIGTERM; %d stored after restart", total, ans.Rows[0][0])
}
