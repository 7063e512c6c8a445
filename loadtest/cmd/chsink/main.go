// Command chsink is the ClickHouse server of the OTLP benchmark with collector backend
// clickhouse (loadtest/examples/otlp-bench.sh, BENCHMARKS.md): internal/chsink on a TCP port,
// speaking ClickHouse's native protocol, decoding and counting every inserted row and storing
// nothing, so olapgate's CPU is measured without a real server's. The counts are served as
// Prometheus text at http://HTTP-ADDR/metrics (chsink_rows_total{table="db.table"}, blocks,
// inserts) and printed when it stops. With -log-queries it prints every query it reads to
// stderr (its compression, settings and first 200 bytes): to see what a client sends.
//
//	go run ./loadtest/cmd/chsink -addr 127.0.0.1:9000 -http-addr 127.0.0.1:19363
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/olapgate/olapgate/internal/chsink"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "native protocol listen address (loopback)")
	httpAddr := flag.String("http-addr", "127.0.0.1:19363", "address of the /metrics endpoint (loopback)")
	logQueries := flag.Bool("log-queries", false, "print every query to stderr: compression, settings, first 200 bytes")
	flag.Parse()
	if err := run(*addr, *httpAddr, *logQueries); err != nil {
		fmt.Fprintln(os.Stderr, "chsink:", err)
		os.Exit(1)
	}
}

func run(addr, httpAddr string, logQueries bool) error {
	for _, a := range []string{addr, httpAddr} {
		if err := loopback(a); err != nil {
			return err
		}
	}
	cfg := chsink.Config{OnError: func(err error) { fmt.Fprintln(os.Stderr, "chsink: connection:", err) }}
	if logQueries {
		cfg.OnQuery = func(q chsink.Query) { fmt.Fprintln(os.Stderr, describeQuery(q)) }
	}
	sink, err := chsink.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w, sink.Stats())
	})
	hs := &http.Server{Addr: httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	hln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		_ = ln.Close()
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- sink.Serve(ln) }()
	go func() { errs <- hs.Serve(hln) }()
	fmt.Printf("chsink: native protocol on %s, metrics on http://%s/metrics\n", ln.Addr(), hln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var served error
	select {
	case <-sig:
	case served = <-errs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if errors.Is(served, chsink.ErrServerClosed) || errors.Is(served, http.ErrServerClosed) {
		served = nil
	}
	err = errors.Join(served, sink.Shutdown(ctx), hs.Shutdown(ctx))
	writeMetrics(os.Stdout, sink.Stats())
	return err
}

// describeQuery is a query's log line: "chsink: query compressed=true settings=[k=v ...]
// body", the body on one line and cut at 200 bytes.
func describeQuery(q chsink.Query) string {
	settings := make([]string, len(q.Settings))
	for i, s := range q.Settings {
		settings[i] = s.Key + "=" + s.Value
	}
	body := strings.Join(strings.Fields(q.Body), " ")
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("chsink: query compressed=%t settings=[%s] %s", q.Compressed, strings.Join(settings, " "), body)
}

func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q: only loopback addresses (a benchmark sink stores nothing and checks no password)", addr)
	}
	return nil
}

func writeMetrics(w io.Writer, stats []chsink.TableStats) {
	for _, m := range []struct {
		name, help string
		value      func(chsink.TableStats) int64
	}{
		{"chsink_rows_total", "Rows received in INSERT data blocks, by table.", func(s chsink.TableStats) int64 { return s.Rows }},
		{"chsink_blocks_total", "INSERT data blocks received, by table.", func(s chsink.TableStats) int64 { return s.Blocks }},
		{"chsink_inserts_total", "INSERT statements answered with success, by table.", func(s chsink.TableStats) int64 { return s.Inserts }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", m.name, m.help, m.name)
		for _, s := range stats {
			fmt.Fprintf(w, "%s{table=%q} %d\n", m.name, s.Table, m.value(s))
		}
	}
}
