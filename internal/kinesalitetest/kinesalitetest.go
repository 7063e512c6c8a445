// Package kinesalitetest runs kinesalite (npm: a Kinesis API server) on a loopback port for
// tests of olapgate's Kinesis source, through the launcher in tools/kinesalite.
package kinesalitetest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/olapgate/olapgate/internal/awslocal"
)

// DirEnv overrides where the launcher (run.js and its node_modules) is; default
// tools/kinesalite at the module root.
const DirEnv = "OLAPGATE_KINESALITE_DIR"

// Region and the static credentials kinesalite is reached with (it checks that requests are
// signed, not by whom).
const (
	Region    = awslocal.Region
	AccessKey = "AKIDKINESALITE"
	SecretKey = "kinesalite-secret"
)

// spec runs kinesalite in memory, streams created, deleted and updated at once, up to 100
// shards; it answers once ListStreams does.
var spec = awslocal.Spec[*Server]{
	Name:   "kinesalite",
	DirEnv: DirEnv,
	Args:   []string{"--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0", "--shardLimit", "100"},
	Wrap:   func(s *awslocal.Server) *Server { return &Server{s} },
	Probe: func(s *Server) func(context.Context) error {
		cl := s.Client()
		return func(ctx context.Context) error {
			_, err := cl.ListStreams(ctx, &kinesis.ListStreamsInput{})
			return err
		}
	},
}

// Launcher is node and the kinesalite launcher, found but not started. Its Start starts
// kinesalite on a free loopback port, as spec says, and waits until it answers; stop it with
// Close.
type Launcher = awslocal.Launcher[*Server]

// Find locates node and the launcher, with an error saying what is missing and how to
// install it.
func Find() (*Launcher, error) {
	return awslocal.Find(spec)
}

// Server is a running kinesalite: its Endpoint, and Close to stop it.
type Server struct {
	*awslocal.Server
}

// Require starts kinesalite for the test and stops it at cleanup. Without node or the
// launcher's node_modules the test is skipped; under CI=true it fails instead, so CI cannot
// pass without the Kinesis tests.
func Require(t testing.TB) *Server {
	t.Helper()
	return awslocal.Require(t, spec, "the Kinesis test")
}

// Credentials are the static credentials the tests sign with.
func Credentials() aws.CredentialsProvider {
	return awslocal.Credentials(AccessKey, SecretKey, "kinesalitetest")
}

// Client is a Kinesis client of the server. Its idle connections are closed with the server,
// so leak checks see no HTTP goroutines left behind.
func (s *Server) Client() *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  Credentials(),
		HTTPClient:   s.HTTPClient(),
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
