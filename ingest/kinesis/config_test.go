package kinesis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func validConfig() Config {
	return Config{Name: "k", Stream: "events", Region: "eu-west-1", Dataset: "events"}
}

func TestConfigValidate(t *testing.T) {
	known := func(n string) bool { return n == "events" || n == "views" }
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		err  string // "" valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"everything", func(c *Config) {
			c.Endpoint = "http://127.0.0.1:4567"
			c.Credentials = CredentialsConfig{Source: "static", AccessKey: "a", SecretKey: "s", SessionToken: "t"}
			c.StartPosition = "AT_TIMESTAMP"
			c.StartTimestamp = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c.Batch = BatchConfig{MaxEvents: 100, MaxWait: time.Second}
			c.PollInterval, c.DiscoveryInterval, c.GetRecordsLimit = time.Second, time.Minute, 10000
			c.DeadLetter.Dataset = "kinesis_dlq"
		}, ""},
		{"route", func(c *Config) {
			c.Dataset = ""
			c.Route = &FieldRoute{Field: "type", Datasets: map[string]string{"a": "events", "b": "views"}}
		}, ""},
		{"gov region", func(c *Config) { c.Region = "us-gov-west-1" }, ""},
		{"latest", func(c *Config) { c.StartPosition = "LATEST" }, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name is required"},
		{"no stream", func(c *Config) { c.Stream = "" }, "stream is required"},
		{"bad stream", func(c *Config) { c.Stream = "a/b" }, "a-z A-Z 0-9"},
		{"long stream", func(c *Config) { c.Stream = strings.Repeat("s", 129) }, "128"},
		{"no region", func(c *Config) { c.Region = "" }, "region is required"},
		{"bad region", func(c *Config) { c.Region = "us-east1" }, "AWS region"},
		{"endpoint without scheme", func(c *Config) { c.Endpoint = "127.0.0.1:4567" }, "http:// or https://"},
		{"endpoint ftp", func(c *Config) { c.Endpoint = "ftp://host" }, "http:// or https://"},
		{"env with keys", func(c *Config) { c.Credentials = CredentialsConfig{AccessKey: "a", SecretKey: "s"} }, "source: static"},
		{"static without secret", func(c *Config) { c.Credentials = CredentialsConfig{Source: "static", AccessKey: "a"} }, "required"},
		{"unknown credentials", func(c *Config) { c.Credentials = CredentialsConfig{Source: "imds"} }, "env or static"},
		{"bad start", func(c *Config) { c.StartPosition = "EARLIEST" }, "TRIM_HORIZON, LATEST or AT_TIMESTAMP"},
		{"at timestamp without one", func(c *Config) { c.StartPosition = "AT_TIMESTAMP" }, "needs startTimestamp"},
		{"timestamp without at", func(c *Config) { c.StartTimestamp = time.Now() }, "for startPosition AT_TIMESTAMP"},
		{"dataset and route", func(c *Config) { c.Route = &FieldRoute{Field: "x", Default: "events"} }, "not both"},
		{"no dataset", func(c *Config) { c.Dataset = "" }, "give a dataset"},
		{"unknown dataset", func(c *Config) { c.Dataset = "nope" }, "not declared"},
		{"route to unknown", func(c *Config) {
			c.Dataset = ""
			c.Route = &FieldRoute{Field: "type", Datasets: map[string]string{"a": "nope"}}
		}, "not declared"},
		{"negative batch", func(c *Config) { c.Batch.MaxEvents = -1 }, "negative"},
		{"negative poll", func(c *Config) { c.PollInterval = -time.Second }, "negative"},
		{"limit too high", func(c *Config) { c.GetRecordsLimit = 10001 }, "getRecordsLimit"},
		{"dead letter is a dataset", func(c *Config) { c.DeadLetter.Dataset = "views" }, "own"},
		{"dead letter name", func(c *Config) { c.DeadLetter.Dataset = "_x" }, "reserved"},
		{"leases", func(c *Config) {
			c.Leases = &LeaseConfig{Table: "k.leases", Endpoint: "http://127.0.0.1:8000", Duration: 2 * time.Second, RenewInterval: time.Second, WorkerID: "w1"}
		}, ""},
		{"lease table missing", func(c *Config) { c.Leases = &LeaseConfig{} }, `leases: table "": want 3 to 255`},
		{"lease table name", func(c *Config) { c.Leases = &LeaseConfig{Table: "a/b"} }, `leases: table "a/b"`},
		{"lease endpoint", func(c *Config) { c.Leases = &LeaseConfig{Table: "kl1", Endpoint: "dynamo:8000"} }, "leases: endpoint"},
		{"lease duration short", func(c *Config) { c.Leases = &LeaseConfig{Table: "kl1", Duration: 100 * time.Millisecond} }, "leases: duration 100ms: want at least 500ms"},
		{"lease renew too slow", func(c *Config) { c.Leases = &LeaseConfig{Table: "kl1", RenewInterval: 6 * time.Second} }, "leases: renewInterval 6s: want at most half the duration, 5s"},
		{"lease renew negative", func(c *Config) { c.Leases = &LeaseConfig{Table: "kl1", RenewInterval: -time.Second} }, "leases: renewInterval"},
		{"worker id long", func(c *Config) { c.Leases = &LeaseConfig{Table: "kl1", WorkerID: strings.Repeat("w", 257)} }, "leases: workerId: 257 bytes, want at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mut(&c)
			err := c.Validate(known)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
			if err != nil && c.Name != "" && !strings.Contains(err.Error(), "kinesis source "+c.Name) {
				t.Errorf("error %q does not name the source", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := validConfig().withDefaults()
	if c.StartPosition != StartTrimHorizon || c.Credentials.Source != CredentialsEnv || c.Batch.MaxEvents != DefaultMaxEvents ||
		c.Batch.MaxWait != DefaultMaxWait || c.PollInterval != time.Second || c.DiscoveryInterval != 30*time.Second ||
		c.GetRecordsLimit != 10000 || c.DeadLetter.Dataset != "olapgate_deadletter" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Leases != nil {
		t.Fatalf("leases without a table: %+v", c.Leases)
	}
	in := validConfig()
	in.Leases = &LeaseConfig{Table: "kl1"}
	c = in.withDefaults()
	if c.Leases.Duration != 10*time.Second || c.Leases.RenewInterval != 10*time.Second/3 {
		t.Fatalf("lease defaults: %+v", c.Leases)
	}
	if in.Leases.Duration != 0 {
		t.Fatal("withDefaults changed the caller's lease config")
	}
	in.Leases.Duration = 3 * time.Second
	if c := in.withDefaults(); c.Leases.RenewInterval != time.Second {
		t.Fatalf("renewInterval default for a 3s lease: %s", c.Leases.RenewInterval)
	}
}

func TestCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	env := CredentialsConfig{}.provider()
	if _, err := env.Retrieve(t.Context()); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("env credentials without variables: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	c, err := env.Retrieve(t.Context())
	if err != nil || c.AccessKeyID != "AKID" || c.SecretAccessKey != "secret" || c.SessionToken != "token" {
		t.Fatalf("env credentials: %+v, %v", c, err)
	}
	c, err = CredentialsConfig{Source: "static", AccessKey: "a", SecretKey: "s"}.provider().Retrieve(t.Context())
	if err != nil || c.AccessKeyID != "a" || c.SecretAccessKey != "s" {
		t.Fatalf("static credentials: %+v, %v", c, err)
	}
}

func TestSeqAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2", "1", true},
		{"1", "2", false},
		{"1", "1", false},
		{"10", "9", true},
		{"9", "10", false},
		{"0010", "9", true},
		{"49680920799084518817575448116775209648464977093709529090", "49680920799084518817575448116775209648464977093709529089", true},
		{"49680920799084518817575448116775209648464977093709529090", "4968092079908451881757544811677520964846497709370952909", true},
	} {
		if got := seqAfter(tc.a, tc.b); got != tc.want {
			t.Errorf("seqAfter(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		want := min(minBackoff<<min(attempt-1, 16), maxBackoff)
		for range 20 {
			if d := backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestThrottled(t *testing.T) {
	for _, tc := range []struct {
		err       error
		throttled bool
		code      string
	}{
		{&types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, true, "ProvisionedThroughputExceededException"},
		{&types.LimitExceededException{}, true, "LimitExceededException"},
		{&types.KMSThrottlingException{}, true, "KMSThrottlingException"},
		{&types.ExpiredIteratorException{}, false, "ExpiredIteratorException"},
		{&types.ResourceNotFoundException{}, false, "ResourceNotFoundException"},
		{errors.New("connection refused"), false, ""},
	} {
		wrapped := errWrap{tc.err}
		if got := throttled(wrapped); got != tc.throttled {
			t.Errorf("throttled(%v) = %v", tc.err, got)
		}
		if got := apiCode(wrapped); got != tc.code {
			t.Errorf("apiCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
	}
}

type errWrap struct{ err error }

func (e errWrap) Error() string { return "get records: " + e.err.Error() }
func (e errWrap) Unwrap() error { return e.err }

// The stream counters are the Kafka source's: both kinds of source register into one registry.
func TestMetricsShareKafkaSeries(t *testing.T) {
	d := eventsDataset(t, "events")
	reg := prometheus.NewRegistry()
	st := nopStore{}
	if _, err := kafka.New(kafka.Config{Name: "k", Brokers: []string{"127.0.0.1:9092"}, Topics: []kafka.Topic{{Topic: "t", Dataset: "events"}}},
		st, []*dataset.Dataset{d}, reg, nil); err != nil {
		t.Fatal(err)
	}
	src, err := New(validConfig(), st, []*dataset.Dataset{d}, reg, nil)
	if err != nil {
		t.Fatalf("kinesis source next to a kafka source: %v", err)
	}
	src.m.events.WithLabelValues("kinesis:k", "events", "accepted").Inc()
	n, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(n) == 0 {
		t.Fatal("nothing registered")
	}
}

// nopStore is a PositionedWriter that is never written (the sources are not started).
type nopStore struct{}

func (nopStore) EnsureDataset(context.Context, *dataset.Dataset) error { return nil }

func (nopStore) WritePositioned(context.Context, string, []*store.Batch, []store.Position) (store.WriteResult, error) {
	return store.WriteResult{}, errors.New("nopStore: not writable")
}

func (nopStore) Positions(context.Context, string) (map[string]string, error) { return nil, nil }
