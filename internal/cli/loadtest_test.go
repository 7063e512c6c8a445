package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The loadtest command starts senders, progress and signal goroutines: all must be gone
// when it returns. (TestMain covers the whole package; it has no other tests yet.)
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func captureOutput(t *testing.T) (*bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = &out, &errb
	t.Cleanup(func() { Stdout, Stderr = oldOut, oldErr })
	return &out, &errb
}

func TestLoadtestCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Olapgate-Tenant") != "acme" {
			http.Error(w, "no tenant", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.html")
	out, errb := captureOutput(t)
	err := Loadtest([]string{
		"--target", srv.URL + "/x", "--tenant", "acme", "--rate", "100", "--duration", "1200ms",
		"--threshold", "p99<10s", "--threshold", "errors<1%", "--threshold", "p50<1us",
		"--json", jsonPath, "--html", htmlPath, "--max-cpu", "0", "--max-lateness", "0",
	})
	if ExitCode(err) != 2 || !strings.Contains(err.Error(), "p50<0.001ms") {
		t.Fatalf("err %v (exit %d), want exit 2 naming p50", err, ExitCode(err))
	}
	if !strings.Contains(out.String(), "PASS") || !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "204: 120") {
		t.Fatalf("summary:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "offered 100/s") { // plain progress lines off a TTY
		t.Fatalf("progress:\n%s", errb.String())
	}
	var doc map[string]any
	b, err := os.ReadFile(jsonPath)
	if err != nil || json.Unmarshal(b, &doc) != nil || doc["pass"] != false {
		t.Fatalf("JSON report %v: %s", err, b)
	}
	if h, err := os.ReadFile(htmlPath); err != nil || !bytes.Contains(h, []byte("<svg")) {
		t.Fatalf("HTML report: %v", err)
	}

	// JSON on stdout moves the summary to stderr, and passing thresholds exit 0.
	out.Reset()
	errb.Reset()
	if err := Loadtest([]string{"--target", srv.URL, "--tenant", "acme", "--workers", "2", "--duration", "200ms",
		"--threshold", "errors<1%", "--json", "-", "--quiet", "--max-cpu", "0"}); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out.Bytes()) || !strings.Contains(errb.String(), "closed loop, 2 workers") {
		t.Fatalf("stdout %s\nstderr %s", out.String(), errb.String())
	}
}

func TestLoadtestKneeCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	out, errb := captureOutput(t)
	err := Loadtest([]string{"--target", srv.URL, "--knee", "--slo", "p99<5s", "--start", "50", "--step", "50", "--max", "100",
		"--step-duration", "300ms", "--threshold", "knee>=100", "--warmup", "200ms", "--max-cpu", "0", "--max-lateness", "0"})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "100.0 requests/s") || strings.Count(errb.String(), "step ") != 2 {
		t.Fatalf("summary:\n%s\nprogress:\n%s", out.String(), errb.String())
	}
}

func TestLoadtestRefuses(t *testing.T) {
	captureOutput(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--target", "http://10.1.2.3:8080"}, "--allow-remote"},
		{[]string{"--target", "grpc://db.example.com:9090"}, "--allow-remote"},
		{[]string{"--target", "http://127.0.0.1:1", "--rate", "200000"}, "--no-limits"},
		{[]string{"--target", "http://127.0.0.1:1", "--duration", "11m"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--workers", "5", "--duration", "11m"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--workers", "20000"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--connections", "5000"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--max-inflight", "200000"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--knee", "--max", "1000000"}, "over the limit"},
		{[]string{"--target", "http://127.0.0.1:1", "--threshold", "p99<fast"}, "latency bound"},
		{[]string{"--target", "http://127.0.0.1:1", "--schedule", "burst:1@1s"}, "unknown kind"},
		{[]string{"--target", "http://127.0.0.1:1", "--mix", "/nonexistent.yaml"}, "read query mix"},
		{[]string{"--rate", "5"}, "--target is required"},
	} {
		err := Loadtest(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.err) || ExitCode(err) != 1 {
			t.Errorf("%v: err %v, want %q with exit 1", tc.args, err, tc.err)
		}
	}
}

// TestLoadtestHTTPConnections: HTTP gets a connection per concurrent request by default; a
// single connection would serialise HTTP/1.1 requests and cap the rate at 1/latency.
func TestLoadtestHTTPConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	out, _ := captureOutput(t)
	if err := Loadtest([]string{"--target", srv.URL, "--rate", "100", "--duration", "500ms", "--quiet", "--max-cpu", "0", "--max-lateness", "0", "--threshold", "p99<45s"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) < 2 {
		t.Fatalf("%d connections for 5 concurrent requests\n%s", len(conns), out.String())
	}
}
