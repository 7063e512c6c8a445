// Package embedded is olapgate's default store: DuckDB in the olapgate process.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/olapgate/olapgate/store"
)

// Defaults for zero Config fields.
const (
	DefaultDedupWindow   = 24 * time.Hour
	DefaultMaxCommitRows = 200_000
)

// dbFile is the database file's name inside Config.Dir.
const dbFile = "olapgate.duckdb"

// checkpointThreshold is DuckDB's checkpoint_threshold: the WAL size at which a commit also
// checkpoints. DuckDB's default, 16 MB, comes every ~40k span rows (~390 WAL bytes each), long
// before a 122,880-row row group is full, and every checkpoint compresses again (DICT_FSST
// analysis, string statistics) the partly filled row group the one before had written. With
// 256 MiB, a million spans in 2k-row commits through the store took 1.74x fewer CPU-seconds,
// checkpoints included, and a fifth less disk; DuckDB's own part (BenchmarkDuckDBFloor, 819k
// spans) 11% less (BENCHMARKS.md, "DuckDB 2.0.0: what the store's write CPU goes to"). The price: a crash leaves up to 256 MiB of WAL to replay at the next open (~1-2 s
// here), and rows not yet checkpointed stay in memory, uncompressed, until the checkpoint.
const checkpointThreshold = "256MiB"

// Config configures the embedded store. Zero fields take the documented defaults.
type Config struct {
	// Dir is the data directory; the database file is <Dir>/olapgate.duckdb. "" keeps the
	// database in memory (tests).
	Dir string
	// MemoryLimit is DuckDB's memory_limit, e.g. "4GB"; "" leaves DuckDB's default (80% of RAM).
	MemoryLimit string
	// Threads is DuckDB's thread count; 0 leaves DuckDB's default (one per core).
	Threads int
	// DedupWindow: a row whose event id is already stored on a row whose time is within
	// DedupWindow of its own is a duplicate. Default 24h.
	DedupWindow time.Duration
	// MaxCommitRows caps the rows grouped into one commit. A single batch larger than this is
	// still committed whole, alone. Default 200,000.
	MaxCommitRows int
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if strings.ContainsAny(c.Dir, "?#") {
		// DuckDB's DSN ends the path at the first '?'.
		return fmt.Errorf("embedded store: dir %q: must not contain '?' or '#'", c.Dir)
	}
	if c.Threads < 0 {
		return fmt.Errorf("embedded store: threads %d: must not be negative", c.Threads)
	}
	if c.DedupWindow < 0 {
		return fmt.Errorf("embedded store: dedupWindow %s: must not be negative", c.DedupWindow)
	}
	if c.MaxCommitRows < 0 {
		return fmt.Errorf("embedded store: maxCommitRows %d: must not be negative", c.MaxCommitRows)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.MaxCommitRows == 0 {
		c.MaxCommitRows = DefaultMaxCommitRows
	}
	return c
}

// ErrInUse is matched (errors.Is) by the error Open returns when another process, or another
// Store in this process, has the data directory open.
var ErrInUse = errors.New("data directory in use")

type inUseError struct {
	dir   string
	pid   int // 0 when unknown
	local bool
	cause error
}

func (e *inUseError) Error() string {
	if e.local {
		return fmt.Sprintf("data directory %s is already open in this process", e.dir)
	}
	pid := ""
	if e.pid != 0 {
		pid = fmt.Sprintf(" (pid %d)", e.pid)
	}
	return fmt.Sprintf("data directory %s is in use by another olapgate process%s; the CLI talks to a running server through its API", e.dir, pid)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }
func (e *inUseError) Unwrap() error        { return e.cause }

// DuckDB (1.1 to 2.0): `IO Error: Could not set lock on file "...": Conflicting lock is held in /path/prog (PID 123)`.
var lockPIDRE = regexp.MustCompile(`\(PID ([0-9]+)\)`)

// openDirs guards against two Stores on one directory in one process: DuckDB's file lock is a
// POSIX record lock, which a process never conflicts with itself on, so DuckDB would open the
// file twice and the two instances would corrupt it.
var openDirs = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// Store is the embedded DuckDB store. It implements store.Store. Writes queue (1024 requests
// at most, then Write blocks until there is room or its ctx ends) for the one goroutine that
// commits them; queries run on a pool of other connections.
type Store struct {
	cfg      Config
	dirKey   string // key in openDirs; "" in memory
	db       *sql.DB
	commitCn *sql.Conn // the committer's own connection; its TEMP probe tables live there

	mu       sync.RWMutex
	closed   bool
	datasets map[string]*dsState // by lower-case name; written by the committer

	queue         chan *request
	quit          chan struct{} // closed by Shutdown: stop taking writes, flush the queue
	quitOnce      sync.Once
	committerDone chan struct{}
	runCtx        context.Context // the committer's context; cancelled only when Shutdown gives up
	runCancel     context.CancelFunc

	queries      sync.WaitGroup
	queryCtx     context.Context // parent of every query's context; cancelled when Shutdown gives up
	queryCancel  context.CancelFunc
	shutdownOnce sync.Once
	shutdownErr  error

	// posMu guards positions, the committed stream positions (positions.go); only the
	// committer changes them.
	posMu     sync.Mutex
	positions map[posKey]string

	stats struct {
		commits, failed, rows, deduped, lastNanos, queries atomic.Int64
		checked                                            atomic.Int64 // rows the key filter sent to DuckDB
	}
}

var (
	_ store.Store            = (*Store)(nil)
	_ store.PositionedWriter = (*Store)(nil)
)

// Open opens (creating if needed) the data directory and starts the committer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{
		cfg:           cfg,
		datasets:      map[string]*dsState{},
		queue:         make(chan *request, 1024),
		quit:          make(chan struct{}),
		committerDone: make(chan struct{}),
	}
	path := ""
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("open embedded store: create data directory: %w", err)
		}
		abs, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("open embedded store: resolve data directory: %w", err)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		openDirs.Lock()
		if openDirs.m[abs] {
			openDirs.Unlock()
			return nil, &inUseError{dir: cfg.Dir, local: true}
		}
		openDirs.m[abs] = true
		openDirs.Unlock()
		s.dirKey = abs
		path = filepath.Join(abs, dbFile)
	}
	opened := false
	defer func() {
		if !opened {
			s.releaseDir()
		}
	}()

	q := url.Values{}
	// Extensions are never fetched or loaded behind the operator's back: there is no network
	// at run time, and what the store can do must not depend on what is in ~/.duckdb.
	q.Set("autoinstall_known_extensions", "false")
	q.Set("autoload_known_extensions", "false")
	if cfg.MemoryLimit != "" {
		q.Set("memory_limit", cfg.MemoryLimit)
	}
	q.Set("checkpoint_threshold", checkpointThreshold)
	if cfg.Threads > 0 {
		q.Set("threads", strconv.Itoa(cfg.Threads))
	}
	connector, err := duckdb.NewConnector(path+"?"+q.Encode(), nil)
	if err != nil {
		if strings.Contains(err.Error(), "Could not set lock on file") {
			e := &inUseError{dir: cfg.Dir, cause: err}
			if m := lockPIDRE.FindStringSubmatch(err.Error()); m != nil {
				e.pid, _ = strconv.Atoi(m[1])
			}
			return nil, e
		}
		return nil, fmt.Errorf("open embedded store %s: %w", path, err)
	}
	s.db = sql.OpenDB(connector) // from here on db.Close also closes the connector
	s.db.SetMaxIdleConns(8)
	fail := func(what string, err error) (*Store, error) {
		if s.commitCn != nil {
			err = errors.Join(err, s.commitCn.Close())
		}
		return nil, errors.Join(fmt.Errorf("open embedded store: %s: %w", what, err), s.db.Close())
	}
	if s.commitCn, err = s.db.Conn(ctx); err != nil {
		return fail("connect committer", err)
	}
	if _, err := s.commitCn.ExecContext(ctx, createMetaSQL); err != nil {
		return fail("create metadata table", err)
	}
	if _, err := s.commitCn.ExecContext(ctx, createPositionsSQL); err != nil {
		return fail("create stream positions table", err)
	}
	if err := s.loadPositions(ctx); err != nil {
		return fail("load stream positions", err)
	}
	s.runCtx, s.runCancel = context.WithCancel(context.Background())
	s.queryCtx, s.queryCancel = context.WithCancel(context.Background())
	opened = true
	go s.run()
	return s, nil
}

