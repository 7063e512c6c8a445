package collector

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	"github.com/olapgate/olapgate/internal/cors"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store/clickhouse"
)

// Defaults for zero Config fields.
const (
	DefaultGRPCAddr        = "127.0.0.1:4317"
	DefaultHTTPAddr        = "127.0.0.1:4318"
	DefaultMaxRequestBytes = 16 << 20
	DefaultMaxBufferBytes  = 256 << 20
	// DefaultBatchRows and DefaultFlushInterval are the OpenTelemetry Collector batch
	// processor's send_batch_size and timeout.
	DefaultBatchRows     = 8192
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultWriteTimeout  = 30 * time.Second
	// DefaultLookupFlush is how long the embedded store's trace-id lookup rows wait.
	DefaultLookupFlush = time.Second
	DefaultRetryAfter  = time.Second
	// DefaultRetentionInterval is how often old rows are deleted when Retention is set.
	DefaultRetentionInterval = time.Hour
)

// Config.Flush values.
const (
	FlushIdle     = "idle"
	FlushInterval = "interval"
)

// Off, as a listen address, disables that receiver.
const Off = "off"

// Config configures the collector. Zero fields take the documented defaults.
type Config struct {
	// GRPCAddr is the OTLP/gRPC listen address; default 127.0.0.1:4317, "off" disables it.
	GRPCAddr string `yaml:"otlpGrpcAddr"`
	// HTTPAddr is the OTLP/HTTP listen address (/v1/traces, /v1/logs, /v1/metrics); default
	// 127.0.0.1:4318, "off" disables it.
	HTTPAddr string `yaml:"otlpHttpAddr"`
	// MaxRequestBytes bounds one export request: a gRPC message, or an HTTP body both as sent
	// and after decompression. Default 16 MiB.
	MaxRequestBytes int64 `yaml:"maxRequestBytes"`
	// MaxBufferBytes bounds the memory held by rows accepted but not yet committed. A request
	// that would exceed it is refused with RESOURCE_EXHAUSTED (gRPC) or 429 (HTTP) and a retry
	// delay, so exporters retry instead of dropping data. Default 256 MiB.
	MaxBufferBytes int64 `yaml:"maxBufferBytes"`
	// BatchRows: with Flush "interval", a table's pending rows are written once they reach
	// BatchRows, or FlushInterval after the first of them arrived, whichever comes first.
	// Defaults 8192 and 200ms.
	BatchRows     int           `yaml:"batchRows"`
	FlushInterval time.Duration `yaml:"flushInterval"`
	// Flush says when a table's pending rows are written: "idle" (the default with the
	// embedded backend): as soon as the writer is free, so an exporter with one request in
	// flight (the SDKs' batch processors wait for each answer) waits only for its own commit,
	// while under load the rows arriving during a write make the next write (group commit);
	// BatchRows and FlushInterval are then unused. "interval" (the default with backend
	// clickhouse, where every insert makes a part): once they reach BatchRows, or
	// FlushInterval after the first of them arrived.
	Flush string `yaml:"flush"`
	// WriteTimeout bounds one store write. Default 30s.
	WriteTimeout time.Duration `yaml:"writeTimeout"`
	// LookupFlush: on the embedded store the trace-id lookup rows (otel_traces_trace_id_ts)
	// of committed spans are written this often (and before retention deletes, and at
	// shutdown) instead of in every span commit; trace reads merge the rows still waiting.
	// Default 1s.
	LookupFlush time.Duration `yaml:"lookupFlush"`
	// RetryAfter is the delay suggested to clients refused for a full buffer. Default 1s.
	RetryAfter time.Duration `yaml:"retryAfter"`
	// MaxFieldBytes bounds one stored text value (a log body, a span's attributes as JSON);
	// an item over it is rejected as a partial success. Default 1 MiB.
	MaxFieldBytes int `yaml:"maxFieldBytes"`
	// Retention: rows older than this are deleted from the otel_* tables every
	// RetentionInterval (default 1h), on stores that can delete (the embedded one); with
	// backend clickhouse it is the TTL of the tables olapgate creates. 0 keeps everything.
	Retention         time.Duration `yaml:"retention"`
	RetentionInterval time.Duration `yaml:"retentionInterval"`
	// KeepCumulative stores cumulative sums and histograms as sent. By default they are
	// converted to deltas at ingest (otelrows.Deltas), so SUM over a time range is the
	// increase within it.
	KeepCumulative bool `yaml:"keepCumulative"`
	// PromotedAttributes are span and log attribute keys (e.g. http.route) copied, as text,
	// into columns of their own in otel_traces and otel_logs (named by
	// otelrows.PromotedColumn: http_route), so filters and group-bys on them read a column
	// instead of parsing JSON. The value comes from the item's attributes, else its resource's.
	PromotedAttributes []string `yaml:"promotedAttributes"`
	// Query configures the TelemetryService.
	Query telemetry.Config `yaml:"query"`
	// Backend is where the otel_* tables live: "embedded" (default), or "clickhouse": the
	// OpenTelemetry Collector ClickHouse exporter's own tables (collector-contrib v0.141.0
	// DDL, ch-go columnar inserts) on the server's ClickHouse backend, so that exporter and
	// olapgate read and write the same tables. There rows expire by the tables' TTL (from
	// Retention), and the tables are not aggregate-API datasets.
	Backend string `yaml:"backend"`
	// ClickHouse names the tables with backend clickhouse (database, table names, cluster,
	// engine: the exporter's options); zero fields take the exporter's defaults.
	ClickHouse clickhouse.OTelSchema `yaml:"clickhouse"`
	// CORS lets browser pages (the OpenTelemetry JS SDK's OTLP/HTTP exporter) on the listed
	// origins export to the OTLP/HTTP receiver. Default: no other origin.
	CORS cors.Config `yaml:"cors"`
}

