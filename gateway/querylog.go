package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// QueryLogDatasetName is the default name of the query log's dataset.
const QueryLogDatasetName = "olapgate_queries"

// QueryLogDataset declares the query log's dataset: one row per query, queryable through the
// aggregate API like any other (slow-query views, per-tenant cost, the input for admission
// cost classes). Its tenant column is the querying tenant, so a tenant sees its own queries.
func QueryLogDataset(name string) (*dataset.Dataset, error) {
	d := &dataset.Dataset{
		Name: name, TimeColumn: "time", TenantColumn: "tenant", Backend: dataset.BackendEmbedded,
		Dimensions: []dataset.Field{
			{Name: "dataset", Type: dataset.String}, {Name: "backend", Type: dataset.String},
			{Name: "shape", Type: dataset.String}, {Name: "granularity", Type: dataset.String},
			{Name: "priority", Type: dataset.String}, {Name: "code", Type: dataset.String},
			{Name: "error", Type: dataset.String}, {Name: "trace_id", Type: dataset.String},
			{Name: "cache_hit", Type: dataset.Bool}, {Name: "coalesced", Type: dataset.Bool},
			{Name: "stale", Type: dataset.Bool}, {Name: "partial", Type: dataset.Bool},
		},
		Metrics: []dataset.Field{
			{Name: "latency_ms", Type: dataset.Float}, {Name: "exec_ms", Type: dataset.Float},
			{Name: "queued_ms", Type: dataset.Float}, {Name: "rows", Type: dataset.Int},
			{Name: "rows_scanned", Type: dataset.Int},
		},
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("query log dataset: %w", err)
	}
	return d, nil
}

// QueryRecord is one query as the log keeps it.
type QueryRecord struct {
	Time                         time.Time
	Tenant, Dataset, Backend     string
	Shape, Granularity, Priority string
	Code, Error, TraceID         string
	CacheHit, Coalesced, Stale   bool
	Partial                      bool
	Latency, Exec, Queued        time.Duration
	Rows, RowsScanned            int64
}

// QueryLog writes QueryRecords to its dataset in batches, off the query path: Record never
// blocks. When the buffer is full (the store far behind) records are dropped and counted
// (olapgate_query_log_dropped_total): losing log rows beats slowing every query.
type QueryLog struct {
	d       *dataset.Dataset
	st      store.Store
	log     *slog.Logger
	ch      chan QueryRecord
	every   time.Duration
	dropped prometheus.Counter
	written prometheus.Counter

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// QueryLogConfig tunes the query log.
type QueryLogConfig struct {
	// Buffer is how many records may wait for a write; default 10,000.
	Buffer int
	// FlushEvery is the longest a record waits; default 1 s.
	FlushEvery time.Duration
	// MaxBatch is the most records in one write; default 5,000.
	MaxBatch int
}

// NewQueryLog returns a query log writing to d on st; Start begins writing.
func NewQueryLog(cfg QueryLogConfig, st store.Store, d *dataset.Dataset, m *Metrics, log *slog.Logger) *QueryLog {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	l := &QueryLog{d: d, st: st, log: log, ch: make(chan QueryRecord, cfg.Buffer), every: cfg.FlushEvery,
		stop: make(chan struct{}), done: make(chan struct{})}
	l.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "olapgate_query_log_dropped_total",
		Help: "Query log records dropped because the log's buffer was full.",
	})
	l.written = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "olapgate_query_log_written_total",
		Help: "Query log records written to the query log dataset.",
	})
	if m != nil {
		m.Registry().MustRegister(l.dropped, l.written)
	}
	go l.run(cfg.MaxBatch)
	return l
}

// Dataset is the log's dataset.
func (l *QueryLog) Dataset() *dataset.Dataset { return l.d }

// Record queues r; it never blocks.
func (l *QueryLog) Record(r QueryRecord) {
	if l == nil {
		return
	}
	select {
	case l.ch <- r:
	default:
		l.dropped.Inc()
	}
}

