// Package cli implements olapgate's client subcommands (query, ingest), which talk to a running
// server over its HTTP API.
package cli

import (
	"io"
	"os"
)

// Stdout and Stderr are where the commands write (tests capture them). Answers go to Stdout;
// progress and summaries to Stderr, so a pipe gets only the data.
var (
	Stdout io.Writer = os.Stdout
	Stderr io.Writer = os.Stderr
)
