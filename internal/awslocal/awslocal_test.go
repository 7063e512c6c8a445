package awslocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/internal/nodetool"
)

// No goroutine of a server's clients or of its process outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A server is started on a free port with its arguments, is ready once its probe succeeds,
// and stops at the test's cleanup.
func TestStart(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		nodetool.Missing(t, "node", "the local AWS server test", err)
	}
	dir := t.TempDir()
	// A launcher as tools/kinesalite's: it answers 503 for its first requests, then 200 with
	// the arguments it was given.
	script := `var args = process.argv.slice(2), n = 0
var server = require('http').createServer(function(req, res) {
  res.statusCode = ++n < 3 ? 503 : 200
  res.end(JSON.stringify(args))
})
server.listen(0, '127.0.0.1', function() { console.log('Listening at http://127.0.0.1:%d', server.address().port) })
process.stdin.on('end', function() { process.exit(0) }); process.stdin.resume()`
	if err := os.WriteFile(filepath.Join(dir, "run.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node_modules", "demo", "package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OLAPGATE_AWSLOCAL_TEST_DIR", dir)
	var args []string
	probe := func(s *Server) func(context.Context) error {
		cl := s.HTTPClient()
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint, nil)
			if err != nil {
				return err
			}
			resp, err := cl.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return json.NewDecoder(resp.Body).Decode(&args)
		}
	}
	same := func(s *Server) *Server { return s }
	s := Require(t, Spec[*Server]{Name: "demo", DirEnv: "OLAPGATE_AWSLOCAL_TEST_DIR", Args: []string{"--x", "1"}, Wrap: same, Probe: probe}, "the demo")
	if want := []string{"--port", "0", "--x", "1"}; !slices.Equal(args, want) {
		t.Errorf("run.js got %q, want %q", args, want)
	}
	// A second client of the server, closed with it.
	if err := probe(s)(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Setenv("OLAPGATE_AWSLOCAL_TEST_DIR", t.TempDir())
	if _, err := Find(Spec[*Server]{Name: "demo", DirEnv: "OLAPGATE_AWSLOCAL_TEST_DIR"}); err == nil {
		t.Fatal("found a launcher in an empty directory")
	}
}

func TestCredentials(t *testing.T) {
	c, err := Credentials("AKID", "secret", "test").Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKID" || c.SecretAccessKey != "secret" || c.Source != "test" {
		t.Fatalf("credentials %+v, %v", c, err)
	}
}
