package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olapgate/olapgate/internal/sample"
)

const ingestUsage = `Usage: olapgate ingest --dataset NAME [flags] FILE...

Pushes events from JSON-array or NDJSON files (- for stdin) to a running server in batches,
with a progress line on stderr. --sample N pushes N generated pageviews events instead.

Flags:
`

// Ingest is `olapgate ingest`: it pushes events from files (or generated ones) to a running server.
func Ingest(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), ingestUsage); fs.PrintDefaults() }
	server := fs.String("server", "", "olapgate HTTP address (default $OLAPGATE_SERVER or http://127.0.0.1:8080)")
	tenant := fs.String("tenant", "", "tenant (X-Olapgate-Tenant)")
	ds := fs.String("dataset", "", "dataset to ingest into (required)")
	batch := fs.Int("batch", 5000, "events per request (server limit: 10,000 by default)")
	conc := fs.Int("concurrency", 2, "requests in flight")
	sampleN := fs.Int("sample", 0, "push N generated pageviews events (times over the last 24h) instead of files")
	seed := fs.Uint64("seed", 1, "seed for --sample")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ds == "" {
		fs.Usage()
		return errors.New("--dataset is required")
	}
	if *batch < 1 || *conc < 1 {
		return errors.New("--batch and --concurrency must be at least 1")
	}
	if *sampleN == 0 && fs.NArg() == 0 {
		fs.Usage()
		return errors.New("give FILE... or --sample N")
	}

	c := newClient(*server, *tenant)
	p := &pusher{c: c, path: "/v1/datasets/" + *ds + "/events", start: time.Now()}
	chunks := make(chan chunk, *conc)
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range chunks {
				p.push(ch)
			}
		}()
	}
	stopProgress := p.progress()
	var readErr error
	if *sampleN > 0 {
		g := sample.New(*seed, time.Now().Add(-24*time.Hour), 24*time.Hour, 50000)
		readErr = splitSample(g, *sampleN, *batch, chunks)
	} else {
		for _, f := range fs.Args() {
			if readErr = splitFile(f, *batch, chunks); readErr != nil {
				break
			}
		}
	}
	close(chunks)
	wg.Wait()
	stopProgress()
	return errors.Join(readErr, p.summary())
}

type chunk struct {
	body   []byte
	events int
	first  int // index of the first event across the whole run
}

type pusher struct {
	c        *apiClient
	path     string
	start    time.Time
	sent     atomic.Int64
	accepted atomic.Int64
	rejected atomic.Int64
	mu       sync.Mutex
	reasons  []string
	errs     []error
}

func (p *pusher) push(ch chunk) {
	out, err := p.c.post(p.path, "application/x-ndjson", ch.body)
	var res struct {
		Accepted int64 `json:"accepted"`
		Rejected []struct {
			Index  int    `json:"index"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	var apiErr *apiError
	if err != nil && !(errors.As(err, &apiErr) && apiErr.Status == 400 && json.Unmarshal(apiErr.Body, &res) == nil && len(res.Rejected) > 0) {
		p.mu.Lock()
		p.errs = append(p.errs, fmt.Errorf("events %d..%d: %w", ch.first, ch.first+ch.events-1, err))
		p.mu.Unlock()
		p.sent.Add(int64(ch.events))
		return
	}
	if err == nil {
		if err := json.Unmarshal(out, &res); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Errorf("decode answer: %w", err))
			p.mu.Unlock()
		}
	}
	p.sent.Add(int64(ch.events))
	p.accepted.Add(res.Accepted)
	p.rejected.Add(int64(len(res.Rejected)))
	p.mu.Lock()
	for _, r := range res.Rejected {
		if len(p.reasons) < 10 {
			p.reasons = append(p.reasons, fmt.Sprintf("event %d: %s", ch.first+r.Index, r.Reason))
		}
	}
	p.mu.Unlock()
}

// progress prints a status line every half second on stderr until stopped.
func (p *pusher) progress() func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				p.line("\n")
				return
			case <-t.C:
				p.line("")
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (p *pusher) line(end string) {
	el := time.Since(p.start).Seconds()
	sent := p.sent.Load()
	fmt.Fprintf(Stderr, "\r%d events sent, %d accepted, %d rejected, %.0f events/s%s",
		sent, p.accepted.Load(), p.rejected.Load(), float64(sent)/max(el, 1e-9), end)
}

func (p *pusher) summary() error {
	for _, r := range p.reasons {
		fmt.Fprintln(Stderr, "  rejected", r)
	}
	if n := p.rejected.Load(); n > int64(len(p.reasons)) && len(p.reasons) > 0 {
		fmt.Fprintf(Stderr, "  ... %d rejections in all\n", n)
	}
	fmt.Fprintf(Stderr, "done in %s: %d accepted (committed), %d rejected\n",
		time.Since(p.start).Round(time.Millisecond), p.accepted.Load(), p.rejected.Load())
	return errors.Join(p.errs...)
}

func splitSample(g *sample.Generator, n, batch int, out chan<- chunk) error {
	for first := 0; first < n; first += batch {
		k := min(batch, n-first)
		buf := make([]byte, 0, k*200)
		for range k {
			buf = g.Next().AppendJSON(buf)
			buf = append(buf, '\n')
		}
		out <- chunk{body: buf, events: k, first: first}
	}
	return nil
}

// splitFile streams a JSON array or NDJSON file into NDJSON chunks of at most batch events,
// without holding the whole file in memory.
func splitFile(path string, batch int, out chan<- chunk) error {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open events file: %w", err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := firstNonSpace(br)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var buf []byte
	n, total := 0, 0
	emit := func() {
		if n > 0 {
			out <- chunk{body: buf, events: n, first: total}
			total += n
			buf, n = nil, 0
		}
	}
	add := func(obj []byte) {
		buf = append(buf, obj...)
		buf = append(buf, '\n')
		if n++; n == batch {
			emit()
		}
	}
	if first == '[' {
		dec := json.NewDecoder(br)
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("read %s: event %d: %w", path, total+n, err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				return fmt.Errorf("read %s: event %d: %w", path, total+n, err)
			}
			add(compact.Bytes())
		}
	} else {
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				add(append([]byte(nil), line...))
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	emit()
	return nil
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			return b, br.UnreadByte()
		}
	}
}
