package kinesis

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/internal/dataset"
)

// Defaults for zero Config fields.
const (
	DefaultMaxEvents         = 10_000
	DefaultMaxWait           = 500 * time.Millisecond
	DefaultPollInterval      = time.Second
	DefaultDiscoveryInterval = 30 * time.Second
	// DefaultGetRecordsLimit is also the most Kinesis returns from one GetRecords call.
	DefaultGetRecordsLimit = 10_000
	// DefaultLeaseDuration is how long a lease whose counter does not move stays its owner's;
	// its owner renews it every DefaultLeaseDuration/3 unless Leases.RenewInterval says.
	DefaultLeaseDuration = 10 * time.Second
	// minLeaseDuration keeps renewals (a DynamoDB write each) from being hammered.
	minLeaseDuration = 500 * time.Millisecond
)

// Start positions of a shard that has no stored position (Kinesis's iterator types).
const (
	StartTrimHorizon = "TRIM_HORIZON"
	StartLatest      = "LATEST"
	StartAtTimestamp = "AT_TIMESTAMP"
)

// Credential sources.
const (
	CredentialsEnv    = "env"
	CredentialsStatic = "static"
)

// Config configures one Kinesis source: one consumer reading every shard of a stream into
// datasets. Zero fields take the documented defaults.
type Config struct {
	// Name identifies the source; its stored positions are kept under "kinesis:<name>" with
	// the shard id as the partition, so renaming a source starts it over from StartPosition,
	// and pointing a source at another stream needs a new name.
	Name string `yaml:"name"`
	// Stream is the Kinesis stream's name.
	Stream string `yaml:"stream"`
	// Region is the stream's AWS region (also the signing region with Endpoint).
	Region string `yaml:"region"`
	// Endpoint overrides the regional endpoint, e.g. a VPC endpoint, LocalStack or kinesalite
	// (http://127.0.0.1:4567).
	Endpoint string `yaml:"endpoint,omitempty"`
	// Credentials sign the requests.
	Credentials CredentialsConfig `yaml:"credentials,omitempty"`
	// StartPosition is where a shard with no stored position starts: TRIM_HORIZON (default,
	// the oldest record kept), LATEST or AT_TIMESTAMP (StartTimestamp). Children of shards
	// this source has read always start at TRIM_HORIZON, so nothing after a reshard is
	// skipped.
	StartPosition  string    `yaml:"startPosition,omitempty"`
	StartTimestamp time.Time `yaml:"startTimestamp,omitempty"`
	// Dataset takes every record of the stream. Exclusive with Route.
	Dataset string `yaml:"dataset,omitempty"`
	// Route picks the dataset by a top-level string field of each event.
	Route *FieldRoute `yaml:"route,omitempty"`
	// Batch bounds how long records wait before they are committed to the store.
	Batch BatchConfig `yaml:"batch,omitempty"`
	// DeadLetter is where records that cannot be stored go.
	DeadLetter DeadLetterConfig `yaml:"deadLetter,omitempty"`
	// PollInterval is how long a shard's reader waits before the next GetRecords when it
	// has caught up (default 1s). A reader that is behind reads again after at most 200ms:
	// Kinesis allows five GetRecords calls per second per shard, shared by all consumers.
	PollInterval time.Duration `yaml:"pollInterval,omitempty"`
	// GetRecordsLimit bounds the records of one GetRecords call (default and maximum 10000).
	GetRecordsLimit int32 `yaml:"getRecordsLimit,omitempty"`
	// DiscoveryInterval is how often ListShards looks for new shards (default 30s); a shard
	// that ends also triggers a discovery, so children are found at once.
	DiscoveryInterval time.Duration `yaml:"discoveryInterval,omitempty"`
	// Leases shares the stream's shards among several instances through a DynamoDB lease
	// table (datasets on clickhouse only: the embedded store is single-process). Without
	// it, one instance reads every shard.
	Leases *LeaseConfig `yaml:"leases,omitempty"`
}

