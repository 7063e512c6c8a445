package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/server"
)

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML config file (datasets, limits); default: built-in pageviews dataset")
	dataDir := fs.String("data-dir", "./data", "embedded store data directory")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "HTTP listen address (REST/JSON API, /metrics, /healthz)")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:9090", "gRPC listen address")
	otlpGRPC := fs.String("otlp-grpc-addr", "127.0.0.1:4317", `OTLP/gRPC receiver address ("off" disables it)`)
	otlpHTTP := fs.String("otlp-http-addr", "127.0.0.1:4318", `OTLP/HTTP receiver address ("off" disables it)`)
	memLimit := fs.String("memory-limit", "", "DuckDB memory_limit, e.g. 4GB (default: DuckDB's, 80% of RAM)")
	threads := fs.Int("threads", 0, "DuckDB worker threads (default: one per core)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's /debug/pprof/ profiles on this address, e.g. 127.0.0.1:6060 (default: off; keep it on loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	// Flags given on the command line win over the file.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.Server.DataDir = *dataDir
		case "http-addr":
			cfg.Server.HTTPAddr = *httpAddr
		case "grpc-addr":
			cfg.Server.GRPCAddr = *grpcAddr
		case "otlp-grpc-addr":
			cfg.Collector.GRPCAddr = *otlpGRPC
		case "otlp-http-addr":
			cfg.Collector.HTTPAddr = *otlpHTTP
		case "memory-limit":
			cfg.Embedded.MemoryLimit = *memLimit
		case "threads":
			cfg.Embedded.Threads = *threads
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		_, closeProfiles, err := serveProfiles(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer closeProfiles()
	}
	return server.Run(ctx, cfg, log)
}

// serveProfiles serves net/http/pprof on its own listener, apart from the API: profiles are
// for whoever runs the process (CPU profiles of a loaded server: BENCHMARKS.md's profiles were taken this way), not for API
// clients, and a profile request must not queue behind the API's limits.
func serveProfiles(addr string, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--pprof-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("serving profiles", "addr", ln.Addr().String())
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
