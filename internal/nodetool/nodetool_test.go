package nodetool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFind: a tool directory is complete with run.js and its npm package; the error names
// what is missing and how to install it.
func TestFind(t *testing.T) {
	if _, err := os.Stat("/usr/bin/node"); err != nil {
		if _, err := Find("x", "OLAPGATE_NODETOOL_TEST_DIR", "x"); err == nil || !strings.Contains(err.Error(), "node") {
			t.Fatalf("no node: %v", err)
		}
		return
	}
	dir := t.TempDir()
	t.Setenv("OLAPGATE_NODETOOL_TEST_DIR", dir)
	if _, err := Find("demo", "OLAPGATE_NODETOOL_TEST_DIR", "demo"); err == nil || !strings.Contains(err.Error(), "run `npm ci` in "+dir) {
		t.Fatalf("empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.js"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node_modules", "demo", "package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tool, err := Find("demo", "OLAPGATE_NODETOOL_TEST_DIR", "demo")
	if err != nil || tool.Dir != dir || tool.Node == "" {
		t.Fatalf("complete dir: %+v %v", tool, err)
	}
	// Without the override, tools/<name> under the module root.
	t.Setenv("OLAPGATE_NODETOOL_TEST_DIR", "")
	_, err = Find("no-such-tool", "OLAPGATE_NODETOOL_TEST_DIR", "x")
	if err == nil || !strings.Contains(err.Error(), filepath.Join("tools", "no-such-tool")) {
		t.Fatalf("module root lookup: %v", err)
	}
}
