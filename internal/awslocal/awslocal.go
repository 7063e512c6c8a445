// Package awslocal runs a Node-based local AWS API server under tools/ (kinesalite, dynalite) on a loopback port for tests.
package awslocal

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/olapgate/olapgate/internal/nodetool"
)

// Region is the region the servers are reached with (they answer for any).
const Region = "us-east-1"

// Spec says which server to run, how to tell that it answers, and how its package wraps it
// (S: its server type, with clients of its AWS service).
type Spec[S any] struct {
	// Name is the server's npm package, its launcher's directory tools/<Name> and its name in
	// messages.
	Name string
	// DirEnv names the environment variable that overrides the launcher's directory.
	DirEnv string
	// Args are run.js's arguments after --port 0 (a free loopback port: every launcher takes
	// --port and binds 127.0.0.1).
	Args []string
	// Wrap makes the package's server of a running one.
	Wrap func(*Server) S
	// Probe returns a call to s that succeeds once the server is ready (made once a start,
	// called until it succeeds).
	Probe func(s S) func(context.Context) error
}

// Launcher is node and a server's launcher, found but not started.
type Launcher[S any] struct {
	tool *nodetool.Tool
	spec Spec[S]
}

// Find locates node and the launcher, with an error saying what is missing and how to
// install it.
func Find[S any](spec Spec[S]) (*Launcher[S], error) {
	tool, err := nodetool.Find(spec.Name, spec.DirEnv, spec.Name)
	if err != nil {
		return nil, err
	}
	return &Launcher[S]{tool: tool, spec: spec}, nil
}

// Server is a running server.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:<port>.
	Endpoint string

	proc *nodetool.Process

	mu         sync.Mutex
	transports []*http.Transport // of the clients made, closed with the server
}

// Start starts the server on a free loopback port and waits (within 30 seconds) until it
// answers the probe. Stop it with Close.
func (l *Launcher[S]) Start(ctx context.Context) (S, error) {
	s, err := l.start(ctx)
	if err != nil {
		var zero S
		return zero, err
	}
	return l.spec.Wrap(s), nil
}

func (l *Launcher[S]) start(ctx context.Context) (*Server, error) {
	proc, err := l.tool.Listen(ctx, l.spec.Name, append([]string{"--port", "0"}, l.spec.Args...)...)
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: proc.URL, proc: proc}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.WaitAnswers(ctx, l.spec.Probe(l.spec.Wrap(s))); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server: its stdin closes (it exits by itself), then it is killed if it has
// not exited within 5 seconds. The idle connections of its clients are closed first.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, tr := range s.transports {
		tr.CloseIdleConnections()
	}
	s.mu.Unlock()
	return s.proc.Close()
}

// HTTPClient is an HTTP client for an AWS SDK client of the server. Its idle connections are
// closed with the server, so leak checks see no HTTP goroutines left behind.
func (s *Server) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.mu.Lock()
	s.transports = append(s.transports, tr)
	s.mu.Unlock()
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// Require starts the server for the test and stops it at cleanup. Without node or the
// launcher's node_modules the test is skipped; under CI=true it fails instead, so CI cannot
// pass without what (the check that needs the server, e.g. "the Kinesis test").
func Require[S any](t testing.TB, spec Spec[S], what string) S {
	t.Helper()
	l, err := Find(spec)
	if err != nil {
		nodetool.Missing(t, spec.Name, what, err)
	}
	s, err := l.start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nodetool.CloseAtCleanup(t, s.proc, s.Close)
	return spec.Wrap(s)
}

// Credentials are static credentials (the servers check that requests are signed, not by
// whom); source names them in the SDK's logs.
func Credentials(accessKey, secretKey, source string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: source}, nil
	})
}