// Validate checks the configuration; zero values are valid (they take defaults).
func (c *Config) Validate() error {
	if err := c.CORS.Validate(); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	for _, a := range []struct{ name, addr string }{{"grpcAddr", c.GRPCAddr}, {"httpAddr", c.HTTPAddr}} {
		if a.addr == "" || a.addr == Off {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("collector: %s %q: %w", a.name, a.addr, err)
		}
	}
	if c.GRPCAddr != "" && c.GRPCAddr != Off && c.GRPCAddr == c.HTTPAddr && !strings.HasSuffix(c.GRPCAddr, ":0") {
		return fmt.Errorf("collector: grpcAddr and httpAddr are both %s", c.GRPCAddr)
	}
	switch {
	case c.MaxRequestBytes < 0:
		return fmt.Errorf("collector: maxRequestBytes %d: must not be negative", c.MaxRequestBytes)
	case c.MaxBufferBytes < 0:
		return fmt.Errorf("collector: maxBufferBytes %d: must not be negative", c.MaxBufferBytes)
	case c.BatchRows < 0:
		return fmt.Errorf("collector: batchRows %d: must not be negative", c.BatchRows)
	case c.FlushInterval < 0:
		return fmt.Errorf("collector: flushInterval %s: must not be negative", c.FlushInterval)
	case c.WriteTimeout < 0:
		return fmt.Errorf("collector: writeTimeout %s: must not be negative", c.WriteTimeout)
	case c.LookupFlush < 0:
		return fmt.Errorf("collector: lookupFlush %s: must not be negative", c.LookupFlush)
	case c.RetryAfter < 0:
		return fmt.Errorf("collector: retryAfter %s: must not be negative", c.RetryAfter)
	case c.Retention < 0 || c.RetentionInterval < 0:
		return fmt.Errorf("collector: retention %s, retentionInterval %s: must not be negative", c.Retention, c.RetentionInterval)
	case c.MaxFieldBytes < 0:
		return fmt.Errorf("collector: maxFieldBytes %d: must not be negative", c.MaxFieldBytes)
	}
	if err := otelrows.ValidatePromoted(c.PromotedAttributes); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	switch c.Flush {
	case "", FlushIdle, FlushInterval:
	default:
		return fmt.Errorf("collector: flush %q: want %s or %s", c.Flush, FlushIdle, FlushInterval)
	}
	switch c.Backend {
	case "", dataset.BackendEmbedded:
	case dataset.BackendClickHouse:
		if len(c.PromotedAttributes) > 0 {
			return errors.New("collector: promotedAttributes: the ClickHouse exporter's tables have no promoted columns (backend clickhouse); filters read the attribute maps")
		}
		s := c.ClickHouseSchema()
		if err := s.Validate(); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
	default:
		return fmt.Errorf("collector: backend %q: want embedded or clickhouse", c.Backend)
	}
	d := c.withDefaults()
	if d.MaxRequestBytes > d.MaxBufferBytes {
		return fmt.Errorf("collector: maxRequestBytes %d exceeds maxBufferBytes %d: no request could ever be buffered", d.MaxRequestBytes, d.MaxBufferBytes)
	}
	return c.Query.Validate()
}

// ClickHouseSchema is the table schema of backend clickhouse: ClickHouse with Retention as
// the tables' TTL.
func (c Config) ClickHouseSchema() clickhouse.OTelSchema {
	s := c.ClickHouse
	s.TTL = c.Retention
	return s
}

func (c Config) withDefaults() Config {
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Flush == "" {
		c.Flush = FlushIdle
		if c.Backend == dataset.BackendClickHouse {
			c.Flush = FlushInterval
		}
	}
	if c.LookupFlush == 0 {
		c.LookupFlush = DefaultLookupFlush
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	return c
}
