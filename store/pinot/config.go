package pinot

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config configures the Pinot store. Zero fields take the documented defaults.
type Config struct {
	// Brokers are broker base URLs (http://broker:8099). Either Brokers or Controller is
	// required; with both, Brokers serve until the first discovery answers.
	Brokers []string `yaml:"brokers"`
	// Controller is the controller's base URL (http://controller:9000). Brokers are then
	// discovered from its GET /v2/brokers/tables?state=ONLINE (table → brokers, so each query
	// goes to a broker of its table's tenant; no ZooKeeper), and EnsureDataset checks the
	// dataset's schema and table there.
	Controller string `yaml:"controller"`
	// DiscoveryInterval is how often the broker list is refreshed from the controller.
	// Default 30s.
	DiscoveryInterval time.Duration `yaml:"discoveryInterval"`
	// DefaultTimeout bounds a query whose context has no deadline. Default 10s (Pinot's own
	// broker default, pinot.broker.timeoutMs).
	DefaultTimeout time.Duration `yaml:"defaultTimeout"`
	// TimeoutMargin is taken off the context's remaining time for the timeoutMs sent to the
	// broker, so the broker gives up (and answers with its timeout error) before the client
	// does. Default 50ms.
	TimeoutMargin time.Duration `yaml:"timeoutMargin"`
	// CancelTimeout bounds the best-effort cancel request sent when a query's context ends
	// before the broker answers. Default 2s.
	CancelTimeout time.Duration `yaml:"cancelTimeout"`
	// Authorization, when set, is sent as the Authorization header to brokers and the
	// controller ("Basic ..." or "Bearer ...").
	Authorization string `yaml:"authorization"`
	// DialTimeout bounds connecting to a broker or the controller. Default 5s.
	DialTimeout time.Duration `yaml:"dialTimeout"`
	// MaxIdleConnsPerHost is the keep-alive pool per broker. Default 32.
	MaxIdleConnsPerHost int `yaml:"maxIdleConnsPerHost"`
	// MaxResponseBytes bounds a broker answer. Default 64 MiB.
	MaxResponseBytes int64 `yaml:"maxResponseBytes"`
	// RejectPartial turns partial answers (servers that did not respond, unavailable
	// segments) into errors instead of answers flagged ResultMeta.Partial. Default false.
	RejectPartial bool `yaml:"rejectPartial"`
	// Tables sets up the REALTIME table of each Pinot dataset, keyed by dataset name: the
	// stream it consumes and its dedup/upsert mode (TableSetup). `olapgate pinot apply`
	// creates schemas and tables from it, and push ingest into a dataset with a stream
	// produces to that Kafka topic or Kinesis stream (ingest/pinotsink).
	Tables map[string]*TableSetup `yaml:"tables"`
	// SinkKafka is how olapgate's Pinot sinks connect to the Kafka brokers they produce to
	// (tables.<name>.kafka.producerBrokers, else brokers): TLS and SASL, with the fields and
	// rules of a Kafka source's (ingest/kafka TLSConfig and SASLConfig, which internal/config
	// checks them against). One setting for every table's sink. Pinot's own consumer is
	// configured apart, by tables.<name>.kafka.properties (security.protocol, sasl.*).
	SinkKafka *SinkKafka `yaml:"sinkKafka,omitempty"`
}

// SinkKafka holds the Pinot sinks' Kafka client security settings.
type SinkKafka struct {
	TLS  SinkKafkaTLS  `yaml:"tls,omitempty"`
	SASL SinkKafkaSASL `yaml:"sasl,omitempty"`
}

// SinkKafkaTLS is ingest/kafka.TLSConfig: TLS to the brokers (CA bundle, client certificate
// and key, server name), off unless Enabled.
type SinkKafkaTLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"caFile,omitempty"`
	CertFile           string `yaml:"certFile,omitempty"`
	KeyFile            string `yaml:"keyFile,omitempty"`
	ServerName         string `yaml:"serverName,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify,omitempty"`
}

// SinkKafkaSASL is ingest/kafka.SASLConfig: PLAIN, SCRAM-SHA-256/512 (user, password) or
// AWS_MSK_IAM (static keys, else AWS_* environment variables).
type SinkKafkaSASL struct {
	Mechanism    string `yaml:"mechanism,omitempty"`
	User         string `yaml:"user,omitempty"`
	Password     string `yaml:"password,omitempty"`
	AccessKey    string `yaml:"accessKey,omitempty"`
	SecretKey    string `yaml:"secretKey,omitempty"`
	SessionToken string `yaml:"sessionToken,omitempty"`
	UserAgent    string `yaml:"userAgent,omitempty"`
}

// Defaults.
const (
	DefaultDiscoveryInterval   = 30 * time.Second
	DefaultQueryTimeout        = 10 * time.Second
	DefaultTimeoutMargin       = 50 * time.Millisecond
	DefaultCancelTimeout       = 2 * time.Second
	DefaultDialTimeout         = 5 * time.Second
	DefaultMaxIdleConnsPerHost = 32
	DefaultMaxResponseBytes    = 64 << 20
)

func (c Config) withDefaults() Config {
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = DefaultQueryTimeout
	}
	if c.TimeoutMargin == 0 {
		c.TimeoutMargin = DefaultTimeoutMargin
	}
	if c.CancelTimeout == 0 {
		c.CancelTimeout = DefaultCancelTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c
}

// Validate checks the configuration (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Brokers) == 0 && c.Controller == "" {
		return errors.New("pinot config: brokers or controller is required")
	}
	for i, b := range c.Brokers {
		if err := checkURL(b); err != nil {
			return fmt.Errorf("pinot config: brokers[%d]: %w", i, err)
		}
	}
	if c.Controller != "" {
		if err := checkURL(c.Controller); err != nil {
			return fmt.Errorf("pinot config: controller: %w", err)
		}
	}
	for name, d := range map[string]time.Duration{
		"discoveryInterval": c.DiscoveryInterval, "defaultTimeout": c.DefaultTimeout, "timeoutMargin": c.TimeoutMargin,
		"cancelTimeout": c.CancelTimeout, "dialTimeout": c.DialTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("pinot config: %s %s: must not be negative", name, d)
		}
	}
	if c.TimeoutMargin >= c.DefaultTimeout {
		return fmt.Errorf("pinot config: timeoutMargin %s must be shorter than defaultTimeout %s", c.TimeoutMargin, c.DefaultTimeout)
	}
	if c.MaxIdleConnsPerHost < 0 {
		return fmt.Errorf("pinot config: maxIdleConnsPerHost %d: must not be negative", c.MaxIdleConnsPerHost)
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("pinot config: maxResponseBytes %d: must not be negative", c.MaxResponseBytes)
	}
	for name, t := range c.Tables {
		if t == nil {
			return fmt.Errorf("pinot config: tables.%s: empty entry", name)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("pinot config: tables.%s: %w", name, err)
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: want http(s)://host:port", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %q: want no query or fragment", s)
	}
	return nil
}
