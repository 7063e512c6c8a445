package decode

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting inside skipped values. It matches encoding/json so that both agree on
// which bodies are JSON; events are flat, so nothing legitimate comes near it.
const maxDepth = 10000

// syntaxError is a JSON grammar violation at a byte offset of the scanned input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg + " at byte " + strconv.Itoa(e.off) }

// scanner is a validating, allocation-free JSON tokenizer over one input. It never builds a
// tree: the decoder pulls keys and scalars from it and writes them straight into columns, and
// values nobody needs are skipped with a byte stack instead of recursion, so memory stays
// bounded however deep or wide a hostile body is.
type scanner struct {
	data  []byte
	pos   int
	err   *syntaxError
	stack []byte // open containers while skipping: '{' or '['
}

func (s *scanner) reset(data []byte) {
	s.data, s.pos, s.err, s.stack = data, 0, nil, s.stack[:0]
}

// fail records the first syntax error at the current position and returns false so callers can
// write `return s.fail(...)`.
func (s *scanner) fail(msg string) bool {
	if s.err == nil {
		s.err = &syntaxError{off: s.pos, msg: msg}
	}
	return false
}

// failChar reports the byte at the current position as unexpected in context, or the end of
// input when there is none.
func (s *scanner) failChar(context string) bool {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of JSON input")
	}
	return s.fail("invalid character " + quoteChar(s.data[s.pos]) + " " + context)
}

// quoteChar formats c as encoding/json does in its messages, so users see familiar wording.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at the current position, or 0 at the end of input (0 is never valid
// where a caller peeks, so it falls through to the error path).
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// plainStr marks bytes that need no attention inside a string literal.
var plainStr = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// readString scans the string literal at s.pos (which holds '"') and returns its raw contents
// between the quotes, and whether they hold escapes (then appendUnescaped gives the value).
func (s *scanner) readString() (raw []byte, escaped, ok bool) {
	data := s.data
	start := s.pos + 1
	i := start
	for {
		i = skipPlain(data, i)
		if i >= len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return data[start:i], escaped, true
		case c == '\\':
			escaped = true
			s.pos = i + 1
			if s.pos >= len(data) {
				return nil, false, s.failChar("")
			}
			switch data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for s.pos = i + 2; s.pos < i+6; s.pos++ {
					if s.pos >= len(data) || !isHex(data[s.pos]) {
						return nil, false, s.failChar(`in \u hexadecimal character escape`)
					}
				}
				i += 6
			default:
				return nil, false, s.failChar("in string escape code")
			}
		default: // a control character
			s.pos = i
			return nil, false, s.failChar("in string literal")
		}
	}
	s.pos = len(data)
	return nil, false, s.failChar("")
}

// skipPlain returns the index of the first quote, backslash or control character in data at or
// after i, or len(data). It reads eight bytes at a time: most strings are plain.
func skipPlain(data []byte, i int) int {
	for i+8 <= len(data) {
		w := binary.LittleEndian.Uint64(data[i:])
		if m := hasLess(w, 0x20) | hasZero(w^(lsb*'"')) | hasZero(w^(lsb*'\\')); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(data) && plainStr[data[i]] {
		i++
	}
	return i
}

// SWAR helpers over 8 bytes in a uint64 (little-endian: byte 0 is the low byte). Each is
// non-zero exactly when some byte qualifies; a borrow can also flag bytes above a qualifying
// one, never below, so the lowest flag is exact.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func hasZero(w uint64) uint64 { return (w - lsb) &^ w & msb }

// hasLess reports bytes below n, for n <= 128.
func hasLess(w uint64, n byte) uint64 { return (w - lsb*uint64(n)) &^ w & msb }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendUnescaped appends the value of a validated raw string literal to dst. Invalid UTF-16
// surrogates become U+FFFD, as encoding/json does.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		c := raw[i+1]
		i += 2
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 = hex4(raw[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					r = dec
					i += 6
				} else {
					r = unicode.ReplacementChar
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

// hex4 decodes four validated hex digits.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// readNumber scans the number literal at s.pos and returns its text.
func (s *scanner) readNumber() ([]byte, bool) {
	data := s.data
	start := s.pos
	i := start
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i++; i < len(data) && isDigit(data[i]); i++ {
		}
	default:
		s.pos = i
		return nil, s.failChar("in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			s.pos = i
			return nil, s.failChar("after decimal point in numeric literal")
		}
		for i++; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			s.pos = i
			return nil, s.failChar("in exponent of numeric literal")
		}
		for i++; i < len(data) && isDigit(data[i]); i++ {
		}
	}
	s.pos = i
	return data[start:i], true
}

// readLiteral scans true, false or null (lit) at s.pos.
func (s *scanner) readLiteral(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if s.pos >= len(s.data) || s.data[s.pos] != lit[i] {
			return s.failChar("in literal " + lit + " (expecting " + quoteChar(lit[i]) + ")")
		}
		s.pos++
	}
	return true
}

// skipValue validates and steps over the value at s.pos.
func (s *scanner) skipValue() bool {
	base := len(s.stack)
	for {
		// One value, or the opening of a container.
		switch c := s.peek(); c {
		case '{', '[':
			if len(s.stack)-base >= maxDepth {
				return s.fail("exceeded max depth")
			}
			s.stack = append(s.stack, c)
			s.pos++
			s.skipWS()
			if c == '{' && s.peek() == '}' || c == '[' && s.peek() == ']' {
				s.pos++
				s.stack = s.stack[:len(s.stack)-1]
				break
			}
			if c == '{' && !s.objectKey() {
				return false
			}
			continue
		case '"':
			if _, _, ok := s.readString(); !ok {
				return false
			}
		case 't':
			if !s.readLiteral("true") {
				return false
			}
		case 'f':
			if !s.readLiteral("false") {
				return false
			}
		case 'n':
			if !s.readLiteral("null") {
				return false
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if _, ok := s.readNumber(); !ok {
				return false
			}
		default:
			return s.failChar("looking for beginning of value")
		}
		// After a complete value: close containers until one continues with a comma.
		for {
			if len(s.stack) == base {
				return true
			}
			s.skipWS()
			top := s.stack[len(s.stack)-1]
			c := s.peek()
			if c == ',' {
				s.pos++
				s.skipWS()
				if top == '{' && !s.objectKey() {
					return false
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				s.pos++
				s.stack = s.stack[:len(s.stack)-1]
				continue
			}
			if top == '{' {
				return s.failChar("after object key:value pair")
			}
			return s.failChar("after array element")
		}
	}
}

// objectKey steps over `"key" :` and the whitespace after it.
func (s *scanner) objectKey() bool {
	if s.peek() != '"' {
		return s.failChar("looking for beginning of object key string")
	}
	if _, _, ok := s.readString(); !ok {
		return false
	}
	s.skipWS()
	if s.peek() != ':' {
		return s.failChar("after object key")
	}
	s.pos++
	s.skipWS()
	return true
}

// kindAt names the JSON type of the value starting with c, for messages.
func kindAt(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}
