// Package synthetic is a backend with a known capacity, for proving admission control under
// load: every query costs a fixed amount of work on a fixed number of simulated cores, shared
// the way a real engine shares its CPUs, so latency grows with concurrency once the cores are
// busy. Answers are placeholder rows of the planned shape.
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
	// Cores is how many queries make progress at once. Default 2.
	Cores int `yaml:"cores"`
	// Work is one query's cost on an idle engine. Default 10ms.
	Work time.Duration `yaml:"work"`
	// Quantum is the time slice cores are shared in. Default 1ms.
	Quantum time.Duration `yaml:"quantum"`
	// OverloadAbove, when set, makes the engine refuse queries while more than this many are
	// running, with an overload error (as Pinot's 429 or ClickHouse's 202 would). 0: never.
	OverloadAbove int `yaml:"overloadAbove"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Cores < 0 || c.Work < 0 || c.Quantum < 0 || c.OverloadAbove < 0 {
		return errors.New("cores, work, quantum and overloadAbove must not be negative")
	}
	return nil
}

// Store is the synthetic backend.
type Store struct {
	cfg     Config
	cores   chan struct{} // a token per core; FIFO enough for time sharing
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
	if cfg.Cores == 0 {
		cfg.Cores = 2
	}
	if cfg.Work == 0 {
		cfg.Work = 10 * time.Millisecond
	}
	if cfg.Quantum == 0 {
		cfg.Quantum = time.Millisecond
	}
	s := &Store{cfg: cfg, cores: make(chan struct{}, cfg.Cores)}
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

// Query spends the configured work in quanta on the shared cores, then answers one row of
// placeholder values in the planned columns.
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
	for left := s.cfg.Work; left > 0; left -= s.cfg.Quantum {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case s.cores <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		time.Sleep(min(left, s.cfg.Quantum))
		<-s.cores
	}
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

// Running is how many queries are in the engine now.
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
