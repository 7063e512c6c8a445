package decode

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/olapgate/olapgate/internal/dataset"
)

// FuzzJSON checks, for any body, that decoding does not panic, that the batch keeps its
// invariants, that every event counted is either a row or a rejection, and that the outcome
// matches an oracle that restates the rules over encoding/json, time.Parse and math/big.
func FuzzJSON(f *testing.F) {
	for _, tc := range fieldCases {
		if len(tc.event) < 1000 {
			f.Add([]byte("["+tc.event+"]"), false)
			f.Add([]byte(tc.event+"\n"), true)
		}
	}
	f.Add([]byte(`[{"time":1795341600000,"s":"a"},1,{"time":"x"},{"i":2}]`), false)
	f.Add([]byte("\n{\"time\":0}\r\n\n{oops\n[1]\n"), true)
	d := testDataset(f)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := FormatArray
		if ndjson {
			format = FormatNDJSON
		}
		b, rej, err := JSON(d, body, format, 0, Limits{})
		want, comparable := oracle(d, body, ndjson)
		if err != nil && !utf8.ValidString(err.Error()) {
			t.Fatalf("error is not valid UTF-8: %q", err)
		}
		for _, r := range rej {
			if !utf8.ValidString(r.Reason) {
				t.Fatalf("reason is not valid UTF-8: %q", r.Reason)
			}
		}
		if err != nil {
			if b != nil || rej != nil {
				t.Fatalf("error %v with a batch or rejections", err)
			}
			if ndjson {
				t.Fatalf("NDJSON body refused as a whole: %v", err)
			}
			if comparable && !want.bodyErr {
				t.Fatalf("refused a body encoding/json accepts as an array: %v", err)
			}
			return
		}
		checkBatch(t, b)
		for i, r := range rej {
			if r.Reason == "" || r.Index < 0 || (i > 0 && r.Index <= rej[i-1].Index) {
				t.Fatalf("bad rejections %+v", rej)
			}
		}
		if !comparable {
			return
		}
		if want.bodyErr {
			t.Fatalf("accepted a body encoding/json refuses as an array")
		}
		if b.N+len(rej) != want.events {
			t.Fatalf("%d rows + %d rejections, oracle counts %d events", b.N, len(rej), want.events)
		}
		if len(rej) != len(want.rejected) {
			t.Fatalf("rejections %+v\noracle %+v", rej, want.rejected)
		}
		for i, r := range rej {
			w := want.rejected[i]
			if r.Index != w.Index || (w.Reason == invalidJSON && !strings.HasPrefix(r.Reason, invalidJSON)) ||
				(w.Reason != invalidJSON && w.Reason != anyReason && r.Reason != w.Reason) {
				t.Fatalf("rejection %d: %+v, oracle %+v", i, r, w)
			}
		}
		for row, vals := range want.rows {
			for col, v := range vals {
				if got := b.Cols[col].Value(row); !equalValue(got, v) {
					t.Fatalf("row %d column %s: %#v, oracle %#v", row, d.Columns()[col].Name, got, v)
				}
			}
		}
	})
}

const (
	invalidJSON = "invalid JSON: "
	// anyReason is an oracle rejection whose text is not compared.
	anyReason = "\x00any"
)

type oracleOut struct {
	bodyErr  bool
	events   int
	rows     [][]any
	rejected []Rejection
}

// oracle decodes body by the package rules, independently of the scanner. comparable is false
// for inputs it cannot judge (nesting near encoding/json's limit).
func oracle(d *dataset.Dataset, body []byte, ndjson bool) (out oracleOut, comparable bool) {
	if maxNesting(body) > maxDepth-10 {
		return out, false
	}
	var events [][]byte
	if ndjson {
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if len(bytes.Trim(line, " \t\r")) > 0 {
				events = append(events, line)
			}
		}
	} else {
		var elems []json.RawMessage
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(body, &elems) != nil {
			out.bodyErr = true
			return out, true
		}
		for _, e := range elems {
			events = append(events, e)
		}
	}
	out.events = len(events)
	for i, ev := range events {
		if !json.Valid(ev) {
			out.rejected = append(out.rejected, Rejection{Index: i, Reason: invalidJSON})
			continue
		}
		row, reason, known := oracleEvent(d, bytes.Trim(ev, " \t\r\n"))
		switch {
		case reason != "":
			out.rejected = append(out.rejected, Rejection{Index: i, Reason: reason})
		case !known && row == nil:
			// Could be either: give up on the whole body.
			return out, false
		default:
			out.rows = append(out.rows, row)
		}
	}
	return out, true
}

