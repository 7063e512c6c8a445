package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// --pprof-addr serves Go's profiles on their own listener.
func TestServeProfiles(t *testing.T) {
	addr, closeProfiles, err := serveProfiles("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeProfiles()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("status %d, body %.200q", resp.StatusCode, body)
	}
	if _, _, err := serveProfiles(addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
		t.Fatalf("second listener on %s: %v, want an error naming --pprof-addr", addr, err)
	}
}
