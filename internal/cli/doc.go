// Package cli implements olapgate's client subcommands: query and ingest, which talk to a
// running server over its HTTP API, and loadtest, which drives load at one.
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
