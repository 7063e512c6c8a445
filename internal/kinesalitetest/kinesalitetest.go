// Package kinesalitetest runs kinesalite (npm: a Kinesis API server) on a loopback port for
// tests of olapgate's Kinesis source, through the launcher in tools/kinesalite.
package kinesalitetest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/olapgate/olapgate/internal/nodetool"
)

// DirEnv overrides where the launcher (run.js and its node_modules) is; default
// tools/kinesalite at the module root.
const DirEnv = "OLAPGATE_KINESALITE_DIR"

// Region and the static credentials kinesalite is reached with (it checks that requests are
// signed, not by whom).
const (
	Region    = "us-east-1"
	AccessKey = "AKIDKINESALITE"
	SecretKey = "kinesalite-secret"
)

// Launcher is node and the kinesalite launcher, found but not started.
type Launcher struct {
	tool *nodetool.Tool
}

// Find locates node and the launcher, with an error saying what is missing and how to
// install it.
func Find() (*Launcher, error) {
	tool, err := nodetool.Find("kinesalite", DirEnv, "kinesalite")
	if err != nil {
		return nil, err
	}
	return &Launcher{tool: tool}, nil
}

// Server is a running kinesalite.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:<port>.
	Endpoint string

	proc *nodetool.Process

	mu         sync.Mutex
	transports []*http.Transport // of the clients made, closed with the server
}

// Start starts kinesalite on a free loopback port (in memory, streams created, deleted and
// updated at once, up to 100 shards) and waits until it answers. Stop it with Close.
func (l *Launcher) Start(ctx context.Context) (*Server, error) {
	proc, err := l.tool.Listen(ctx, "kinesalite", "--port", "0",
		"--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0", "--shardLimit", "100")
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

// waitAnswers polls ListStreams until kinesalite answers it.
func (s *Server) waitAnswers(ctx context.Context) error {
	cl := s.Client()
	return s.proc.WaitAnswers(ctx, func(ctx context.Context) error {
		_, err := cl.ListStreams(ctx, &kinesis.ListStreamsInput{})
		return err
	})
}

// Close stops kinesalite: its stdin closes (it exits by itself), then it is killed if it has
// not exited within 5 seconds.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, tr := range s.transports {
		tr.CloseIdleConnections()
	}
	s.mu.Unlock()
	return s.proc.Close()
}

// Require starts kinesalite for the test and stops it at cleanup. Without node or the
// launcher's node_modules the test is skipped; under CI=true it fails instead, so CI cannot
// pass without the Kinesis tests.
func Require(t testing.TB) *Server {
	t.Helper()
	l, err := Find()
	if err != nil {
		nodetool.Missing(t, "kinesalite", "the Kinesis test", err)
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
		return aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, Source: "kinesalitetest"}, nil
	})
}

// Client is a Kinesis client of the server. Its idle connections are closed with the server,
// so leak checks see no HTTP goroutines left behind.
func (s *Server) Client() *kinesis.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.mu.Lock()
	s.transports = append(s.transports, tr)
	s.mu.Unlock()
	return kinesis.New(kinesis.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  Credentials(),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: tr},
	})
}

// CreateStream creates a stream of shards shards and waits until it is active.
func (s *Server) CreateStream(t testing.TB, name string, shards int32) {
	t.Helper()
	ctx := context.Background()
	cl := s.Client()
	if _, err := cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	s.WaitActive(t, name)
}

// WaitActive waits until the stream is ACTIVE (after a create, split or merge).
func (s *Server) WaitActive(t testing.TB, name string) {
	t.Helper()
	cl := s.Client()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := cl.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe stream %s: %v", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s still %s", name, out.StreamDescriptionSummary.StreamStatus)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
