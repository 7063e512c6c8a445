package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/internal/dataset"
)

// Defaults for zero Config fields.
const (
	DefaultGroup     = "olapgate"
	DefaultClientID  = "olapgate"
	DefaultMaxEvents = 10_000
	DefaultMaxWait   = 500 * time.Millisecond
)

// Start offsets for a partition that has no stored position.
const (
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismAWSMSKIAM   = "AWS_MSK_IAM"
)

// Config configures one Kafka source: a consumer group reading topics into datasets. Zero
// fields take the documented defaults.
type Config struct {
	// Name identifies the source; its stored positions are kept under "kafka:<name>", so
	// renaming a source starts it over from StartOffset. Into ClickHouse, it is part of the
	// insert tokens.
	Name string `yaml:"name"`
	// Brokers are seed brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// Group is the consumer group. Default "olapgate".
	Group string `yaml:"group,omitempty"`
	// ClientID is sent to the brokers. Default "olapgate".
	ClientID string `yaml:"clientId,omitempty"`
	// Topics maps each topic to its dataset, or routes it by an event-type field.
	Topics []Topic `yaml:"topics"`
	// StartOffset is where a partition with no stored position starts: earliest (default) or
	// latest. Into the embedded store, committed group offsets are not consulted (the store's
	// position is the truth); into ClickHouse they are the positions.
	StartOffset string `yaml:"startOffset,omitempty"`
	// Batch bounds how long records wait before they are committed to the store.
	Batch BatchConfig `yaml:"batch,omitempty"`
	// DeadLetter is where records that cannot be stored go.
	DeadLetter DeadLetterConfig `yaml:"deadLetter,omitempty"`
	TLS        TLSConfig        `yaml:"tls,omitempty"`
	SASL       SASLConfig       `yaml:"sasl,omitempty"`
	// SessionTimeout and RebalanceTimeout are the group's; 0 leaves franz-go's defaults (45s,
	// 60s). A flush must fit in the rebalance timeout: revoking partitions waits for it.
	SessionTimeout   time.Duration `yaml:"sessionTimeout,omitempty"`
	RebalanceTimeout time.Duration `yaml:"rebalanceTimeout,omitempty"`
}

// Topic routes one topic.
type Topic struct {
	Topic string `yaml:"topic"`
	// Dataset takes every record of the topic. Exclusive with Route.
	Dataset string `yaml:"dataset,omitempty"`
	// Route picks the dataset by a top-level string field of each event.
	Route *FieldRoute `yaml:"route,omitempty"`
}

// FieldRoute routes by the value of a top-level string field (every stream source's).
type FieldRoute = pipeline.FieldRoute

func (t Topic) route() *pipeline.Route { return pipeline.RouteOf(t.Dataset, t.Route) }

// BatchConfig bounds a batch: it is decoded and handed to the store's committer when it holds
// MaxEvents records or its oldest record has waited MaxWait. While a commit runs, the next
// batches are read and decoded; the ones waiting when it ends are committed together (up to
// about 160k records), so under load commits grow by themselves and MaxEvents mostly sets
// the unit of decoding.
//
// MaxWait is the freshness/cost trade-off. An event becomes visible to queries at the
// commit of its batch, so produce → visible is about MaxWait/2 on average and MaxWait plus a
// commit (tens of ms for 10k rows, more under load) at worst while the stream is slower than
// MaxEvents per MaxWait. Each commit has a fixed cost (the WAL sync, and DuckDB rewriting the
// table's partial row group at checkpoints), so a smaller MaxWait means more, smaller
// commits and more CPU per event at low and medium rates; at high rates batches fill to
// MaxEvents first and MaxWait does not matter. The default 500ms keeps p99 produce → visible
// under a second (BenchmarkFreshness, BENCHMARKS.md: about 0.55 s at 10k events/s and
// 0.45-0.8 s at 50k/s on the shared 2-core machine). 100ms gives a p99 of 0.13-0.2 s at 10k
// events/s, but at 50k/s there its five times as many commits cost more CPU than was spare
// and p99 rose to 1.25 s: lower it only with CPU to spare.
type BatchConfig struct {
	MaxEvents int           `yaml:"maxEvents,omitempty"` // default 10000
	MaxWait   time.Duration `yaml:"maxWait,omitempty"`   // default 500ms
}

