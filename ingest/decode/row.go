package decode

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Key match ranks: an exact key beats a case-insensitive one for the same column.
const (
	rankNone uint8 = iota
	rankFold
	rankExact
)

// table is the per-dataset lookup the decoder needs, built once per dataset a Decoder sees.
type table struct {
	d     *dataset.Dataset
	cols  []dataset.Column
	exact map[string]int
	// folded maps ASCII-lower-cased names; non-ASCII keys go through d.Column so the
	// case-insensitive rule stays dataset's own (strings.ToLower, Unicode).
	folded map[string]int
	// recent holds, per string column, the last values seen in 256 hash slots. Pages,
	// countries and devices repeat from event to event; reusing their strings saves most of
	// the decoder's allocations, and a miss (ids, users) costs only a hash and a compare.
	recent [][]string
	// maxKey is the longest key that can name a column: names are ASCII, and a rune folding to
	// an ASCII letter takes at most 4 bytes. Longer keys are unknown without folding them.
	maxKey int
}

// maxRecent is the longest value kept in table.recent: longer ones rarely repeat.
const maxRecent = 32

func newTable(d *dataset.Dataset) *table {
	cols := d.Columns()
	t := &table{d: d, cols: cols, exact: make(map[string]int, len(cols)), folded: make(map[string]int, len(cols))}
	t.recent = make([][]string, len(cols))
	for i, c := range cols {
		t.exact[c.Name] = i
		t.folded[string(lowerASCII(nil, c.Name))] = i
		t.maxKey = max(t.maxKey, 4*len(c.Name))
	}
	return t
}

// lookup finds the column a key names and how well it matched; col is -1 for unknown keys.
// buf is scratch for folding, returned for reuse.
func (t *table) lookup(key, buf []byte) (col int, rank uint8, _ []byte) {
	if i, ok := t.exact[string(key)]; ok {
		return i, rankExact, buf
	}
	if len(key) > t.maxKey {
		return -1, rankNone, buf
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			if c, ok := t.d.Column(string(key)); ok {
				return c.Index, rankFold, buf
			}
			return -1, rankNone, buf
		}
	}
	buf = lowerASCII(buf[:0], key)
	if i, ok := t.folded[string(buf)]; ok {
		return i, rankFold, buf
	}
	return -1, rankNone, buf
}

// recentSlot returns the slot of string column col's recent values where v belongs, or nil
// when v is too long to keep. A slot equal to v holds a validated copy.
func (t *table) recentSlot(col int, v []byte) *string {
	if len(v) > maxRecent {
		return nil
	}
	r := t.recent[col]
	if r == nil { // allocated on first use: wide datasets rarely fill every column
		r = make([]string, 256)
		t.recent[col] = r
	}
	return &r[hashShort(v)]
}

// hashShort hashes a short value to a recent-slot index (0..255).
func hashShort(b []byte) uint8 {
	var x uint64
	if len(b) >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[len(b)-8:]), 29)
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	return uint8((x ^ uint64(len(b))) * 0x9e3779b97f4a7c15 >> 56)
}

