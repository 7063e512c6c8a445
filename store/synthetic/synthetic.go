// Package synthetic is a backend with a known capacity, for proving admission control under
// load: Slots queries run at once, each for ServiceTime; the rest wait in the engine's own
// unbounded FIFO queue, as they would in a real engine's. Its true knee is Slots/ServiceTime
// queries per second. Answers are placeholder rows of the planned shape.
package synthetic

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Config sizes the simulated engine. Zero fields take the documented defaults.
type Config struct {
	// Slots is how many queries run at once. Default 4.
	Slots int `yaml:"slots"`
	// ServiceTimeMs is how long one query runs. Default 20.
	ServiceTimeMs int `yaml:"serviceTimeMs"`
	// OverloadAbove, when set, makes the engine refuse queries while more than this many are
	// in it (running or waiting), with an overload error (as Pinot's 429 or ClickHouse's 202
	// would). 0: never.
	OverloadAbove int `yaml:"overloadAbove"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Slots < 0 || c.ServiceTimeMs < 0 || c.OverloadAbove < 0 {
		return errors.New("slots, serviceTimeMs and overloadAbove must not be negative")
	}
	return nil
}

// Store is the synthetic backend.
type Store struct {
	cfg     Config
	slots   chan struct{} // a token per slot
	mu      sync.Mutex
	running int
	closed  bool
	queries int64
}

// Open returns a synthetic store.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("synthetic backend: %w", err)
	}
	if cfg.Slots == 0 {
		cfg.Slots = 4
	}
	if cfg.ServiceTimeMs == 0 {
		cfg.ServiceTimeMs = 20
	}
	s := &Store{cfg: cfg, slots: make(chan struct{}, cfg.Slots)}
	return s, nil
}

// Error is the synthetic engine refusing for lack of capacity.
type Error struct{ running, limit int }

func (e *Error) Error() string {
	return fmt.Sprintf("synthetic backend overloaded: %d queries running, refusing above %d", e.running, e.limit)
}

// GRPCStatus is RESOURCE_EXHAUSTED, as the real backends' overload answers.
func (e *Error) GRPCStatus() *status.Status { return status.New(codes.ResourceExhausted, e.Error()) }

// OverloadSignal marks the error as a backend overload (store.IsOverload).
func (e *Error) OverloadSignal() bool { return true }

// Query waits for a slot, holds it for the service time, then answers one row of placeholder
// values in the planned columns.
func (s *Store) Query(ctx context.Context, st store.Statement) (*store.Result, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, store.ErrClosed
	}
	if s.cfg.OverloadAbove > 0 && s.running >= s.cfg.OverloadAbove {
		n := s.running
		s.mu.Unlock()
		return nil, &Error{running: n, limit: s.cfg.OverloadAbove}
	}
	s.running++
	s.queries++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t := time.NewTimer(time.Duration(s.cfg.ServiceTimeMs) * time.Millisecond)
	select {
	case <-t.C:
	case <-ctx.Done():
		// A real engine stops a cancelled query: its slot frees at once.
		t.Stop()
		<-s.slots
		return nil, ctx.Err()
	}
	<-s.slots
	row := make([]any, len(st.Output))
	for i, c := range st.Output {
		switch c.Type {
		case store.TypeString:
			row[i] = "synthetic"
		case store.TypeInt64:
			row[i] = int64(1)
		case store.TypeDouble:
			row[i] = 1.0
		case store.TypeBool:
			row[i] = true
		case store.TypeTimestamp:
			row[i] = time.Unix(0, 0).UTC()
		}
	}
	return &store.Result{Columns: append([]store.ResultColumn(nil), st.Output...), Rows: [][]any{row},
		Meta: store.ResultMeta{RowsScanned: -1, CompleteUpTo: time.Now().UTC()}}, nil
}

// Running is how many queries are in the engine now (running or waiting for a slot).
func (s *Store) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Queries counts queries the engine accepted.
func (s *Store) Queries() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// EnsureDataset needs nothing: the engine has no tables.
func (s *Store) EnsureDataset(context.Context, *dataset.Dataset) error { return nil }

// Write accepts nothing: synthetic datasets exist for query load.
func (s *Store) Write(context.Context, *store.Batch) (store.WriteResult, error) {
	return store.WriteResult{}, fmt.Errorf("%w: synthetic datasets serve query load proofs only", store.ErrNotWritable)
}

// Dialect is DuckDB's: statements are planned normally, then only their shape is used.
func (s *Store) Dialect() string { return "duckdb" }

// Close stops taking queries; safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