// DeadLetterConfig names the dead-letter destination. Dead letters are rows of a dataset
// (pipeline.DeadLetterDataset) on the source's backend: in the embedded store, committed in
// the same transaction as the rows and positions of their batch; on ClickHouse, a table
// inserted with the tokens of their range. Either way they are stored exactly once.
type DeadLetterConfig struct {
	// Dataset is the dead-letter dataset's name. Default olapgate_deadletter.
	Dataset string `yaml:"dataset,omitempty"`
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string `yaml:"caFile,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and key (mutual TLS).
	CertFile string `yaml:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `yaml:"serverName,omitempty"`
	// InsecureSkipVerify turns off certificate verification (tests only).
	InsecureSkipVerify bool `yaml:"insecureSkipVerify,omitempty"`
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM; "" disables SASL.
	Mechanism string `yaml:"mechanism,omitempty"`
	// User and Password for PLAIN and SCRAM.
	User     string `yaml:"user,omitempty"`
	Password string `yaml:"password,omitempty"`
	// AWS_MSK_IAM: static credentials; when AccessKey is empty they are read from
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN at each connection, so
	// rotated environment credentials are picked up. Config.AWSCredentials overrides both.
	AccessKey    string `yaml:"accessKey,omitempty"`
	SecretKey    string `yaml:"secretKey,omitempty"`
	SessionToken string `yaml:"sessionToken,omitempty"`
	// UserAgent is sent with AWS_MSK_IAM (IAM policies can match aws:UserAgent).
	UserAgent string `yaml:"userAgent,omitempty"`
}

// AWSCredentials supplies MSK IAM credentials per connection (e.g. from an AWS SDK
// credentials provider); see Options.
type AWSCredentials func(ctx context.Context) (accessKey, secretKey, sessionToken string, err error)

func (c Config) withDefaults() Config {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.StartOffset == "" {
		c.StartOffset = StartEarliest
	}
	if c.Batch.MaxEvents == 0 {
		c.Batch.MaxEvents = DefaultMaxEvents
	}
	if c.Batch.MaxWait == 0 {
		c.Batch.MaxWait = DefaultMaxWait
	}
	if c.DeadLetter.Dataset == "" {
		c.DeadLetter.Dataset = pipeline.DefaultDeadLetterDataset
	}
	return c
}

// Validate checks the configuration; known reports whether a dataset is declared (nil skips
// that check).
func (c *Config) Validate(known func(string) bool) error {
	if c.Name == "" {
		return errors.New("kafka source: name is required")
	}
	where := "kafka source " + c.Name
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%s: brokers: at least one is required", where)
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			return fmt.Errorf("%s: broker %q: want host:port", where, b)
		}
	}
	if len(c.Topics) == 0 {
		return fmt.Errorf("%s: topics: at least one is required", where)
	}
	seen := map[string]bool{}
	for _, t := range c.Topics {
		if t.Topic == "" {
			return fmt.Errorf("%s: a topic has no name", where)
		}
		if seen[t.Topic] {
			return fmt.Errorf("%s: topic %s listed twice", where, t.Topic)
		}
		seen[t.Topic] = true
		if t.Route != nil && t.Dataset != "" {
			return fmt.Errorf("%s: topic %s: give dataset or route, not both", where, t.Topic)
		}
		if err := t.route().Validate(known); err != nil {
			return fmt.Errorf("%s: topic %s: %w", where, t.Topic, err)
		}
	}
	switch c.StartOffset {
	case "", StartEarliest, StartLatest:
	default:
		return fmt.Errorf("%s: startOffset %q: want earliest or latest", where, c.StartOffset)
	}
	if c.Batch.MaxEvents < 0 || c.Batch.MaxWait < 0 {
		return fmt.Errorf("%s: batch: maxEvents and maxWait must not be negative", where)
	}
	if c.SessionTimeout < 0 || c.RebalanceTimeout < 0 {
		return fmt.Errorf("%s: sessionTimeout and rebalanceTimeout must not be negative", where)
	}
	if err := pipeline.ValidateDeadLetter(c.DeadLetter.Dataset, known); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return ValidateSecurity(where, c.TLS, c.SASL)
}

