// Package config loads olapgate's YAML configuration and applies its defaults.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/olapgate/olapgate/collector"
	"github.com/olapgate/olapgate/gateway/admission"
	"github.com/olapgate/olapgate/ingest/kafka"
	"github.com/olapgate/olapgate/ingest/kinesis"
	"github.com/olapgate/olapgate/ingest/pipeline"
	"github.com/olapgate/olapgate/internal/cors"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/selftrace"
	"github.com/olapgate/olapgate/store/clickhouse"
	"github.com/olapgate/olapgate/store/pinot"
	"github.com/olapgate/olapgate/store/synthetic"
)

// Config is the whole configuration file. Key names are the contract (DESIGN §4).
type Config struct {
	Server    Server             `yaml:"server"`
	Embedded  Embedded           `yaml:"embedded"`
	Ingest    Ingest             `yaml:"ingest"`
	Query     Query              `yaml:"query"`
	Backends  Backends           `yaml:"backends"`
	Admission Admission          `yaml:"admission"`
	Collector Collector          `yaml:"collector"`
	Sources   Sources            `yaml:"sources"`
	Datasets  []*dataset.Dataset `yaml:"datasets"`
}

// Sources are the streams olapgate consumes into its datasets.
type Sources struct {
	// Kafka consumer groups (ingest/kafka.Config); each name must be unique: the stored
	// positions are keyed by it.
	Kafka []kafka.Config `yaml:"kafka"`
	// Kinesis streams (ingest/kinesis.Config), one consumer each; names are unique too
	// (positions are kept under "kinesis:<name>").
	Kinesis []kinesis.Config `yaml:"kinesis"`
}

// Collector configures the OpenTelemetry collector role (OTLP receivers, trace/log tables,
// TelemetryService).
type Collector struct {
	// Disabled turns the collector role off (it is on by default).
	Disabled         bool `yaml:"disabled"`
	collector.Config `yaml:",inline"`
	// SelfTracing traces olapgate's own query handling into the collector (on with it).
	SelfTracing selftrace.Config `yaml:"selfTracing"`
}

// Admission configures admission control in front of every backend (gateway/admission).
type Admission struct {
	// Disabled lets every execution run at once.
	Disabled bool `yaml:"disabled"`
	// Mode is adaptive (default: a Vegas-style limit that follows measured latency against the
	// no-load latency, and overload answers), gradient (failsafe-go's gradient limiter) or
	// static (a fixed cap, staticLimit).
	Mode        string `yaml:"mode"`
	StaticLimit int    `yaml:"staticLimit"`
	// Adaptive limit bounds per backend and cost class; defaults 1, 64, 8.
	MinLimit     int `yaml:"minLimit"`
	MaxLimit     int `yaml:"maxLimit"`
	InitialLimit int `yaml:"initialLimit"`
	// MaxQueue bounds the waiting executions per backend and cost class; default 256.
	MaxQueue int `yaml:"maxQueue"`
	// MaxQueueWait bounds how long an execution waits for a slot, whatever its deadline (one
	// estimated to wait longer is refused at once); default 250ms.
	MaxQueueWait time.Duration `yaml:"maxQueueWait"`
	// TenantQPS limits each tenant's backend executions per second (0: no limit), with bursts
	// of TenantBurst.
	TenantQPS   float64 `yaml:"tenantQPS"`
	TenantBurst int     `yaml:"tenantBurst"`
	// FastBelow and SlowAbove split query shapes into cost classes by recent execution time;
	// defaults 50ms and 1s.
	FastBelow time.Duration `yaml:"fastBelow"`
	SlowAbove time.Duration `yaml:"slowAbove"`
}

// Backends configures the scale-out stores; a dataset names its backend with `backend:`.
// Several can be in use at once; the embedded store is always open.
type Backends struct {
	// Pinot: brokers or a controller to discover them from (store/pinot.Config).
	Pinot *pinot.Config `yaml:"pinot"`
	// ClickHouse: a server's native protocol address and pool (store/clickhouse.Config).
	ClickHouse *clickhouse.Config `yaml:"clickhouse"`
	// Synthetic: a simulated engine of known capacity for load proofs (store/synthetic.Config).
	Synthetic *synthetic.Config `yaml:"synthetic"`
}

