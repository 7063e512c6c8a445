// Package clickhouse is olapgate's ClickHouse store, over ch-go's native protocol client.
package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/chpool"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/store"
)

// Defaults for zero Config fields.
const (
	DefaultAddr            = "127.0.0.1:9000"
	DefaultDatabase        = "default"
	DefaultUser            = "default"
	DefaultMaxConns        = 8
	DefaultDialTimeout     = 5 * time.Second
	DefaultExecutionMargin = 100 * time.Millisecond
	DefaultInsertRows      = 100_000
)

// Config configures the ClickHouse store. Zero fields take the documented defaults.
type Config struct {
	// Addr is the server's native protocol address, host:port. Default 127.0.0.1:9000
	// (9440 is the usual TLS port).
	Addr string `yaml:"addr"`
	// Database holds the datasets' tables; it must exist. Default "default".
	Database string `yaml:"database"`
	// User and Password authenticate. Default user "default", empty password.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// TLS turns on TLS; TLSServerName overrides the name checked in the server certificate
	// (default: Addr's host), TLSCAFile adds a PEM CA bundle to the system roots' place, and
	// TLSInsecureSkipVerify disables verification (tests only).
	TLS                   bool   `yaml:"tls"`
	TLSServerName         string `yaml:"tlsServerName"`
	TLSCAFile             string `yaml:"tlsCAFile"`
	TLSInsecureSkipVerify bool   `yaml:"tlsInsecureSkipVerify"`
	// MaxConns bounds the pool: at most this many queries and inserts run at once; more wait
	// for a connection (within their context). Default 8.
	MaxConns int `yaml:"maxConns"`
	// DialTimeout bounds connecting and the handshake. Default 5s.
	DialTimeout time.Duration `yaml:"dialTimeout"`
	// ExecutionMargin is subtracted from a query's context deadline to give the server's
	// max_execution_time, so the server gives up, and says so, before the client stops
	// waiting. Default 100ms.
	ExecutionMargin time.Duration `yaml:"executionMargin"`
	// MaxExecutionTime applies to queries whose context has no deadline; 0 leaves the
	// server's setting.
	MaxExecutionTime time.Duration `yaml:"maxExecutionTime"`
	// InsertRows caps the rows of one INSERT; a larger batch is sent as several, each
	// idempotent on its own. Default 100,000.
	InsertRows int `yaml:"insertRows"`
	// DedupWindow is non_replicated_deduplication_window for the tables EnsureDataset creates
	// (insert blocks remembered for insert_deduplication_token). Default DefaultDedupWindow.
	DedupWindow int `yaml:"dedupWindow"`
	// Compression of the data blocks sent and received: "lz4" (the default, as clickhouse-go
	// and the OpenTelemetry exporter use), "zstd" (smaller, more CPU: slow links), or "none"
	// (a server on the same host or a fast LAN: +8–20% spans per CPU-second for the collector,
	// BENCHMARKS.md).
	Compression string `yaml:"compression"`
}

// Config.Compression values.
const (
	CompressionLZ4  = "lz4"
	CompressionZSTD = "zstd"
	CompressionNone = "none"
)