// ValidateSecurity checks TLS and SASL settings for a Kafka client other than a source (the
// Pinot sink's producers); where prefixes the errors.
func ValidateSecurity(where string, t TLSConfig, s SASLConfig) error {
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		return fmt.Errorf("%s: tls: settings given but enabled is false", where)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%s: tls: certFile and keyFile go together", where)
	}
	switch s.Mechanism {
	case "":
		if s.User != "" || s.Password != "" || s.AccessKey != "" || s.SecretKey != "" {
			return fmt.Errorf("%s: sasl: credentials given but no mechanism", where)
		}
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if s.User == "" || s.Password == "" {
			return fmt.Errorf("%s: sasl %s: user and password are required", where, s.Mechanism)
		}
		if s.AccessKey != "" || s.SecretKey != "" || s.SessionToken != "" {
			return fmt.Errorf("%s: sasl %s: accessKey/secretKey/sessionToken are for %s", where, s.Mechanism, MechanismAWSMSKIAM)
		}
	case MechanismAWSMSKIAM:
		if !t.Enabled {
			return fmt.Errorf("%s: sasl %s: MSK serves IAM authentication over TLS only: set tls.enabled", where, s.Mechanism)
		}
		if (s.AccessKey == "") != (s.SecretKey == "") {
			return fmt.Errorf("%s: sasl %s: accessKey and secretKey go together", where, s.Mechanism)
		}
		if s.User != "" || s.Password != "" {
			return fmt.Errorf("%s: sasl %s: user/password are not used; give accessKey/secretKey or AWS_* environment variables", where, s.Mechanism)
		}
	default:
		return fmt.Errorf("%s: sasl mechanism %q: want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", where, s.Mechanism)
	}
	return nil
}

// Backend returns the backend of the datasets the topics route to, which must all be on one
// (pipeline.Backends): embedded or clickhouse. lookup resolves a declared dataset (nil when
// not declared: Validate reports those). No dataset found: embedded.
func (c *Config) Backend(lookup func(string) *dataset.Dataset) (string, error) {
	var bs pipeline.Backends
	for _, t := range c.Topics {
		for _, n := range t.route().Names() {
			if err := bs.Add(n, lookup(n)); err != nil {
				return "", fmt.Errorf("kafka source %s: topic %s: %w", c.Name, t.Topic, err)
			}
		}
	}
	return bs.Backend(), nil
}

// tlsConfig builds the TLS client configuration, reading the files named.
func (t TLSConfig) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: caFile %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// mechanism builds the SASL mechanism, nil without SASL.
func (s SASLConfig) mechanism(creds AWSCredentials) sasl.Mechanism {
	switch s.Mechanism {
	case MechanismPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case MechanismSCRAMSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case MechanismSCRAMSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	case MechanismAWSMSKIAM:
		return aws.ManagedStreamingIAM(func(ctx context.Context) (aws.Auth, error) {
			var a aws.Auth
			switch {
			case creds != nil:
				var err error
				if a.AccessKey, a.SecretKey, a.SessionToken, err = creds(ctx); err != nil {
					return aws.Auth{}, fmt.Errorf("msk iam credentials: %w", err)
				}
			case s.AccessKey != "":
				a.AccessKey, a.SecretKey, a.SessionToken = s.AccessKey, s.SecretKey, s.SessionToken
			default:
				a.AccessKey, a.SecretKey, a.SessionToken = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
			}
			if a.AccessKey == "" || a.SecretKey == "" {
				return aws.Auth{}, errors.New("msk iam credentials: no access key: set sasl.accessKey/secretKey or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
			}
			a.UserAgent = s.UserAgent
			return a, nil
		})
	}
	return nil
}

// clientOptions turns the connection settings (brokers, client id, TLS, SASL) into franz-go
// options; the consumer adds its group options.
func (c Config) clientOptions(creds AWSCredentials) ([]kgo.Opt, error) {
	sec, err := SecurityOptions(c.TLS, c.SASL, creds)
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}, sec...), nil
}

// SecurityOptions are the franz-go options of TLS and SASL settings (validated:
// ValidateSecurity), for any Kafka client of olapgate: the sources' consumers, the Pinot
// sink's producers. creds, when not nil, supplies AWS_MSK_IAM credentials (see
// WithAWSCredentials). It reads the TLS files named.
func SecurityOptions(t TLSConfig, s SASLConfig, creds AWSCredentials) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if t.Enabled {
		tc, err := t.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := s.mechanism(creds); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}