func maxNesting(b []byte) int {
	depth, most := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			depth++
			most = max(most, depth)
		case ']', '}':
			depth--
		}
	}
	return most
}

type oracleCol struct {
	rank  uint8
	dup   bool
	value json.RawMessage
}

// oracleEvent judges one valid JSON value as an event. known is false when it cannot tell
// whether the event is accepted.
func oracleEvent(d *dataset.Dataset, ev []byte) (row []any, reason string, known bool) {
	if ev[0] != '{' {
		return nil, reasonNotObject(ev[0]), true
	}
	cols := d.Columns()
	state := make([]oracleCol, len(cols))
	dec := json.NewDecoder(bytes.NewReader(ev))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		c, ok := d.Column(key)
		if !ok {
			continue
		}
		rank := rankFold
		if key == c.Name {
			rank = rankExact
		}
		st := &state[c.Index]
		switch {
		case rank > st.rank:
			*st = oracleCol{rank: rank, value: v}
		case rank == st.rank:
			st.dup = true
		}
	}
	row = make([]any, len(cols))
	known = true
	for i, c := range cols {
		st := state[i]
		var r string
		switch {
		case st.rank == rankNone:
			if c.Role == dataset.RoleTime {
				r = reasonMissingTime(c.Name)
			}
		case st.dup:
			r = reasonDuplicate(c.Name)
		default:
			var ok bool
			row[i], r, ok = oracleValue(c, st.value)
			known = known && ok
		}
		if r != "" {
			return nil, r, true
		}
	}
	if !known {
		return nil, "", false
	}
	return row, "", true
}

