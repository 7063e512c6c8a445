// Package nodetool finds the Node.js programs under tools/ that tests use as real peers (chdb, kinesalite), and applies the CI rule for missing ones.
package nodetool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool is node and a tool's directory: its run.js launcher and node_modules.
type Tool struct {
	Node, Dir string
}

// Find locates node and tools/<name> at the module root (or the directory dirEnv names),
// with its launcher run.js and the npm package pkg installed; the error says what is missing
// and how to install it.
func Find(name, dirEnv, pkg string) (*Tool, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not on PATH: %w", err)
	}
	dir := os.Getenv(dirEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(root, "tools", name)
	}
	for _, p := range []string{"run.js", filepath.Join("node_modules", pkg, "package.json")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return nil, fmt.Errorf("%s launcher incomplete (run `npm ci` in %s): %w", name, dir, err)
		}
	}
	return &Tool{Node: node, Dir: dir}, nil
}

// Missing ends a test whose tool could not be found (err from Find): it skips, but under
// CI=true it fails, so CI cannot pass without the check the tool makes (.ci/run installs
// every tool). what names the check skipped.
func Missing(t testing.TB, name, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s not available, skipping %s: %v", name, what, err)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
