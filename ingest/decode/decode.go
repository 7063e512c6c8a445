package decode

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Format is the framing of a JSON body.
type Format int

// Body formats.
const (
	// FormatArray is one JSON array whose elements are events.
	FormatArray Format = iota
	// FormatNDJSON is one event per line; blank lines are skipped.
	FormatNDJSON
)

func (f Format) String() string {
	switch f {
	case FormatArray:
		return "array"
	case FormatNDJSON:
		return "ndjson"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Rejection is one refused event: its index (counted from the indexBase of the call, over every
// event including refused ones) and why.
type Rejection struct {
	Index  int
	Reason string
}

// Limits bound one call.
type Limits struct {
	// MaxEvents is the most events one call accepts or rejects; 0 means no limit and a negative
	// value admits none. Servers use DefaultMaxEvents.
	MaxEvents int
}

// DefaultMaxEvents is the servers' default for Limits.MaxEvents.
const DefaultMaxEvents = 10000

// MaxStringBytes is the longest string value accepted, after unescaping.
const MaxStringBytes = 65536

// ErrTooManyEvents is wrapped by the error for a call with more events than Limits.MaxEvents;
// servers answer it with HTTP 413 / ResourceExhausted.
var ErrTooManyEvents = errors.New("too many events")

func tooMany(what string, limit int) error {
	return fmt.Errorf("%w: %s holds more than %d events (limit maxEvents)", ErrTooManyEvents, what, max(limit, 0))
}

// over reports whether n events exceed the limit.
func (l Limits) over(n int) bool { return l.MaxEvents != 0 && n > max(l.MaxEvents, 0) }

// Decoder decodes event bodies, reusing its scratch memory from call to call. A Decoder is not
// safe for concurrent use; the package functions JSON and Structs take one from a pool. Batches
// never alias the input or the Decoder's buffers, so both may be reused at once; short string
// values that repeat (pages, countries) are one immutable Go string shared between batches.
type Decoder struct {
	tab    *table
	sc     scanner
	rw     rowWriter
	keyBuf []byte
	valBuf []byte
	fold   []byte
	lines  []int // NDJSON: start and end of each non-blank line
	// pred[k] is the column the k-th key of the previous object named exactly, or -1.
	pred [32]int16
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{} }

var pool = sync.Pool{New: func() any { return NewDecoder() }}

// JSON decodes body into a new batch for d with a pooled Decoder; see Decoder.JSON.
func JSON(d *dataset.Dataset, body []byte, f Format, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	dec := pool.Get().(*Decoder)
	defer dec.release()
	return dec.JSON(d, body, f, indexBase, lim)
}

// Structs decodes gRPC events into a new batch for d with a pooled Decoder; see Decoder.Structs.
func Structs(d *dataset.Dataset, events []*structpb.Struct, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	dec := pool.Get().(*Decoder)
	defer dec.release()
	return dec.Structs(d, events, indexBase, lim)
}

// release returns dec to the pool unless one odd body made its scratch large: a pooled Decoder
// should cost kilobytes, not the size of the biggest request ever seen.
func (dec *Decoder) release() {
	const keep = 1 << 20
	if cap(dec.valBuf) > keep || cap(dec.keyBuf) > keep || cap(dec.fold) > keep || cap(dec.lines) > keep ||
		cap(dec.sc.stack) > keep {
		return
	}
	pool.Put(dec)
}

// use prepares dec for d, rebuilding the key table only when the dataset changes.
func (dec *Decoder) use(d *dataset.Dataset) *table {
	if dec.tab == nil || dec.tab.d != d {
		dec.tab = newTable(d)
		for i := range dec.pred {
			dec.pred[i] = -1
		}
	}
	return dec.tab
}

// JSON decodes body into a new batch for d. The error is non-nil only when the body as a whole
// is refused: an array body that is not one well-formed JSON array, an unknown format, or more
// events than lim allows (wrapping ErrTooManyEvents). Otherwise every event is either a row of
// the batch or a Rejection, in body order, indexed from indexBase.
func (dec *Decoder) JSON(d *dataset.Dataset, body []byte, f Format, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	switch f {
	case FormatArray:
		return dec.array(d, body, indexBase, lim)
	case FormatNDJSON:
		return dec.ndjson(d, body, indexBase, lim)
	}
	return nil, nil, fmt.Errorf("decode %s body: unknown format", f)
}

// done detaches dec from the call's input and output.
func (dec *Decoder) done(b *store.Batch) {
	finish(b)
	dec.rw.stop()
	dec.sc.reset(nil)
}

func (dec *Decoder) array(d *dataset.Dataset, body []byte, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	tab := dec.use(d)
	s := &dec.sc
	s.reset(body)
	s.skipWS()
	switch c := s.peek(); {
	case s.pos >= len(body):
		return nil, nil, errors.New("decode JSON array: body is empty")
	case c != '[':
		if !s.skipValue() {
			return nil, nil, fmt.Errorf("decode JSON array: %w", s.err)
		}
		return nil, nil, fmt.Errorf("decode JSON array: body is a JSON %s, not an array", kindAt(c))
	}
	// Events are rarely under 64 bytes; a low guess only costs an append's regrowth.
	capacity := len(body) / 128
	if lim.MaxEvents > 0 {
		capacity = min(capacity, lim.MaxEvents)
	}
	b := store.NewBatch(d, max(capacity, 1))
	dec.rw.start(b, tab)
	defer dec.done(b)

	var rej []Rejection
	s.pos++
	s.skipWS()
	if s.peek() == ']' {
		s.pos++
	} else {
		for n := 0; ; n++ {
			if lim.over(n + 1) {
				return nil, nil, tooMany("body", lim.MaxEvents)
			}
			var reason string
			if c := s.peek(); c == '{' {
				reason = dec.object()
			} else if s.skipValue() {
				reason = reasonNotObject(c)
			}
			if s.err != nil {
				return nil, nil, fmt.Errorf("decode JSON array: element %d: %w", indexBase+n, s.err)
			}
			if reason != "" {
				rej = append(rej, Rejection{Index: indexBase + n, Reason: reason})
			}
			s.skipWS()
			if c := s.peek(); c == ',' {
				s.pos++
				s.skipWS()
				continue
			} else if c == ']' {
				s.pos++
				break
			}
			s.failChar("after array element")
			return nil, nil, fmt.Errorf("decode JSON array: %w", s.err)
		}
	}
	s.skipWS()
	if s.pos < len(body) {
		s.failChar("after top-level value")
		return nil, nil, fmt.Errorf("decode JSON array: %w", s.err)
	}
	return b, rej, nil
}

func (dec *Decoder) ndjson(d *dataset.Dataset, body []byte, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	tab := dec.use(d)
	// Find the lines first: it is a memchr pass, it refuses an oversized body before any
	// decoding, and it sizes the batch exactly.
	lines := dec.lines[:0]
	for start := 0; start < len(body); {
		end := bytes.IndexByte(body[start:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += start
		}
		if !blank(body[start:end]) {
			if lim.over(len(lines)/2 + 1) {
				dec.lines = lines
				return nil, nil, tooMany("body", lim.MaxEvents)
			}
			lines = append(lines, start, end)
		}
		start = end + 1
	}
	dec.lines = lines
	n := len(lines) / 2

	b := store.NewBatch(d, n)
	dec.rw.start(b, tab)
	defer dec.done(b)
	s := &dec.sc
	var rej []Rejection
	for i := range n {
		s.reset(body[lines[2*i]:lines[2*i+1]])
		s.skipWS()
		var reason string
		c := s.peek()
		if c == '{' {
			reason = dec.object()
		} else if s.skipValue() {
			reason = reasonNotObject(c)
		}
		if s.err == nil {
			if s.skipWS(); s.pos < len(s.data) {
				s.failChar("after top-level value")
				if reason == "" && c == '{' { // the object became a row; the line refuses it
					dec.rw.uncommit()
				}
			}
		}
		if s.err != nil {
			reason = "invalid JSON: " + s.err.Error()
		}
		if reason != "" {
			rej = append(rej, Rejection{Index: indexBase + i, Reason: reason})
		}
	}
	return b, rej, nil
}

// blank reports whether a line holds only whitespace (a trailing \r included).
func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// object decodes the object at the scanner's position as one event. It returns "" when the
// event became a row, the refusal reason otherwise; after a syntax error (s.err) the row is
// undone and the reason is meaningless.
func (dec *Decoder) object() string {
	s, w := &dec.sc, &dec.rw
	w.begin()
	s.pos++ // '{'
	s.skipWS()
	if s.peek() == '}' {
		s.pos++
		return w.end()
	}
	nkey := 0
	for {
		if s.peek() != '"' {
			s.failChar("looking for beginning of object key string")
			break
		}
		raw, escaped, ok := s.readString()
		if !ok {
			break
		}
		key := raw
		if escaped {
			dec.keyBuf = appendUnescaped(dec.keyBuf[:0], raw)
			key = dec.keyBuf
		}
		// Producers write keys in the same order event after event, so the column found at
		// this key position last time is checked first: a byte compare instead of a hash.
		col, rank := -1, rankNone
		if nkey < len(dec.pred) {
			if p := dec.pred[nkey]; p >= 0 && string(key) == dec.tab.cols[p].Name {
				col, rank = int(p), rankExact
			}
		}
		if rank == rankNone {
			col, rank, dec.fold = dec.tab.lookup(key, dec.fold)
			if nkey < len(dec.pred) {
				dec.pred[nkey] = -1
				if rank == rankExact {
					dec.pred[nkey] = int16(col)
				}
			}
		}
		nkey++
		s.skipWS()
		if s.peek() != ':' {
			s.failChar("after object key")
			break
		}
		s.pos++
		s.skipWS()
		if col >= 0 && w.claim(col, rank) {
			ok = dec.value(col)
		} else {
			ok = s.skipValue()
		}
		if !ok {
			break
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.pos++
			s.skipWS()
			continue
		case '}':
			s.pos++
			return w.end()
		}
		s.failChar("after object key:value pair")
		break
	}
	w.undo()
	return ""
}

// value decodes the value at the scanner's position into column col of the current row. It
// returns false only on a syntax error; a value the column cannot take is recorded on the row.
func (dec *Decoder) value(col int) bool {
	s, w := &dec.sc, &dec.rw
	c := &dec.tab.cols[col]
	switch ch := s.peek(); ch {
	case '"':
		raw, escaped, ok := s.readString()
		if !ok {
			return false
		}
		v := raw
		if escaped {
			dec.valBuf = appendUnescaped(dec.valBuf[:0], raw)
			v = dec.valBuf
		}
		switch c.Type {
		case dataset.String:
			slot := dec.tab.recentSlot(col, v)
			switch {
			case slot != nil && *slot == string(v):
				w.setString(col, *slot)
			case len(v) > MaxStringBytes:
				w.fail(col, reasonStringSize(c.Name, len(v)))
			case !utf8.Valid(v):
				w.fail(col, reasonUTF8(c.Name))
			default:
				str := string(v)
				if slot != nil {
					*slot = str
				}
				w.setString(col, str)
			}
		case dataset.Timestamp:
			micros, ok, inRange := timeFromRFC3339(v)
			switch {
			case !ok:
				w.fail(col, reasonBadTime(c.Name, v))
			case !inRange:
				w.fail(col, reasonTimeRange(c.Name, v, true))
			default:
				w.setTime(col, micros)
			}
		default:
			w.fail(col, reasonType(c.Name, wantName(c.Type), "string"))
		}
		return true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		num, ok := s.readNumber()
		if !ok {
			return false
		}
		dec.number(col, c, num)
		return true
	case 't', 'f':
		lit := "true"
		if ch == 'f' {
			lit = "false"
		}
		if !s.readLiteral(lit) {
			return false
		}
		if c.Type == dataset.Bool {
			w.setBool(col, ch == 't')
		} else {
			w.fail(col, reasonType(c.Name, wantName(c.Type), "bool"))
		}
		return true
	case 'n':
		if !s.readLiteral("null") {
			return false
		}
		w.setNull(col)
		return true
	case '{', '[':
		if !s.skipValue() {
			return false
		}
		w.fail(col, reasonType(c.Name, wantName(c.Type), kindAt(ch)))
		return true
	}
	return s.failChar("looking for beginning of value")
}

// number stores a JSON number literal into column c.
func (dec *Decoder) number(col int, c *dataset.Column, num []byte) {
	w := &dec.rw
	switch c.Type {
	case dataset.Int:
		switch v, p := jsonInt(num); p {
		case numOK:
			w.setInt(col, v)
		case numNotIntegral:
			w.fail(col, reasonNotIntegral(c.Name, "int", num))
		default:
			w.fail(col, reasonIntRange(c.Name, num))
		}
	case dataset.Float:
		if f, ok := jsonFloat(num); ok {
			w.setFloat(col, f)
		} else {
			w.fail(col, reasonFloatRange(c.Name, num))
		}
	case dataset.Timestamp:
		ms, p := jsonInt(num)
		if p == numNotIntegral {
			w.fail(col, reasonNotIntegral(c.Name, wantTime, num))
			return
		}
		micros, ok := timeFromEpochMs(ms)
		if p != numOK || !ok {
			w.fail(col, reasonTimeRange(c.Name, num, false))
			return
		}
		w.setTime(col, micros)
	default:
		w.fail(col, reasonType(c.Name, wantName(c.Type), "number"))
	}
}