// Server holds listener and lifecycle settings.
type Server struct {
	HTTPAddr string `yaml:"httpAddr"`
	GRPCAddr string `yaml:"grpcAddr"`
	DataDir  string `yaml:"dataDir"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests and the last commit.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// CORS lets browser pages on the listed origins (a dashboard served elsewhere) call the
	// HTTP API. Default: no other origin.
	CORS cors.Config `yaml:"cors"`
}

// Embedded tunes the DuckDB store.
type Embedded struct {
	MemoryLimit string        `yaml:"memoryLimit"`
	Threads     int           `yaml:"threads"`
	DedupWindow time.Duration `yaml:"dedupWindow"`
}

// Ingest bounds push requests.
type Ingest struct {
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	MaxEvents    int   `yaml:"maxEvents"`
	// MaxInflightBytes bounds the bytes of pushes being decoded and committed at once; over
	// it, pushes are refused with 429 / RESOURCE_EXHAUSTED and a retry delay (default 256 MiB).
	MaxInflightBytes int64 `yaml:"maxInflightBytes"`
}

// Query bounds queries.
type Query struct {
	DefaultLimit   int           `yaml:"defaultLimit"`
	MaxLimit       int           `yaml:"maxLimit"`
	DefaultTimeout time.Duration `yaml:"defaultTimeout"`
	MaxTimeout     time.Duration `yaml:"maxTimeout"`
	// DefaultMaxStaleness: how old a cached result may be for a query without maxStalenessMs
	// (0: only when the client asks).
	DefaultMaxStaleness time.Duration `yaml:"defaultMaxStaleness"`
	// CacheMaxBytes bounds the result cache (default 256 MiB; negative disables it).
	CacheMaxBytes int64 `yaml:"cacheMaxBytes"`
	// Log records every query into a dataset of the embedded store.
	Log QueryLog `yaml:"log"`
	// LatenessWindow: buckets that ended longer ago than this are final and reused by later
	// queries of the same shape that accept cached answers (default 5m; negative: off).
	LatenessWindow time.Duration `yaml:"latenessWindow"`
	// ExtentMaxAge bounds how long final buckets are reused before a full recomputation
	// (default 1h).
	ExtentMaxAge time.Duration `yaml:"extentMaxAge"`
	// TelemetryMaxStaleness: how long a trace or log search answer is reused for identical
	// requests (default 1s; negative: never).
	TelemetryMaxStaleness time.Duration `yaml:"telemetryMaxStaleness"`
}

// QueryLog configures the query log dataset.
type QueryLog struct {
	// Disabled turns the query log off (it is on by default).
	Disabled bool `yaml:"disabled"`
	// Dataset names the log's dataset; default olapgate_queries.
	Dataset string `yaml:"dataset"`
}

// Default returns the configuration used when no file is given: loopback listeners, ./data,
// and the built-in pageviews sample dataset.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	c.Datasets = []*dataset.Dataset{dataset.Sample()}
	return c
}

func (c *Config) applyDefaults() {
	setDefault(&c.Server.HTTPAddr, "127.0.0.1:8080")
	setDefault(&c.Server.GRPCAddr, "127.0.0.1:9090")
	setDefault(&c.Server.DataDir, "./data")
	setDefault(&c.Server.ShutdownTimeout, 30*time.Second)
	setDefault(&c.Embedded.DedupWindow, 24*time.Hour)
	setDefault(&c.Ingest.MaxBodyBytes, 16<<20)
	setDefault(&c.Ingest.MaxEvents, 10000)
	setDefault(&c.Ingest.MaxInflightBytes, 256<<20)
	setDefault(&c.Query.DefaultLimit, 1000)
	setDefault(&c.Query.MaxLimit, 100000)
	setDefault(&c.Query.DefaultTimeout, 30*time.Second)
	setDefault(&c.Query.MaxTimeout, 5*time.Minute)
	setDefault(&c.Query.CacheMaxBytes, 256<<20)
	setDefault(&c.Query.Log.Dataset, "olapgate_queries")
	setDefault(&c.Query.LatenessWindow, 5*time.Minute)
	setDefault(&c.Query.ExtentMaxAge, time.Hour)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Load reads a config file. Unknown keys are errors: a misspelt key silently ignored is a
// production incident waiting to happen.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(raw)
}

// Parse decodes, defaults and validates a config document.
func Parse(raw []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	// An empty file decodes as io.EOF and means "all defaults".
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	c.applyDefaults()
	if len(c.Datasets) == 0 {
		c.Datasets = []*dataset.Dataset{dataset.Sample()}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every section; dataset errors name the dataset and field.
func (c *Config) Validate() error {
	if err := c.Server.CORS.Validate(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if c.Ingest.MaxEvents < 1 {
		return fmt.Errorf("ingest.maxEvents: %d: must be at least 1", c.Ingest.MaxEvents)
	}
	if c.Ingest.MaxInflightBytes < c.Ingest.MaxBodyBytes {
		return fmt.Errorf("ingest.maxInflightBytes %d is below maxBodyBytes %d: one request could never fit", c.Ingest.MaxInflightBytes, c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		return fmt.Errorf("ingest.maxBodyBytes: %d: must be at least 1024", c.Ingest.MaxBodyBytes)
	}
	if c.Query.DefaultLimit < 1 || c.Query.MaxLimit < c.Query.DefaultLimit {
		return fmt.Errorf("query.defaultLimit %d / maxLimit %d: need 1 <= defaultLimit <= maxLimit", c.Query.DefaultLimit, c.Query.MaxLimit)
	}
	if c.Embedded.Threads < 0 {
		return fmt.Errorf("embedded.threads: %d: must be >= 0", c.Embedded.Threads)
	}
	switch c.Admission.Mode {
	case "", "adaptive", "gradient", "static":
	default:
		return fmt.Errorf("admission.mode: %q: want adaptive, gradient or static", c.Admission.Mode)
	}
	if err := c.AdmissionConfig().Validate(); err != nil {
		return fmt.Errorf("admission: %w", err)
	}
	if c.Backends.Pinot != nil {
		if err := c.Backends.Pinot.Validate(); err != nil {
			return fmt.Errorf("backends.pinot: %w", err)
		}
		if sk := c.Backends.Pinot.SinkKafka; sk != nil {
			if err := kafka.ValidateSecurity("backends.pinot.sinkKafka", kafka.TLSConfig(sk.TLS), kafka.SASLConfig(sk.SASL)); err != nil {
				return err
			}
		}
	}
	if !c.Collector.Disabled {
		if err := c.Collector.SelfTracing.Validate(); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		if err := c.Collector.Config.Validate(); err != nil {
			return err
		}
	}
	known := func(name string) bool {
		for _, d := range c.Datasets {
			if strings.EqualFold(d.Name, name) {
				return true
			}
		}
		return false
	}
	lookup := func(name string) *dataset.Dataset {
		for _, d := range c.Datasets {
			if d != nil && strings.EqualFold(d.Name, name) {
				return d
			}
		}
		return nil
	}
	names := map[string]bool{}
	// A source's dead letters are a dataset on its backend: sources share one only on the
	// same backend (the gateway lists one dataset per name).
	deadLetters := map[string]string{}
	deadLetterOn := func(name, backend string) error {
		if name == "" {
			name = pipeline.DefaultDeadLetterDataset
		}
		dl := strings.ToLower(name)
		if prev, ok := deadLetters[dl]; ok && prev != backend {
			return fmt.Errorf("dead-letter dataset %s is on %s for another source and would be on %s for this one (dead letters go to the source's backend): set deadLetter.dataset", dl, prev, backend)
		}
		deadLetters[dl] = backend
		return nil
	}
	for i := range c.Sources.Kafka {
		k := &c.Sources.Kafka[i]
		if err := k.Validate(known); err != nil {
			return fmt.Errorf("sources.kafka[%d]: %w", i, err)
		}
		// Into the embedded store or ClickHouse, all of one source's datasets on one of them.
		backend, err := k.Backend(lookup)
		if err != nil {
			return fmt.Errorf("sources.kafka[%d]: %w", i, err)
		}
		if err := deadLetterOn(k.DeadLetter.Dataset, backend); err != nil {
			return fmt.Errorf("sources.kafka[%d]: %w", i, err)
		}
		if names[k.Name] {
			return fmt.Errorf("sources.kafka[%d]: name %q is used twice (stored positions are keyed by it)", i, k.Name)
		}
		names[k.Name] = true
	}
	kinesisNames := map[string]bool{}
	leaseTables := map[string]string{} // lease table → the source using it
	for i := range c.Sources.Kinesis {
		k := &c.Sources.Kinesis[i]
		if err := k.Validate(known); err != nil {
			return fmt.Errorf("sources.kinesis[%d]: %w", i, err)
		}
		if kinesisNames[k.Name] {
			return fmt.Errorf("sources.kinesis[%d]: name %q is used twice (stored positions are keyed by it)", i, k.Name)
		}
		kinesisNames[k.Name] = true
		// Into the embedded store or ClickHouse; leases only with ClickHouse.
		backend, err := k.Backend(lookup)
		if err != nil {
			return fmt.Errorf("sources.kinesis[%d]: %w", i, err)
		}
		if err := deadLetterOn(k.DeadLetter.Dataset, backend); err != nil {
			return fmt.Errorf("sources.kinesis[%d]: %w", i, err)
		}
		if k.Leases != nil {
			if other, ok := leaseTables[k.Leases.Table]; ok {
				return fmt.Errorf("sources.kinesis[%d]: leases.table %s is source %s's already: leases are keyed by shard id, one table per source", i, k.Leases.Table, other)
			}
			leaseTables[k.Leases.Table] = k.Name
		}
	}
	if c.Backends.Synthetic != nil {
		if err := c.Backends.Synthetic.Validate(); err != nil {
			return fmt.Errorf("backends.synthetic: %w", err)
		}
	}
	if c.Backends.ClickHouse != nil {
		if err := c.Backends.ClickHouse.Validate(); err != nil {
			return fmt.Errorf("backends.clickhouse: %w", err)
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Datasets {
		if d == nil {
			return fmt.Errorf("datasets[%d]: empty entry", i)
		}
		if err := d.Validate(); err != nil {
			return fmt.Errorf("datasets[%d]: %w", i, err)
		}
		key := strings.ToLower(d.Name)
		if seen[key] {
			return fmt.Errorf("datasets[%d]: dataset %s declared twice", i, d.Name)
		}
		seen[key] = true
		if !c.Query.Log.Disabled && key == strings.ToLower(c.Query.Log.Dataset) {
			return fmt.Errorf("datasets[%d]: dataset %s has the query log's name (query.log.dataset); rename one", i, d.Name)
		}
		switch {
		case d.Backend == dataset.BackendPinot && c.Backends.Pinot == nil:
			return fmt.Errorf("datasets[%d]: dataset %s: backend pinot needs a backends.pinot section (brokers or controller)", i, d.Name)
		case d.Backend == dataset.BackendClickHouse && c.Backends.ClickHouse == nil:
			return fmt.Errorf("datasets[%d]: dataset %s: backend clickhouse needs a backends.clickhouse section (addr, database, ...)", i, d.Name)
		case d.Backend == dataset.BackendSynthetic && c.Backends.Synthetic == nil:
			return fmt.Errorf("datasets[%d]: dataset %s: backend synthetic needs a backends.synthetic section (slots, serviceTimeMs)", i, d.Name)
		}
	}
	if c.Backends.Pinot != nil {
		// Table setups name datasets, so they are checked once the datasets are.
		if err := c.Backends.Pinot.ValidateTables(c.Datasets); err != nil {
			return fmt.Errorf("backends.pinot: %w", err)
		}
	}
	return nil
}

// AdmissionConfig is the admission section as the gateway's admission.Config.
func (c *Config) AdmissionConfig() admission.Config {
	a := c.Admission
	return admission.Config{Static: a.Mode == "static", Gradient: a.Mode == "gradient", StaticLimit: a.StaticLimit,
		MinLimit: a.MinLimit, MaxLimit: a.MaxLimit, InitialLimit: a.InitialLimit, MaxQueue: a.MaxQueue, MaxQueueWait: a.MaxQueueWait,
		TenantQPS: a.TenantQPS, TenantBurst: a.TenantBurst, FastBelow: a.FastBelow, SlowAbove: a.SlowAbove}
}
