// Package e2e holds the end-to-end tests: the real server on loopback ports over the real
// embedded store. They are gathered here because every test binary that links DuckDB costs a
// minute to build.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/server"
)

// childEnv makes the test binary act as `olapgate serve` (for the kill -9 restart test) so the
// test needs no second DuckDB link.
const childEnv = "OLAPGATE_E2E_SERVE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(serveChild(dir))
	}
	os.Exit(m.Run())
}

func serveChild(dir string) int {
	cfg := config.Default()
	cfg.Server.DataDir = dir
	cfg.Server.HTTPAddr = "127.0.0.1:0"
	cfg.Server.GRPCAddr = "127.0.0.1:0"
	cfg.Collector.GRPCAddr, cfg.Collector.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s := server.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := s.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	// The parent reads the addresses from the first stdout line.
	fmt.Printf("LISTENING %s %s\n", s.HTTPAddr(), s.GRPCAddr())
	_ = s.Wait(ctx)
	if err := s.Shutdown(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
		return 1
	}
	return 0
}

// startServer runs a server in-process on loopback ports over a temp data directory; edit, if
// given, changes the default configuration first.
func startServer(t testing.TB, dir string, edit ...func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	for _, e := range edit {
		e(cfg)
	}
	cfg.Server.DataDir = dir
	cfg.Server.HTTPAddr = "127.0.0.1:0"
	cfg.Server.GRPCAddr = "127.0.0.1:0"
	cfg.Collector.GRPCAddr, cfg.Collector.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	s := server.New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