func lowerASCII[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// rowWriter builds one row at a time at the end of a batch. begin appends a zero value to every
// column, so setters are plain stores and a refused event is undone by truncation; a column's
// problem is remembered per column, so the reported reason does not depend on key order (which
// a structpb map does not keep) and a later exact key can supersede a case-insensitive one.
type rowWriter struct {
	b    *store.Batch
	tab  *table
	row  int
	rank []uint8  // per column: best key seen in this row
	errs []string // per column: why this row's value is refused; "" when fine
	nerr int
}

func (w *rowWriter) start(b *store.Batch, tab *table) {
	w.b, w.tab = b, tab
	n := len(tab.cols)
	if cap(w.rank) < n {
		w.rank = make([]uint8, n)
		w.errs = make([]string, n)
	}
	w.rank, w.errs = w.rank[:n], w.errs[:n]
}

// stop drops references to the batch so a pooled Decoder pins nothing.
func (w *rowWriter) stop() {
	w.b, w.tab = nil, nil
	clear(w.errs)
	w.nerr = 0
}

func (w *rowWriter) begin() {
	w.row = w.b.N
	clear(w.rank)
	if w.nerr > 0 {
		clear(w.errs)
		w.nerr = 0
	}
	for i := range w.b.Cols {
		c := &w.b.Cols[i]
		switch c.Type {
		case dataset.String:
			c.Strings = append(c.Strings, "")
		case dataset.Int:
			c.Ints = append(c.Ints, 0)
		case dataset.Float:
			c.Floats = append(c.Floats, 0)
		case dataset.Bool:
			c.Bools = append(c.Bools, false)
		case dataset.Timestamp:
			c.Times = append(c.Times, 0)
		}
		if c.Null != nil {
			c.Null = append(c.Null, false)
		}
	}
}

// claim decides whether a key of the given rank supplies col's value. An exact key supersedes a
// case-insensitive one (and any problem it had); two keys of equal rank make the row ambiguous.
func (w *rowWriter) claim(col int, rank uint8) bool {
	switch prev := w.rank[col]; {
	case rank > prev:
		w.rank[col] = rank
		w.setErr(col, "")
		return true
	case rank == prev:
		w.setErr(col, reasonDuplicate(w.tab.cols[col].Name))
	}
	return false
}

func (w *rowWriter) setErr(col int, reason string) {
	switch old := w.errs[col]; {
	case old == "" && reason != "":
		w.nerr++
	case old != "" && reason == "":
		w.nerr--
	}
	w.errs[col] = reason
}

// fail refuses col's value for this row.
func (w *rowWriter) fail(col int, reason string) { w.setErr(col, reason) }

func (w *rowWriter) setString(col int, v string) {
	c := &w.b.Cols[col]
	c.Strings[w.row] = v
	if c.Null != nil {
		c.Null[w.row] = false
	}
}

func (w *rowWriter) setInt(col int, v int64) {
	c := &w.b.Cols[col]
	c.Ints[w.row] = v
	if c.Null != nil {
		c.Null[w.row] = false
	}
}

func (w *rowWriter) setFloat(col int, v float64) {
	c := &w.b.Cols[col]
	c.Floats[w.row] = v
	if c.Null != nil {
		c.Null[w.row] = false
	}
}

func (w *rowWriter) setBool(col int, v bool) {
	c := &w.b.Cols[col]
	c.Bools[w.row] = v
	if c.Null != nil {
		c.Null[w.row] = false
	}
}

func (w *rowWriter) setTime(col int, micros int64) {
	c := &w.b.Cols[col]
	c.Times[w.row] = micros
	if c.Null != nil {
		c.Null[w.row] = false
	}
}

// setNull marks col null in this row, zeroing the value a superseded key may have left. The
// time column is never null: null there is a missing time.
func (w *rowWriter) setNull(col int) {
	if w.tab.cols[col].Role == dataset.RoleTime {
		w.fail(col, reasonMissingTime(w.tab.cols[col].Name))
		return
	}
	c := &w.b.Cols[col]
	switch c.Type {
	case dataset.String:
		c.Strings[w.row] = ""
	case dataset.Int:
		c.Ints[w.row] = 0
	case dataset.Float:
		c.Floats[w.row] = 0
	case dataset.Bool:
		c.Bools[w.row] = false
	case dataset.Timestamp:
		c.Times[w.row] = 0
	}
	if c.Null == nil {
		c.Null = make([]bool, w.row+1, max(cap(c.Strings), cap(c.Ints), cap(c.Floats), cap(c.Bools), cap(c.Times)))
	}
	c.Null[w.row] = true
}

// end completes the row: absent columns become null (absent time is a refusal), then the row is
// kept, or undone and the reason for its first refused column in table order returned.
func (w *rowWriter) end() (reason string) {
	for col, r := range w.rank {
		if r == rankNone {
			w.setNull(col)
		}
	}
	if w.nerr == 0 {
		w.b.N++
		return ""
	}
	for _, e := range w.errs {
		if e != "" {
			reason = e
			break
		}
	}
	w.undo()
	return reason
}

// uncommit removes the row end kept last.
func (w *rowWriter) uncommit() {
	w.b.N--
	w.undo()
}

// undo removes the row begun last.
func (w *rowWriter) undo() { w.b.TruncateColumns(w.row) }

// finish restores the store.ColumnBuf promise that Null is nil when no row is null: a row that
// was null and then refused, or a null superseded by an exact key, can leave an all-false Null.
func finish(b *store.Batch) {
	for i := range b.Cols {
		c := &b.Cols[i]
		if c.Null == nil {
			continue
		}
		hasNull := false
		for _, n := range c.Null {
			if n {
				hasNull = true
				break
			}
		}
		if !hasNull {
			c.Null = nil
		}
	}
}

// Rejection reasons. Each names the field by its column name, so reasons are stable whatever
// case the client used; values are echoed truncated.

// reasonNotObject is the reason for an event that is not an object, starting with c. The
// strings are constants: a body of a million non-objects must not allocate a million reasons.
func reasonNotObject(c byte) string {
	switch c {
	case '[':
		return "expected a JSON object, got array"
	case '"':
		return "expected a JSON object, got string"
	case 't', 'f':
		return "expected a JSON object, got bool"
	case 'n':
		return "expected a JSON object, got null"
	}
	return "expected a JSON object, got number"
}

func reasonMissingTime(col string) string {
	return "field " + strconv.Quote(col) + ": missing; the time column is required"
}

func reasonDuplicate(col string) string {
	return "field " + strconv.Quote(col) + ": given more than once"
}

func reasonType(col, want, got string) string {
	return "field " + strconv.Quote(col) + ": expected " + want + ", got " + got
}

func reasonNotIntegral[T string | []byte](col, want string, num T) string {
	return "field " + strconv.Quote(col) + ": expected " + want + ", got non-integral number " + echo(num)
}

func reasonIntRange[T string | []byte](col string, num T) string {
	return "field " + strconv.Quote(col) + ": number " + echo(num) + " is out of range for int (64-bit)"
}

func reasonFloatRange[T string | []byte](col string, num T) string {
	return "field " + strconv.Quote(col) + ": number " + echo(num) + " is out of range for float (64-bit)"
}

func reasonNotFinite(col, num string) string {
	return "field " + strconv.Quote(col) + ": number " + num + " is not finite"
}

func reasonBadTime[T string | []byte](col string, s T) string {
	return "field " + strconv.Quote(col) + ": " + strconv.Quote(echo(s)) +
		" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)"
}

// reasonTimeRange is for a time that parsed but is out of range; quote says whether v was a
// string (then it is quoted).
func reasonTimeRange[T string | []byte](col string, v T, quote bool) string {
	e := echo(v)
	if quote {
		e = strconv.Quote(e)
	}
	return "field " + strconv.Quote(col) + ": " + e + " is outside years 1970..9999"
}

func reasonStringSize(col string, n int) string {
	return "field " + strconv.Quote(col) + ": string of " + strconv.Itoa(n) + " bytes is over the limit of " +
		strconv.Itoa(MaxStringBytes) + " bytes"
}

func reasonUTF8(col string) string {
	return "field " + strconv.Quote(col) + ": string is not valid UTF-8"
}

// Type names used in "expected X" and "got Y".
const (
	wantTime = "RFC 3339 string or epoch milliseconds"
)

// wantName is the "expected" part of a type mismatch for a column type.
func wantName(t dataset.Type) string {
	if t == dataset.Timestamp {
		return wantTime
	}
	return string(t)
}

// echo shortens a value quoted into a reason, so a 64 KiB string does not make a 64 KiB reason
// (nor copy one first: it takes the bytes).
func echo[T string | []byte](s T) string {
	const maxEcho = 40
	if len(s) <= maxEcho {
		return string(s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(s[:cut]) + "…"
}
