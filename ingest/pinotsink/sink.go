// Package pinotsink produces events accepted for a Pinot dataset to the Kafka topic (or Kinesis stream) its REALTIME table consumes.
//
// Pinot pulls its data from a stream, so a write into a Pinot dataset is "acknowledged" once
// its events are in that stream (DESIGN §6: the push answer says ack "stream", not
// "committed"); they become queryable when Pinot's servers have consumed them.
//
// Each Write is one Kafka transaction: the batch's records are produced, then the transaction
// commits, or, on any error, aborts. The table config olapgate generates reads with
// stream.kafka.isolation.level=read_committed, so Pinot never sees part of a failed batch, and
// a client that retries the failed push is not duplicated by it. Once a commit has succeeded
// an answer can still be lost on its way to the client, whose retry then produces the events
// a second time: olapgate cannot deduplicate what Pinot pulls, so the table of a dataset with
// a primaryKey carries Pinot's dedupConfig (or upsertConfig), and the records are keyed by
// that primary key so each key lives in one partition, as Pinot's dedup and upsert require.
//
// Records: key = the primary key's values joined with "|" (the eventId when there is no
// primary key, none without either); value = the event as flat JSON with the columns of the
// Pinot schema (store/pinot.SchemaFor): the time column and timestamp fields as epoch
// milliseconds, nulls left out.
//
// KinesisSink does the same into a Kinesis stream (partition key = record key). Kinesis has
// no transactions, so it is at least once: refused records are retried until all are in, and
// a failed Write may leave part of its batch in the stream; Pinot's dedup removes the copies
// a retry adds.
package pinotsink

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/jsonstr"
	"github.com/olapgate/olapgate/store"
)

// Defaults for zero Config fields.
const (
	DefaultProducers          = 2
	DefaultTimeout            = 30 * time.Second
	DefaultTransactionTimeout = time.Minute
)

// Config configures the sink of one dataset.
type Config struct {
	// Brokers are seed brokers, host:port.
	Brokers []string
	// Topic is the topic the dataset's REALTIME table consumes.
	Topic string
	// TransactionalID prefixes the producers' transactional IDs (<prefix>-0, <prefix>-1, ...).
	// It must be unique to this process and dataset: a second producer with the same ID fences
	// the first. Default "olapgate-<hostname>-<dataset>".
	TransactionalID string
	// ClientID is sent to the brokers. Default "olapgate".
	ClientID string
	// Producers is the number of transactional producers, i.e. of batches in flight at once
	// (a producer has one open transaction at a time). Default 2.
	Producers int
	// Timeout bounds one Write (produce and commit) when its context has no earlier deadline.
	// Default 30s.
	Timeout time.Duration
	// TransactionTimeout is the broker's bound on an open transaction; a producer that dies
	// mid-batch has it aborted after this long. Default 1m.
	TransactionTimeout time.Duration
	// Opts are extra client options: TLS and SASL (ingest/kafka.SecurityOptions, from
	// backends.pinot.sinkKafka), a logger.
	Opts []kgo.Opt
}

func (c Config) withDefaults(d *dataset.Dataset) Config {
	if c.TransactionalID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		c.TransactionalID = "olapgate-" + host + "-" + d.Name
	}
	if c.ClientID == "" {
		c.ClientID = "olapgate"
	}
	if c.Producers <= 0 {
		c.Producers = DefaultProducers
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("pinot sink: brokers: at least one is required")
	}
	if c.Topic == "" {
		return errors.New("pinot sink: topic is required")
	}
	return nil
}

// Sink produces one dataset's batches to its topic. It is safe for concurrent use.
type Sink struct {
	cfg  Config
	d    *dataset.Dataset
	enc  encoder
	pool chan *producer

	mu        sync.Mutex
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// producer is one transactional client; cl is nil until first use and after a fatal error
// (a new client with the same transactional ID fences the old one's epoch, which aborts
// whatever transaction it left open).
type producer struct {
	id string
	cl *kgo.Client
}

// New returns the sink of dataset d (validated). Clients connect on first use.
func New(cfg Config, d *dataset.Dataset) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(d.Columns()) == 0 {
		return nil, fmt.Errorf("pinot sink for dataset %s: dataset is not validated", d.Name)
	}
	cfg = cfg.withDefaults(d)
	enc, err := newEncoder(d)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, d: d, enc: enc, pool: make(chan *producer, cfg.Producers)}
	for i := 0; i < cfg.Producers; i++ {
		s.pool <- &producer{id: cfg.TransactionalID + "-" + strconv.Itoa(i)}
	}
	return s, nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("pinot sink closed")

// Write produces the batch's rows in one transaction and returns once it is committed: the
// events are then in the stream. On error none of them is visible to read_committed
// consumers (unless the error is an unknown commit outcome, which the message says; a retry
// is then deduplicated by Pinot's dedupConfig/upsertConfig on the primary key).
func (s *Sink) Write(ctx context.Context, b *store.Batch) error {
	if b == nil || b.N == 0 {
		return nil
	}
	if b.Dataset != nil && b.Dataset.Name != s.d.Name {
		return fmt.Errorf("pinot sink for dataset %s: batch of dataset %s", s.d.Name, b.Dataset.Name)
	}
	recs := s.Records(b)
	var p *producer
	select {
	case p = <-s.pool:
	case <-ctx.Done():
		return fmt.Errorf("produce to %s: wait for a producer: %w", s.cfg.Topic, ctx.Err())
	}
	defer func() { s.pool <- p }()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return s.transact(ctx, p, recs)
}

