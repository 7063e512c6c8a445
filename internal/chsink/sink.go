// Package chsink is a ClickHouse native-protocol sink: a TCP server that takes DDL and INSERTs as ClickHouse does, decodes every block, counts rows per table and stores nothing.
package chsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/ClickHouse/ch-go/proto"
)

// Defaults for zero Config fields.
const (
	DefaultMaxBlockRows = 10_000_000
	// DefaultMaxStringBytes is ClickHouse's own bound on a string it reads.
	DefaultMaxStringBytes = 1 << 30
)

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = errors.New("chsink: server closed")

// Config configures the sink. Zero fields take the documented defaults.
type Config struct {
	// OnBlock, when set, is called with every decoded data block of an INSERT before its
	// rows are counted, on the connection's goroutine (so concurrently for several
	// connections). An error fails the INSERT with an exception, sent once the client has
	// sent the rest of it; the INSERT's earlier blocks stay counted, as ClickHouse keeps
	// blocks it stored.
	OnBlock func(Block) error
	// OnQuery, when set, is called with every query the sink reads, before it is parsed or
	// run, on the connection's goroutine: to see what a client sends (its statements, the
	// settings it passes, whether it compresses).
	OnQuery func(Query)
	// OnError, when set, sees why a connection ended when it was not the client closing it:
	// protocol and decoding errors.
	OnError func(error)
	// MaxBlockRows bounds the rows a data block may declare: ch-go's decoders allocate a
	// column before reading it, so an absurd count must be refused before. Default
	// DefaultMaxBlockRows.
	MaxBlockRows int
	// MaxStringBytes bounds every string read (a query, a name, a String value), refused
	// before it is allocated. Default DefaultMaxStringBytes.
	MaxStringBytes int
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.MaxBlockRows < 0 || c.MaxStringBytes < 0 {
		return fmt.Errorf("chsink: maxBlockRows %d, maxStringBytes %d: must not be negative", c.MaxBlockRows, c.MaxStringBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxBlockRows == 0 {
		c.MaxBlockRows = DefaultMaxBlockRows
	}
	if c.MaxStringBytes == 0 {
		c.MaxStringBytes = DefaultMaxStringBytes
	}
	return c
}

// Block is one data block of an INSERT, as OnBlock sees it.
type Block struct {
	// Table is "database.table".
	Table string
	Rows  int
	// Columns are the block's decoded columns, in the INSERT's order. They are reused for the
	// next block: copy what must outlive the call.
	Columns proto.Results
}

// Query is a query as OnQuery sees it.
type Query struct {
	Body string
	// Settings are the query's settings in the client's order, their values as sent.
	Settings []Setting
	// Compressed is whether the query's data blocks (the client's and the sink's) are
	// compressed; each compressed block names its own method.
	Compressed bool
}

// Setting is one setting of a query. Important is the flag a client sets for a setting the
// server must not ignore when it does not know it.
type Setting struct {
	Key, Value string
	Important  bool
}

// Server is the sink. It stands in for a ClickHouse server where there is none, so that
// olapgate's ClickHouse write path (store/clickhouse over ch-go) can be tested and benchmarked
// end to end, the client's CPU then being what it costs to convert and encode, not to store.
// It speaks the protocol as ch-go's proto package encodes it, at the client's revision (down
// to 54429): handshake, ping, CREATE/DROP of databases and tables (the column types it learns
// make the INSERT header), DESCRIBE TABLE (the columns it learnt, as ClickHouse lists them:
// clients detect a table's schema with it), CREATE [MATERIALIZED] VIEW (accepted, not run), and INSERT ...
// VALUES with native blocks, LZ4/ZSTD-compressed or not, as the query asks. Anything else is
// answered with a ClickHouse exception, never with a silent success. Users and passwords are
// not checked: it is for loopback tests and benchmarks. Its methods are safe for concurrent
// use.
type Server struct {
	cfg Config
	cat *catalog

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// New returns a sink with the default database (and an empty system one), no tables.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{
		cfg:       cfg.withDefaults(),
		cat:       newCatalog(),
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}, nil
}

// Serve accepts connections on ln and serves each on its own goroutine until Shutdown (then
// it returns ErrServerClosed) or until Accept fails. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			return fmt.Errorf("chsink: accept: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return ErrServerClosed
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			err := s.serveConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			if cerr := nc.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				err = cerr
			}
			if err != nil && s.cfg.OnError != nil {
				s.cfg.OnError(err)
			}
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting, closes every connection (an INSERT in flight is cut off, as by a
// server that goes away) and waits, within ctx, for their goroutines. Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		_ = ln.Close()
	}
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chsink: shutdown: %w", ctx.Err())
	}
}

// Rows is the rows table received ("database.table", or a name in the default database).
func (s *Server) Rows(table string) int64 {
	if !strings.Contains(table, ".") {
		table = key("default", table)
	}
	return s.cat.rows(table)
}

// Stats is what every table created so far received, by table name.
func (s *Server) Stats() []TableStats { return s.cat.stats() }
