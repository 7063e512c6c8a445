package pipeline

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Record is one stream record as the pipeline needs it. Value and Key are retained, not
// copied, until the next Flush or Reset.
type Record struct {
	// Stream is the topic or stream name, Partition the partition or shard within it,
	// Position the record's offset or sequence number: where the record came from, kept with
	// a dead letter.
	Stream, Partition, Position string
	Key, Value                  []byte
	// Time is the record's timestamp (zero when the source has none).
	Time time.Time
}

// DefaultDeadLetterDataset is the dead-letter dataset's name unless configured.
const DefaultDeadLetterDataset = "olapgate_deadletter"

// DeadLetterDataset returns the dataset dead letters are stored in: one row per record that
// could not be stored, with why, where it came from and its raw payload.
//
//	time             the record's timestamp (the dead-lettering time when it has none)
//	deadlettered_at  when the pipeline refused it
//	source           the source's name ("kafka:clicks")
//	stream, partition, position   topic / partition / offset (stream / shard / sequence number)
//	record_key       the record key as UTF-8 (base64 when it is not valid UTF-8), null without one
//	target           the dataset it was routed to, null when it could not be routed
//	reason           why it was refused, as the push API would say it
//	payload          the record value as UTF-8 text, or base64 when it is not valid UTF-8
//	payload_encoding utf8 | base64
//	payload_bytes    the value's length
func DeadLetterDataset(name string) (*dataset.Dataset, error) {
	if name == "" {
		name = DefaultDeadLetterDataset
	}
	d := &dataset.Dataset{
		Name:       name,
		TimeColumn: "time",
		Backend:    dataset.BackendEmbedded,
		Dimensions: []dataset.Field{
			{Name: "deadlettered_at", Type: dataset.Timestamp},
			{Name: "source", Type: dataset.String}, {Name: "stream", Type: dataset.String},
			{Name: "partition", Type: dataset.String}, {Name: "position", Type: dataset.String},
			{Name: "record_key", Type: dataset.String}, {Name: "target", Type: dataset.String},
			{Name: "reason", Type: dataset.String}, {Name: "payload", Type: dataset.String},
			{Name: "payload_encoding", Type: dataset.String},
		},
		Metrics: []dataset.Field{{Name: "payload_bytes", Type: dataset.Int}},
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("dead-letter dataset: %w", err)
	}
	return d, nil
}

// Counts are what one flush did, by dataset ("" for records that could not be routed).
type Counts struct {
	// Accepted events became rows; Rejected ones were refused (routing or validation) and
	// dead-lettered.
	Accepted, Rejected map[string]int
}

// Pipeline gathers records, then decodes them into one batch per dataset plus one of dead
// letters. It is not safe for concurrent use: one per consumer.
type Pipeline struct {
	source   string
	route    func(stream string) *Route
	datasets func(name string) *dataset.Dataset
	dlq      *dataset.Dataset
	dec      *decode.Decoder
	now      func() time.Time

	byDS  map[string]*pending
	order []string // datasets in first-seen order, for a stable batch order
	dead  []deadLetter
	n     int
	body  []byte
}

type pending struct {
	recs []*Record
}

type deadLetter struct {
	rec    *Record
	target string
	reason string
	at     time.Time
}

// Config configures a Pipeline.
type Config struct {
	// Source names the source in dead letters, e.g. "kafka:clicks".
	Source string
	// Route returns the route of a stream's records; nil dead-letters them.
	Route func(stream string) *Route
	// Datasets resolves a dataset name; nil means not declared (its records are dead-lettered).
	Datasets func(name string) *dataset.Dataset
	// DeadLetter is the dead-letter dataset (DeadLetterDataset).
	DeadLetter *dataset.Dataset
}

// New returns a Pipeline.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Route == nil || cfg.Datasets == nil || cfg.DeadLetter == nil {
		return nil, errors.New("pipeline: Route, Datasets and DeadLetter are required")
	}
	return &Pipeline{
		source: cfg.Source, route: cfg.Route, datasets: cfg.Datasets, dlq: cfg.DeadLetter,
		dec: decode.NewDecoder(), now: time.Now, byDS: map[string]*pending{},
	}, nil
}

// Len is the number of records gathered since the last Flush or Reset.
func (p *Pipeline) Len() int { return p.n }

// Add gathers a record. Records that cannot be routed are dead-lettered at the next Flush.
func (p *Pipeline) Add(rec *Record) {
	p.n++
	r := p.route(rec.Stream)
	if r == nil {
		p.dead = append(p.dead, deadLetter{rec: rec, reason: fmt.Sprintf("stream %q has no route", rec.Stream), at: p.now()})
		return
	}
	if blankValue(rec.Value) {
		p.dead = append(p.dead, deadLetter{rec: rec, target: r.Dataset, reason: "empty record value; expected a JSON object", at: p.now()})
		return
	}
	ds, reason := r.pick(rec.Value)
	if reason != "" {
		p.dead = append(p.dead, deadLetter{rec: rec, reason: reason, at: p.now()})
		return
	}
	pd := p.byDS[ds]
	if pd == nil {
		pd = &pending{}
		p.byDS[ds] = pd
		p.order = append(p.order, ds)
	}
	pd.recs = append(pd.recs, rec)
}