// LeaseConfig is a DynamoDB lease table shared by the instances of one source, KCL-like: one
// item per shard (owner, counter, checkpoint, parents), changed by conditional writes only.
type LeaseConfig struct {
	// Table is the lease table's name, one per source (created on start unless it exists,
	// on-demand capacity).
	Table string `yaml:"table"`
	// Endpoint overrides DynamoDB's regional endpoint (a VPC endpoint, dynalite, DynamoDB
	// local); the region and credentials are the source's.
	Endpoint string `yaml:"endpoint,omitempty"`
	// Duration is how long a lease whose counter has not moved stays with its owner (default
	// 10s, at least 500ms): a crashed instance's shards are taken over after it.
	Duration time.Duration `yaml:"duration,omitempty"`
	// RenewInterval is how often an owner renews its leases and looks for leases to take
	// (default Duration/3, at most Duration/2).
	RenewInterval time.Duration `yaml:"renewInterval,omitempty"`
	// WorkerID names this instance as a lease owner (default <hostname>-<random>); unique
	// among the instances sharing the table.
	WorkerID string `yaml:"workerId,omitempty"`
}

// FieldRoute routes by the value of a top-level string field (every stream source's).
type FieldRoute = pipeline.FieldRoute

// CredentialsConfig says where the AWS credentials come from.
type CredentialsConfig struct {
	// Source is env (default: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN,
	// read at each request so rotated credentials are picked up) or static (the keys below).
	// WithCredentials overrides both (e.g. an AWS SDK provider chain with instance roles).
	Source       string `yaml:"source,omitempty"`
	AccessKey    string `yaml:"accessKey,omitempty"`
	SecretKey    string `yaml:"secretKey,omitempty"`
	SessionToken string `yaml:"sessionToken,omitempty"`
}

// BatchConfig bounds a batch: it is committed when it holds MaxEvents records or its oldest
// record has waited MaxWait.
type BatchConfig struct {
	MaxEvents int           `yaml:"maxEvents,omitempty"` // default 10000
	MaxWait   time.Duration `yaml:"maxWait,omitempty"`   // default 500ms
}

// DeadLetterConfig names the dead-letter destination: a local dataset
// (pipeline.DeadLetterDataset), committed in the same transaction as the rows and positions
// of its batch.
type DeadLetterConfig struct {
	// Dataset is the dead-letter dataset's name. Default olapgate_deadletter.
	Dataset string `yaml:"dataset,omitempty"`
}

func (c Config) route() *pipeline.Route { return pipeline.RouteOf(c.Dataset, c.Route) }