var (
	rfc3339RE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$`)
	numberRE  = regexp.MustCompile(`^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?(\d+))?$`)
)

// oracleTime parses s by the rules with time.Parse, after checking the strict shape
// time.Parse does not.
func oracleTime(s string) (time.Time, bool) {
	m := rfc3339RE.FindStringSubmatch(s)
	if m == nil || m[3] > "23" || m[4] > "59" {
		return time.Time{}, false
	}
	up := []byte(s)
	up[10] = 'T'
	if up[len(up)-1] == 'z' {
		up[len(up)-1] = 'Z'
	}
	t, err := time.Parse(time.RFC3339Nano, string(up))
	return t, err == nil
}

// oracleInt decides a JSON number for an int column with exact rational arithmetic. ok is
// false for exponents too large to compute with.
func oracleInt(num string) (v int64, p numProblem, ok bool) {
	m := numberRE.FindStringSubmatch(num)
	if m == nil {
		panic("not a JSON number: " + num)
	}
	if len(m[4]) > 4 {
		return 0, 0, false
	}
	r, okr := new(big.Rat).SetString(num)
	if !okr {
		panic("big.Rat refuses " + num)
	}
	switch {
	case !r.IsInt():
		return 0, numNotIntegral, true
	case !r.Num().IsInt64():
		return 0, numOutOfRange, true
	}
	return r.Num().Int64(), numOK, true
}

// oracleValue converts one raw JSON value for column c.
func oracleValue(c dataset.Column, raw json.RawMessage) (v any, reason string, ok bool) {
	switch raw[0] {
	case 'n':
		if c.Role == dataset.RoleTime {
			return nil, reasonMissingTime(c.Name), true
		}
		return nil, "", true
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			panic(err)
		}
		switch c.Type {
		case dataset.String:
			if !utf8.Valid(raw) {
				if len(raw) > MaxStringBytes {
					return nil, "", false
				}
				return nil, reasonUTF8(c.Name), true
			}
			if len(s) > MaxStringBytes {
				return nil, reasonStringSize(c.Name, len(s)), true
			}
			return s, "", true
		case dataset.Timestamp:
			if !utf8.Valid(raw) {
				// encoding/json has replaced the bad bytes, so only the decision is comparable.
				return nil, anyReason, true
			}
			t, okt := oracleTime(s)
			if !okt {
				return nil, reasonBadTime(c.Name, s), true
			}
			if y := t.UTC().Year(); y < 1970 || y > 9999 {
				return nil, reasonTimeRange(c.Name, s, true), true
			}
			return time.UnixMicro(t.UnixMicro()).UTC(), "", true
		}
		return nil, reasonType(c.Name, wantName(c.Type), "string"), true
	case 't', 'f':
		if c.Type == dataset.Bool {
			return raw[0] == 't', "", true
		}
		return nil, reasonType(c.Name, wantName(c.Type), "bool"), true
	case '{', '[':
		return nil, reasonType(c.Name, wantName(c.Type), kindAt(raw[0])), true
	}
	num := string(raw)
	switch c.Type {
	case dataset.Int:
		n, p, okn := oracleInt(num)
		switch {
		case !okn:
			return nil, "", false
		case p == numNotIntegral:
			return nil, reasonNotIntegral(c.Name, "int", num), true
		case p == numOutOfRange:
			return nil, reasonIntRange(c.Name, num), true
		}
		return n, "", true
	case dataset.Float:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return nil, reasonFloatRange(c.Name, num), true
		}
		return f, "", true
	case dataset.Timestamp:
		n, p, okn := oracleInt(num)
		switch {
		case !okn:
			return nil, "", false
		case p == numNotIntegral:
			return nil, reasonNotIntegral(c.Name, wantTime, num), true
		case p == numOutOfRange || n < 0 || n >= maxEpochMs:
			return nil, reasonTimeRange(c.Name, num, false), true
		}
		return time.UnixMilli(n).UTC(), "", true
	}
	return nil, reasonType(c.Name, wantName(c.Type), "number"), true
}

// FuzzRFC3339 checks the hand-written parser against time.Parse: it accepts exactly the
// strings of RFC 3339 shape that time.Parse accepts, and agrees on the instant.
func FuzzRFC3339(f *testing.F) {
	for _, s := range []string{
		"2026-11-22T10:00:00Z", "2026-11-22t10:00:00.123z", "2024-02-29T23:59:59.999999999+23:59",
		"1970-01-01T00:00:00-00:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.1-12:00",
		"2026-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00+24:00", "2026-11-22T1:00:00Z",
		"2026-11-22T10:00:00,5Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-22T10:60:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, us, ok := parseRFC3339(s)
		gt, gok := oracleTime(s)
		if ok != gok {
			t.Fatalf("parseRFC3339(%q) ok=%v, time.Parse ok=%v", s, ok, gok)
		}
		if ok && (sec != gt.Unix() || us != int64(gt.Nanosecond()/1000)) {
			t.Fatalf("parseRFC3339(%q) = %d s %d µs, time.Parse %v", s, sec, us, gt)
		}
		if bsec, bus, bok := parseRFC3339([]byte(s)); bsec != sec || bus != us || bok != ok {
			t.Fatalf("string and []byte forms differ")
		}
	})
}

// FuzzJSONInt checks exact integer conversion against math/big.
func FuzzJSONInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "1e3", "2.0", "1.5", "100e-2", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "1e19", "0.000e99", "123456789012345678901234567890e-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !numberRE.MatchString(s) {
			return
		}
		want, wantP, ok := oracleInt(s)
		if !ok {
			return
		}
		got, gotP := jsonInt([]byte(s))
		if got != want || gotP != wantP {
			t.Fatalf("jsonInt(%s) = %d, %d; math/big says %d, %d", s, got, gotP, want, wantP)
		}
	})
}
