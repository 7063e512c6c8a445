// Package dynalitetest runs dynalite (npm: a DynamoDB API server) on a loopback port for
// tests of the Kinesis source's lease table, through the launcher in tools/dynalite.
package dynalitetest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/olapgate/olapgate/internal/awslocal"
)

// DirEnv overrides where the launcher (run.js and its node_modules) is; default
// tools/dynalite at the module root.
const DirEnv = "OLAPGATE_DYNALITE_DIR"

// Region and the static credentials dynalite is reached with (it checks that requests are
// signed, not by whom).
const (
	Region    = awslocal.Region
	AccessKey = "AKIDDYNALITE"
	SecretKey = "dynalite-secret"
)

// spec runs dynalite in memory, tables created, deleted and updated at once; it answers once
// ListTables does.
var spec = awslocal.Spec[*Server]{
	Name:   "dynalite",
	DirEnv: DirEnv,
	Args:   []string{"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"},
	Wrap:   func(s *awslocal.Server) *Server { return &Server{s} },
	Probe: func(s *Server) func(context.Context) error {
		cl := s.Client()
		return func(ctx context.Context) error {
			_, err := cl.ListTables(ctx, &dynamodb.ListTablesInput{})
			return err
		}
	},
}

// Launcher is node and the dynalite launcher, found but not started. Its Start starts
// dynalite on a free loopback port, as spec says, and waits until it answers; stop it with
// Close.
type Launcher = awslocal.Launcher[*Server]

// Find locates node and the launcher, with an error saying what is missing and how to
// install it.
func Find() (*Launcher, error) {
	return awslocal.Find(spec)
}

// Server is a running dynalite: its Endpoint, and Close to stop it.
type Server struct {
	*awslocal.Server
}

// Require starts dynalite for the test and stops it at cleanup. Without node or the
// launcher's node_modules the test is skipped; under CI=true it fails instead, so CI cannot
// pass without the lease tests.
func Require(t testing.TB) *Server {
	t.Helper()
	return awslocal.Require(t, spec, "the lease table test")
}

// Credentials are the static credentials the tests sign with.
func Credentials() aws.CredentialsProvider {
	return awslocal.Credentials(AccessKey, SecretKey, "dynalitetest")
}

// Client is a DynamoDB client of the server. Its idle connections are closed with the server,
// so leak checks see no HTTP goroutines left behind.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  Credentials(),
		HTTPClient:   s.HTTPClient(),
	})
}