func (l *QueryLog) run(maxBatch int) {
	defer close(l.done)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	var pending []QueryRecord
	flush := func() {
		if len(pending) == 0 {
			return
		}
		b := l.batch(pending)
		// Bounded: a stuck store must not hold the log's goroutine past shutdown for long.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := l.st.Write(ctx, b)
		cancel()
		if err != nil {
			l.dropped.Add(float64(len(pending)))
			if l.log != nil {
				l.log.Warn("query log: write batch", "records", len(pending), "err", err)
			}
		} else {
			l.written.Add(float64(len(pending)))
		}
		pending = pending[:0]
	}
	for {
		select {
		case r := <-l.ch:
			pending = append(pending, r)
			if len(pending) >= maxBatch {
				flush()
			}
		case <-tick.C:
			flush()
		case <-l.stop:
			for {
				select {
				case r := <-l.ch:
					pending = append(pending, r)
					if len(pending) >= maxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// Shutdown writes what is queued and stops; safe to call twice.
func (l *QueryLog) Shutdown(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.stopOnce.Do(func() { close(l.stop) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batch turns records into the dataset's columns. Columns are found by name once per batch
// and filled directly: this runs for every query, so no per-record maps.
func (l *QueryLog) batch(rs []QueryRecord) *store.Batch {
	b := store.NewBatch(l.d, len(rs))
	col := func(name string) *store.ColumnBuf {
		c, _ := l.d.Column(name)
		return &b.Cols[c.Index]
	}
	strs := func(name string, get func(*QueryRecord) string) {
		c := col(name)
		for i := range rs {
			c.Strings = append(c.Strings, get(&rs[i]))
		}
	}
	bools := func(name string, get func(*QueryRecord) bool) {
		c := col(name)
		for i := range rs {
			c.Bools = append(c.Bools, get(&rs[i]))
		}
	}
	floats := func(name string, get func(*QueryRecord) float64) {
		c := col(name)
		for i := range rs {
			c.Floats = append(c.Floats, get(&rs[i]))
		}
	}
	ints := func(name string, get func(*QueryRecord) int64) {
		c := col(name)
		for i := range rs {
			c.Ints = append(c.Ints, get(&rs[i]))
		}
	}
	tc := col("time")
	for i := range rs {
		tc.Times = append(tc.Times, rs[i].Time.UnixMicro())
	}
	strs("tenant", func(r *QueryRecord) string { return r.Tenant })
	strs("dataset", func(r *QueryRecord) string { return r.Dataset })
	strs("backend", func(r *QueryRecord) string { return r.Backend })
	strs("shape", func(r *QueryRecord) string { return r.Shape })
	strs("granularity", func(r *QueryRecord) string { return r.Granularity })
	strs("priority", func(r *QueryRecord) string { return r.Priority })
	strs("code", func(r *QueryRecord) string { return r.Code })
	strs("error", func(r *QueryRecord) string { return r.Error })
	strs("trace_id", func(r *QueryRecord) string { return r.TraceID })
	bools("cache_hit", func(r *QueryRecord) bool { return r.CacheHit })
	bools("coalesced", func(r *QueryRecord) bool { return r.Coalesced })
	bools("stale", func(r *QueryRecord) bool { return r.Stale })
	bools("partial", func(r *QueryRecord) bool { return r.Partial })
	floats("latency_ms", func(r *QueryRecord) float64 { return ms(r.Latency) })
	floats("exec_ms", func(r *QueryRecord) float64 { return ms(r.Exec) })
	floats("queued_ms", func(r *QueryRecord) float64 { return ms(r.Queued) })
	ints("rows", func(r *QueryRecord) int64 { return r.Rows })
	ints("rows_scanned", func(r *QueryRecord) int64 { return r.RowsScanned })
	b.N = len(rs)
	return b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