// chCompression is ch-go's setting for a valid Config.Compression; "none" sends blocks
// without the compression framing at all.
func chCompression(c string) ch.Compression {
	switch c {
	case CompressionZSTD:
		return ch.CompressionZSTD
	case CompressionNone:
		return ch.CompressionDisabled
	}
	return ch.CompressionLZ4
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("clickhouse store: addr %q: want host:port: %w", c.Addr, err)
		}
	}
	if c.Database != "" && strings.ContainsAny(c.Database, "`\\\x00") {
		return fmt.Errorf("clickhouse store: database %q: must not contain backquotes, backslashes or NUL", c.Database)
	}
	switch {
	case c.MaxConns < 0:
		return fmt.Errorf("clickhouse store: maxConns %d: must not be negative", c.MaxConns)
	case c.DialTimeout < 0:
		return fmt.Errorf("clickhouse store: dialTimeout %s: must not be negative", c.DialTimeout)
	case c.ExecutionMargin < 0:
		return fmt.Errorf("clickhouse store: executionMargin %s: must not be negative", c.ExecutionMargin)
	case c.MaxExecutionTime < 0:
		return fmt.Errorf("clickhouse store: maxExecutionTime %s: must not be negative", c.MaxExecutionTime)
	case c.InsertRows < 0:
		return fmt.Errorf("clickhouse store: insertRows %d: must not be negative", c.InsertRows)
	case c.DedupWindow < 0:
		return fmt.Errorf("clickhouse store: dedupWindow %d: must not be negative", c.DedupWindow)
	case c.Compression != "" && c.Compression != CompressionLZ4 && c.Compression != CompressionZSTD && c.Compression != CompressionNone:
		return fmt.Errorf("clickhouse store: compression %q: want %s, %s or %s", c.Compression, CompressionLZ4, CompressionZSTD, CompressionNone)
	case !c.TLS && (c.TLSServerName != "" || c.TLSCAFile != "" || c.TLSInsecureSkipVerify):
		return errors.New("clickhouse store: tlsServerName, tlsCAFile and tlsInsecureSkipVerify need tls: true")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ExecutionMargin == 0 {
		c.ExecutionMargin = DefaultExecutionMargin
	}
	if c.InsertRows == 0 {
		c.InsertRows = DefaultInsertRows
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	return c
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if c.TLSServerName != "" {
		cfg.ServerName = c.TLSServerName
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read tlsCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tlsCAFile %s holds no PEM certificate", c.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Store is a ClickHouse-backed store.Store. It is safe for concurrent use.
type Store struct {
	cfg  Config
	pool *chpool.Pool

	mu     sync.RWMutex
	closed bool
	// ops counts operations in flight, so Close waits for them before it closes the pool
	// under them; abort, cancelled by Close after CloseGrace, interrupts those still running.
	ops   sync.WaitGroup
	abort context.Context
	stop  context.CancelFunc
}

// CloseGrace is how long Close lets queries and inserts in flight finish before it cancels
// them (a cancelled insert is not acknowledged, so its caller retries it, idempotently).
const CloseGrace = 10 * time.Second

var _ store.Store = (*Store)(nil)

// Open connects to ClickHouse (one connection, to fail early on a wrong address or password)
// and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("open clickhouse store: %w", err)
	}
	pool, err := chpool.Dial(ctx, chpool.Options{
		ClientOptions: ch.Options{
			Address:     cfg.Addr,
			Database:    cfg.Database,
			User:        cfg.User,
			Password:    cfg.Password,
			ClientName:  "olapgate",
			Compression: chCompression(cfg.Compression),
			DialTimeout: cfg.DialTimeout,
			// The handshake default is 5 minutes (for idle cloud instances waking up); a
			// gateway would rather fail over.
			HandshakeTimeout: cfg.DialTimeout,
			// Reads are bounded by the query's context, not by a fixed per-read timeout that
			// would cut off a long aggregation between two progress packets.
			ReadTimeout: ch.NoTimeout,
			TLS:         tlsCfg,
		},
		MaxConns: int32(cfg.MaxConns),
	})
	if err != nil {
		return nil, mapError(ctx, "open clickhouse store at "+cfg.Addr, err)
	}
	abort, stop := context.WithCancel(context.Background())
	return &Store{cfg: cfg, pool: pool, abort: abort, stop: stop}, nil
}

// Dialect is the planner dialect of this store's SQL.
func (s *Store) Dialect() string { return "clickhouse" }

// Close refuses new work, waits up to CloseGrace for the queries and inserts in flight (then
// cancels them, which stops them on the server too) and closes the pool; safe to call twice.
// Nothing is buffered: every Write has returned only once ClickHouse acknowledged it.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.ops.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(CloseGrace):
		s.stop()
		<-done
	}
	s.stop()
	s.pool.Close()
	return nil
}

// begin registers an operation and returns its context, cancelled when ctx is or when Close
// runs out of patience; end must be called when the operation is over. It fails once Close
// has begun.
func (s *Store) begin(ctx context.Context, what string) (_ context.Context, end func(), _ error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nil, &Error{grpc: codes.Unavailable, msg: what + ": " + store.ErrClosed.Error(), err: store.ErrClosed}
	}
	s.ops.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(s.abort, cancel)
	return ctx, func() { unhook(); cancel(); s.ops.Done() }, nil
}