// Reset drops everything gathered.
func (p *Pipeline) Reset() {
	for _, ds := range p.order {
		delete(p.byDS, ds)
	}
	p.order = p.order[:0]
	clear(p.dead)
	p.dead = p.dead[:0]
	p.n = 0
}

// Flush decodes what was gathered into batches (one per dataset with rows, then one of dead
// letters) and resets. Every record gathered is either a row or a dead letter; the error is
// for a pipeline bug, never for a bad record.
func (p *Pipeline) Flush() ([]*store.Batch, Counts, error) {
	defer p.Reset()
	c := Counts{Accepted: map[string]int{}, Rejected: map[string]int{}}
	var out []*store.Batch
	for _, name := range p.order {
		recs := p.byDS[name].recs
		d := p.datasets(name)
		if d == nil {
			for _, rec := range recs {
				p.dead = append(p.dead, deadLetter{rec: rec, target: name, reason: fmt.Sprintf("dataset %q is not declared", name), at: p.now()})
			}
			continue
		}
		b, rej, err := p.decode(d, recs)
		if err != nil {
			return nil, Counts{}, err
		}
		for _, r := range rej {
			p.dead = append(p.dead, deadLetter{rec: recs[r.Index], target: name, reason: r.Reason, at: p.now()})
		}
		c.Accepted[name] += b.N
		if b.N > 0 {
			out = append(out, b)
		}
	}
	if len(p.dead) > 0 {
		out = append(out, p.deadLetters(c))
	}
	return out, c, nil
}

// decode runs the records through the push API's decoder as one NDJSON body, so stream
// events obey exactly the push API's rules and reasons. A record value that holds a raw
// newline (legal only as whitespace between tokens) would split into two lines, so newlines
// become carriage returns: equally whitespace between tokens, equally illegal unescaped
// inside a string, and the same length, so byte offsets in reasons stay right.
func (p *Pipeline) decode(d *dataset.Dataset, recs []*Record) (*store.Batch, []decode.Rejection, error) {
	body := p.body[:0]
	for _, rec := range recs {
		start := len(body)
		body = append(body, rec.Value...)
		for i := start; i < len(body); i++ {
			if body[i] == '\n' {
				body[i] = '\r'
			}
		}
		body = append(body, '\n')
	}
	p.body = body
	if cap(p.body) > 64<<20 {
		p.body = nil // one huge flush must not pin its buffer
	}
	b, rej, err := p.dec.JSON(d, body, decode.FormatNDJSON, 0, decode.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("decode %d records for %s: %w", len(recs), d.Name, err)
	}
	if b.N+len(rej) != len(recs) {
		return nil, nil, fmt.Errorf("decode %d records for %s: %d rows and %d rejections", len(recs), d.Name, b.N, len(rej))
	}
	return b, rej, nil
}

// blankValue reports a value the NDJSON framing would skip as a blank line.
func blankValue(v []byte) bool {
	for _, c := range v {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func (p *Pipeline) deadLetters(c Counts) *store.Batch {
	b := store.NewBatch(p.dlq, len(p.dead))
	cols := p.dlq.Columns()
	for _, dl := range p.dead {
		c.Rejected[dl.target]++
		rec := dl.rec
		t := rec.Time
		if t.IsZero() {
			t = dl.at
		}
		payload, enc := text(rec.Value)
		for i, col := range cols {
			cb := &b.Cols[i]
			switch col.Name {
			case "time":
				cb.Times = append(cb.Times, t.UnixMicro())
			case "deadlettered_at":
				cb.Times = append(cb.Times, dl.at.UnixMicro())
			case "source":
				cb.Strings = append(cb.Strings, p.source)
			case "stream":
				cb.Strings = append(cb.Strings, rec.Stream)
			case "partition":
				cb.Strings = append(cb.Strings, rec.Partition)
			case "position":
				cb.Strings = append(cb.Strings, rec.Position)
			case "record_key":
				k, _ := text(rec.Key)
				appendString(cb, b.N, k, rec.Key == nil)
			case "target":
				appendString(cb, b.N, dl.target, dl.target == "")
			case "reason":
				cb.Strings = append(cb.Strings, dl.reason)
			case "payload":
				cb.Strings = append(cb.Strings, payload)
			case "payload_encoding":
				cb.Strings = append(cb.Strings, enc)
			case "payload_bytes":
				cb.Ints = append(cb.Ints, int64(len(rec.Value)))
			}
		}
		b.N++
	}
	return b
}

// appendString appends row n of a string column, null when null.
func appendString(cb *store.ColumnBuf, n int, v string, null bool) {
	if null && cb.Null == nil {
		cb.Null = make([]bool, n, n+1)
	}
	if cb.Null != nil {
		cb.Null = append(cb.Null, null)
	}
	cb.Strings = append(cb.Strings, v)
}

// text is b as a string the store can hold: itself when valid UTF-8 without NUL (DuckDB
// VARCHAR refuses neither, but other tools choke on NUL), otherwise base64.
func text(b []byte) (string, string) {
	if utf8.Valid(b) {
		for _, c := range b {
			if c == 0 {
				return base64.StdEncoding.EncodeToString(b), "base64"
			}
		}
		return string(b), "utf8"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}
