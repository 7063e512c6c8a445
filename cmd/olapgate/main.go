// Command olapgate is the real-time OLAP gateway and telemetry collector: one binary whose
// subcommands serve, query and ingest.
package main

import (
	"fmt"
	"os"

	_ "time/tzdata" // zones for time buckets must work on machines without system tzdata

	"github.com/olapgate/olapgate/internal/cli"
)

const usage = `olapgate: real-time OLAP gateway

Usage:
  olapgate serve  [flags]          run the server (embedded DuckDB store, gRPC and HTTP APIs)
  olapgate query  [flags] [QUERY]  run an aggregate query against a running server
  olapgate ingest [flags] FILE...  push JSON or NDJSON events to a running server
  olapgate loadtest --target URL   drive load at a server; latency/throughput report, knee, thresholds
  olapgate pinot schema|apply      print or apply Pinot schemas and REALTIME table configs
  olapgate version

Run 'olapgate <command> -h' for a command's flags.
`

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(os.Args[2:])
	case "query":
		err = cli.Query(os.Args[2:])
	case "ingest":
		err = cli.Ingest(os.Args[2:])
	case "loadtest":
		err = cli.Loadtest(os.Args[2:])
	case "pinot":
		err = runPinot(os.Args[2:], os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("olapgate", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "olapgate: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "olapgate:", err)
		os.Exit(cli.ExitCode(err)) // 1, or e.g. 2 for a load test's broken thresholds
	}
}