func (s *Store) releaseDir() {
	if s.dirKey == "" {
		return
	}
	openDirs.Lock()
	delete(openDirs.m, s.dirKey)
	openDirs.Unlock()
}

// Dialect reports the SQL dialect the planner must produce for this store.
func (s *Store) Dialect() string { return "duckdb" }

// Close is Shutdown with no deadline.
func (s *Store) Close() error { return s.Shutdown(context.Background()) }

// Shutdown stops accepting writes (they get store.ErrClosed), commits what is already queued,
// waits for running queries, and closes the database. If ctx ends first, the commit in
// progress and running queries are interrupted (their callers get errors, never a false
// acknowledgement) and the database is closed anyway. Safe to call more than once; later calls
// return the first call's result.
func (s *Store) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Store) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.quitOnce.Do(func() { close(s.quit) })

	var errs []error
	select {
	case <-s.committerDone:
	case <-ctx.Done():
		s.runCancel()
		<-s.committerDone
		errs = append(errs, fmt.Errorf("shutdown embedded store: flush queued writes: %w", ctx.Err()))
	}
	s.runCancel()

	queriesDone := make(chan struct{})
	go func() { s.queries.Wait(); close(queriesDone) }()
	select {
	case <-queriesDone:
	case <-ctx.Done():
		s.queryCancel()
		<-queriesDone
	}
	s.queryCancel()

	if err := s.commitCn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("shutdown embedded store: close committer connection: %w", err))
	}
	// Closing the DB closes the connector, which releases the file lock.
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("shutdown embedded store: close database: %w", err))
	}
	s.releaseDir()
	return errors.Join(errs...)
}

// Stats are cumulative counters since Open.
type Stats struct {
	// Commits counts successful commits; FailedCommits counts rolled-back ones.
	Commits, FailedCommits int64
	// RowsCommitted counts rows stored; RowsDeduplicated counts rows acknowledged but not
	// stored because their event id was already there.
	RowsCommitted, RowsDeduplicated int64
	// LastCommit is how long the last successful commit took, from reading its batches to COMMIT.
	LastCommit time.Duration
	// Queries counts statements run by Query.
	Queries int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:          s.stats.commits.Load(),
		FailedCommits:    s.stats.failed.Load(),
		RowsCommitted:    s.stats.rows.Load(),
		RowsDeduplicated: s.stats.deduped.Load(),
		LastCommit:       time.Duration(s.stats.lastNanos.Load()),
		Queries:          s.stats.queries.Load(),
	}
}

// quoteIdent quotes a DuckDB identifier. Dataset validation already restricts names, but the
// quoting does not rely on it.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a DuckDB string literal.
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
