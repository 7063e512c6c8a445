package target

import (
	"bytes"
	"strconv"
	"time"

	"github.com/olapgate/olapgate/internal/sample"
)

// Payloads are NDJSON batches of generated pageviews events for ingest load.
//
// Generating events costs about a microsecond each, which at load rates would spend the
// generator's CPU (and show as send lateness). So a few batches are generated up front and
// each request gets one with its event ids rewritten to be unique, a single copy: a server
// deduplicating on the event id stores every request's events, as fresh data would.
type Payloads struct {
	Dataset   string
	BatchSize int
	templates [][]byte
}

// NewPayloads generates variants distinct batches of batch events each.
func NewPayloads(dataset string, batch, variants int, seed uint64) *Payloads {
	if batch < 1 {
		batch = 1
	}
	if variants < 1 {
		variants = 1
	}
	g := sample.New(seed, time.Now().Add(-24*time.Hour), 24*time.Hour, 50000)
	p := &Payloads{Dataset: dataset, BatchSize: batch}
	for range variants {
		buf := make([]byte, 0, batch*200)
		for range batch {
			buf = g.Next().AppendJSON(buf)
			buf = append(buf, '\n')
		}
		p.templates = append(p.templates, buf)
	}
	return p
}

var idKey = []byte(`"id":"`)

// Body is request seq's NDJSON batch.
func (p *Payloads) Body(seq uint64) []byte {
	t := p.templates[seq%uint64(len(p.templates))]
	prefix := append(append([]byte(`"id":"r`), strconv.FormatUint(seq, 36)...), '-')
	return bytes.ReplaceAll(t, idKey, prefix)
}