func (s *Sink) transact(ctx context.Context, p *producer, recs []*kgo.Record) error {
	if p.cl == nil {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(s.cfg.Brokers...),
			kgo.ClientID(s.cfg.ClientID),
			kgo.DefaultProduceTopic(s.cfg.Topic),
			kgo.TransactionalID(p.id),
			kgo.TransactionTimeout(s.cfg.TransactionTimeout),
		}, s.cfg.Opts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("produce to %s: create producer %s: %w", s.cfg.Topic, p.id, err)
		}
		p.cl = cl
	}
	if err := p.cl.BeginTransaction(); err != nil {
		s.reset(p)
		return fmt.Errorf("produce to %s: begin transaction: %w", s.cfg.Topic, err)
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		s.abort(p)
		return fmt.Errorf("produce to %s: %w (transaction aborted: no event of the batch is visible)", s.cfg.Topic, err)
	}
	// The commit must not be cut short by the request's context: its outcome would be unknown.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	if err := p.cl.EndTransaction(endCtx, kgo.TryCommit); err != nil {
		s.abort(p)
		return fmt.Errorf("produce to %s: commit transaction: %w (outcome unknown: a retry may duplicate events, which Pinot's dedup on the primary key removes)", s.cfg.Topic, err)
	}
	return nil
}

// abort ends p's transaction with an abort; when that fails, the client is dropped and the
// next use starts a new one, whose initialisation fences and aborts the old transaction.
func (s *Sink) abort(p *producer) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		s.reset(p)
		return
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		s.reset(p)
	}
}

func (s *Sink) reset(p *producer) {
	if p.cl != nil {
		p.cl.Close()
		p.cl = nil
	}
}

// Close waits for writes in flight and closes the producers. Safe to call twice.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		for i := 0; i < s.cfg.Producers; i++ {
			p := <-s.pool
			s.reset(p)
			defer func() { s.pool <- p }()
		}
	})
	return s.closeErr
}

// Topic is the topic the sink produces to.
func (s *Sink) Topic() string { return s.cfg.Topic }

// Records encodes the batch's rows as the records Write produces.
func (s *Sink) Records(b *store.Batch) []*kgo.Record {
	recs := make([]*kgo.Record, b.N)
	var buf []byte
	for i := 0; i < b.N; i++ {
		var key []byte
		key, buf = s.enc.row(b, i, buf[:0])
		recs[i] = &kgo.Record{Key: key, Value: append([]byte(nil), buf...)}
	}
	return recs
}

// encoder turns rows into record keys and values (see the package doc).
type encoder struct {
	cols []dataset.Column
	key  []int // columns of the record key
}

func newEncoder(d *dataset.Dataset) (encoder, error) {
	e := encoder{cols: d.Columns()}
	keys := d.PrimaryKey
	if len(keys) == 0 && d.EventID != "" {
		keys = []string{d.EventID}
	}
	for _, k := range keys {
		c, ok := d.Column(k)
		if !ok {
			return e, fmt.Errorf("pinot sink for dataset %s: key field %s is not a column", d.Name, k)
		}
		e.key = append(e.key, c.Index)
	}
	return e, nil
}

// row appends row i's JSON value to buf and returns its key (nil without key columns).
func (e encoder) row(b *store.Batch, i int, buf []byte) (key, value []byte) {
	buf = append(buf, '{')
	first := true
	for c := range e.cols {
		cb := &b.Cols[c]
		if cb.IsNull(i) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = jsonstr.Append(buf, e.cols[c].Name)
		buf = append(buf, ':')
		buf = appendValue(buf, cb, i)
	}
	buf = append(buf, '}')
	if len(e.key) > 0 {
		key = []byte{}
		for j, c := range e.key {
			if j > 0 {
				key = append(key, '|')
			}
			key = appendText(key, &b.Cols[c], i)
		}
	}
	return key, buf
}

func appendValue(buf []byte, cb *store.ColumnBuf, i int) []byte {
	switch cb.Type {
	case dataset.String:
		return jsonstr.Append(buf, cb.Strings[i])
	case dataset.Int:
		return strconv.AppendInt(buf, cb.Ints[i], 10)
	case dataset.Float:
		f := cb.Floats[i]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(buf, "null"...)
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	case dataset.Bool:
		return strconv.AppendBool(buf, cb.Bools[i])
	case dataset.Timestamp:
		return strconv.AppendInt(buf, millis(cb.Times[i]), 10)
	}
	return append(buf, "null"...)
}

// appendText is a key part: the value's text, nothing for null.
func appendText(buf []byte, cb *store.ColumnBuf, i int) []byte {
	if cb.IsNull(i) {
		return buf
	}
	switch cb.Type {
	case dataset.String:
		return append(buf, cb.Strings[i]...)
	case dataset.Timestamp:
		return strconv.AppendInt(buf, millis(cb.Times[i]), 10)
	}
	return appendValue(buf, cb, i)
}

// millis turns microseconds into epoch milliseconds, rounding down (also before 1970).
func millis(us int64) int64 {
	ms := us / 1000
	if us%1000 < 0 {
		ms--
	}
	return ms
}

// String describes the sink for logs.
func (s *Sink) String() string {
	return fmt.Sprintf("pinot sink %s → %s (%s)", s.d.Name, s.cfg.Topic, strings.Join(s.cfg.Brokers, ","))
}