func (c Config) withDefaults() Config {
	if c.StartPosition == "" {
		c.StartPosition = StartTrimHorizon
	}
	if c.Credentials.Source == "" {
		c.Credentials.Source = CredentialsEnv
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
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.GetRecordsLimit == 0 {
		c.GetRecordsLimit = DefaultGetRecordsLimit
	}
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if c.Leases != nil {
		l := *c.Leases
		if l.Duration == 0 {
			l.Duration = DefaultLeaseDuration
		}
		if l.RenewInterval == 0 {
			l.RenewInterval = l.Duration / 3
		}
		c.Leases = &l
	}
	return c
}

// Kinesis's rules for stream names, DynamoDB's for table names, and AWS region names.
var (
	streamName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	tableName  = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
)

// Validate checks the configuration; known reports whether a dataset is declared (nil skips
// that check).
func (c *Config) Validate(known func(string) bool) error {
	if c.Name == "" {
		return errors.New("kinesis source: name is required")
	}
	where := "kinesis source " + c.Name
	if c.Stream == "" {
		return fmt.Errorf("%s: stream is required", where)
	}
	if !streamName.MatchString(c.Stream) {
		return fmt.Errorf("%s: stream %q: want 1 to 128 of a-z A-Z 0-9 _ . -", where, c.Stream)
	}
	if c.Region == "" {
		return fmt.Errorf("%s: region is required (the signing region, also with an endpoint)", where)
	}
	if !regionName.MatchString(c.Region) {
		return fmt.Errorf("%s: region %q: want an AWS region such as us-east-1", where, c.Region)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: endpoint %q: want an http:// or https:// URL", where, c.Endpoint)
		}
	}
	cr := c.Credentials
	switch cr.Source {
	case "", CredentialsEnv:
		if cr.AccessKey != "" || cr.SecretKey != "" || cr.SessionToken != "" {
			return fmt.Errorf("%s: credentials: keys given but source is env: set source: static", where)
		}
	case CredentialsStatic:
		if cr.AccessKey == "" || cr.SecretKey == "" {
			return fmt.Errorf("%s: credentials static: accessKey and secretKey are required", where)
		}
	default:
		return fmt.Errorf("%s: credentials source %q: want env or static", where, cr.Source)
	}
	switch c.StartPosition {
	case "", StartTrimHorizon, StartLatest:
		if !c.StartTimestamp.IsZero() {
			return fmt.Errorf("%s: startTimestamp is for startPosition AT_TIMESTAMP", where)
		}
	case StartAtTimestamp:
		if c.StartTimestamp.IsZero() {
			return fmt.Errorf("%s: startPosition AT_TIMESTAMP needs startTimestamp", where)
		}
	default:
		return fmt.Errorf("%s: startPosition %q: want TRIM_HORIZON, LATEST or AT_TIMESTAMP", where, c.StartPosition)
	}
	if c.Route != nil && c.Dataset != "" {
		return fmt.Errorf("%s: give dataset or route, not both", where)
	}
	if err := c.route().Validate(known); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if c.Batch.MaxEvents < 0 || c.Batch.MaxWait < 0 {
		return fmt.Errorf("%s: batch: maxEvents and maxWait must not be negative", where)
	}
	if c.PollInterval < 0 || c.DiscoveryInterval < 0 {
		return fmt.Errorf("%s: pollInterval and discoveryInterval must not be negative", where)
	}
	if c.GetRecordsLimit < 0 || c.GetRecordsLimit > DefaultGetRecordsLimit {
		return fmt.Errorf("%s: getRecordsLimit %d: want 1 to %d (0 for the maximum)", where, c.GetRecordsLimit, DefaultGetRecordsLimit)
	}
	if err := pipeline.ValidateDeadLetter(c.DeadLetter.Dataset, known); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if c.Leases != nil {
		if err := c.Leases.validate(); err != nil {
			return fmt.Errorf("%s: leases: %w", where, err)
		}
	}
	return nil
}

func (l *LeaseConfig) validate() error {
	if !tableName.MatchString(l.Table) {
		return fmt.Errorf("table %q: want 3 to 255 of a-z A-Z 0-9 _ . -", l.Table)
	}
	if l.Endpoint != "" {
		u, err := url.Parse(l.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q: want an http:// or https:// URL", l.Endpoint)
		}
	}
	if l.Duration != 0 && l.Duration < minLeaseDuration {
		return fmt.Errorf("duration %s: want at least %s (or 0 for %s)", l.Duration, minLeaseDuration, DefaultLeaseDuration)
	}
	d := l.Duration
	if d == 0 {
		d = DefaultLeaseDuration
	}
	if l.RenewInterval < 0 || l.RenewInterval > d/2 {
		return fmt.Errorf("renewInterval %s: want at most half the duration, %s (or 0 for a third)", l.RenewInterval, d/2)
	}
	if len(l.WorkerID) > 256 {
		return fmt.Errorf("workerId: %d bytes, want at most 256", len(l.WorkerID))
	}
	return nil
}

// Backend returns the backend of the datasets the stream routes to, which must all be on one
// (pipeline.Backends): embedded or clickhouse. lookup resolves a declared dataset (nil when
// not declared: Validate reports those). No dataset found: embedded. Leases need clickhouse:
// the embedded store is single-process.
func (c *Config) Backend(lookup func(string) *dataset.Dataset) (string, error) {
	var bs pipeline.Backends
	for _, n := range c.route().Names() {
		if err := bs.Add(n, lookup(n)); err != nil {
			return "", fmt.Errorf("kinesis source %s: %w", c.Name, err)
		}
	}
	backend := bs.Backend()
	if c.Leases != nil && backend == dataset.BackendEmbedded {
		return "", fmt.Errorf("kinesis source %s: leases: the embedded store is single-process, so one instance reads every shard; leases are for datasets on clickhouse (remove leases, or move the datasets)", c.Name)
	}
	return backend, nil
}
