package nodetool

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A launcher's address is read from its output; Close ends it through its stdin; one that
// exits before listening is reported with its stderr.
func TestListen(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node", "the launcher test", err)
	}
	dir := t.TempDir()
	tool := &Tool{Node: node, Dir: dir}
	script := `if (process.argv[2] == 'fail') { console.error('no port for you'); process.exit(3) }
console.log('starting'); console.log('Listening at http://127.0.0.1:1')
process.stdin.on('end', function() { process.exit(0) }); process.stdin.resume()`
	if err := os.WriteFile(filepath.Join(dir, "run.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := tool.Listen(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if p.URL != "http://127.0.0.1:1" {
		t.Errorf("URL %q", p.URL)
	}
	probes := 0
	err = p.WaitAnswers(context.Background(), func(context.Context) error {
		if probes++; probes < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || probes != 3 {
		t.Fatalf("WaitAnswers: %v after %d probes", err, probes)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("the launcher did not exit when its stdin closed")
	}
	if _, err := tool.Listen(context.Background(), "demo", "fail"); err == nil || !strings.Contains(err.Error(), "no port for you") {
		t.Fatalf("a launcher that exits: %v", err)
	}
}
