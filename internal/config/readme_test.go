package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestReadmeConfig: the README's full configuration example (the YAML block with server:
// and datasets:) parses and validates, so the documented keys exist. It once documented
// admission.maxQueueWait before the config had it.
func TestReadmeConfig(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	in, cur := false, ""
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```yaml"):
			in, cur = true, ""
		case in && strings.HasPrefix(line, "```"):
			in = false
			if strings.Contains(cur, "\nserver:") || strings.HasPrefix(cur, "server:") {
				if strings.Contains(cur, "\ndatasets:") {
					blocks = append(blocks, cur)
				}
			}
		case in:
			cur += line + "\n"
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("%d full configuration examples in README.md, want 1", len(blocks))
	}
	c, err := Parse([]byte(blocks[0]))
	if err != nil {
		t.Fatalf("README.md's configuration: %v", err)
	}
	if got := c.AdmissionConfig().MaxQueueWait; got != 250*time.Millisecond {
		t.Errorf("admission.maxQueueWait: %s, want the README's 250ms", got)
	}
	if c.Backends.ClickHouse == nil || c.Backends.ClickHouse.Compression != "lz4" {
		t.Errorf("backends.clickhouse: %+v, want compression lz4", c.Backends.ClickHouse)
	}
}
