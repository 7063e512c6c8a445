// Package dynalitetest runs dynalite (npm: a DynamoDB API server) on a loopback port for
// tests of the Kinesis source's lease table, through the launcher in tools/dynalite.
package dynalitetest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/olapgate/olapgate/internal/nodetool"
)

// DirEnv overrides where the launcher (run.js and its node_modules) is; default
// tools/dynalite at the module root.
const DirEnv = "OLAPGATE_DYNALITE_DIR"

// Region and the static credentials dynalite is reached with (it checks that requests are
// signed, not by whom).
const (
	Region    = "us-east-1"
	AccessKey = "AKIDDYNALITE"
	SecretKey = "dynalite-secret"
)

// Launcher is node and the dynalite launcher, found but not started.
type Launcher struct {
	tool *nodetool.Tool
}

// Find locates node and the launcher, with an error saying what is missing and how to
// install it.
func Find() (*Launcher, error) {
	tool, err := nodetool.Find("dynalite", DirEnv, "dynalite")
	if err != nil {
		return nil, err
	}
	return &Launcher{tool: tool}, nil
}

// Server is a running dynalite.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:<port>.
	Endpoint string

	proc *nodetool.Process

	mu         sync.Mutex
	transports []*http.Transport // of the clients made, closed with the server
}

// Start starts dynalite on a free loopback port (in memory, tables created, deleted and
// updated at once) and waits until it answers. Stop it with Close.
func (l *Launcher) Start(ctx context.Context) (*Server, error) {
	proc, err := l.tool.Listen(ctx, "dynalite", "--port", "0", "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: proc.URL, proc: proc}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.waitAnswers(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// waitAnswers polls ListTables until dynalite answers it.
func (s *Server) waitAnswers(ctx context.Context) error {
	cl := s.Client()
	return s.proc.WaitAnswers(ctx, func(ctx context.Context) error {
		_, err := cl.ListTables(ctx, &dynamodb.ListTablesInput{})
		return err
	})
}

// Close stops dynalite: its stdin closes (it exits by itself), then it is killed if it has
// not exited within 5 seconds.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, tr := range s.transports {
		tr.CloseIdleConnections()
	}
	s.mu.Unlock()
	return s.proc.Close()
}

// Require starts dynalite for the test and stops it at cleanup. Without node or the
// launcher's node_modules the test is skipped; under CI=true it fails instead, so CI cannot
// pass without the lease tests.
func Require(t testing.TB) *Server {
	t.Helper()
	l, err := Find()
	if err != nil {
		nodetool.Missing(t, "dynalite", "the lease table test", err)
	}
	s, err := l.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nodetool.CloseAtCleanup(t, s.proc, s.Close)
	return s
}

// Credentials are the static credentials the tests sign with.
func Credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, Source: "dynalitetest"}, nil
	})
}

// Client is a DynamoDB client of the server. Its idle connections are closed with the server,
// so leak checks see no HTTP goroutines left behind.
func (s *Server) Client() *dynamodb.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.mu.Lock()
	s.transports = append(s.transports, tr)
	s.mu.Unlock()
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  Credentials(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: tr},
	})
}
