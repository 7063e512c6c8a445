package clickhouse

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ClickHouse/ch-go/proto"
)

// scanAttrs is parseAttrs for the attribute objects otelrows writes (appendMap: no spaces,
// keys and strings escaped by appendString, numbers by strconv), without encoding/json: its
// tokenizer was a third of olapgate's CPU on the ClickHouse write path (BENCHMARKS.md,
// chsink). Keys and unescaped strings are slices of text, not copies: the ch-go columns copy
// them when appended. It reports false, having appended nothing, on anything it does not
// expect (whitespace, a malformed number or string), for encoding/json to read or refuse;
// TestScanAttrs and FuzzScanAttrs hold it to parseAttrsJSON's answers.
func scanAttrs(dst kvs, text string) (kvs, bool) {
	n := len(dst)
	if len(text) < 2 || text[0] != '{' {
		return dst, false
	}
	for i := 1; ; {
		key, next, ok := scanString(text, i)
		if !ok || next >= len(text) || text[next] != ':' {
			return dst[:n], false
		}
		var v string
		if v, i, ok = scanValue(text, next+1); !ok || i >= len(text) {
			return dst[:n], false
		}
		dst = append(dst, proto.KV[string, string]{Key: key, Value: v})
		switch text[i] {
		case ',':
			i++
		case '}':
			if i != len(text)-1 {
				return dst[:n], false
			}
			return dst, true
		default:
			return dst[:n], false
		}
	}
}

// scanString reads the JSON string at text[i]: its value and the index after it.
func scanString(text string, i int) (string, int, bool) {
	if i >= len(text) || text[i] != '"' {
		return "", i, false
	}
	escaped := false
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; {
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return "", i, false
		case c == '"':
			if !escaped {
				// encoding/json would replace invalid UTF-8 (otelrows writes none)
				if sub := text[i+1 : j]; utf8.ValidString(sub) {
					return sub, j + 1, true
				}
				return "", i, false
			}
			var s string // escapes are rare: encoding/json knows them all (\u surrogates, \/)
			if err := json.Unmarshal([]byte(text[i:j+1]), &s); err != nil {
				return "", i, false
			}
			return s, j + 1, true
		}
	}
	return "", i, false
}

// scanValue reads the value at text[i] as attrString would make it: a string unescaped, null
// empty, true, false, objects and arrays as their text, numbers as pdata's AsString writes them.
func scanValue(text string, i int) (string, int, bool) {
	if i >= len(text) {
		return "", i, false
	}
	switch c := text[i]; {
	case c == '"':
		return scanString(text, i)
	case c == 'n' || c == 't' || c == 'f':
		for _, lit := range [...]string{"null", "true", "false"} {
			if strings.HasPrefix(text[i:], lit) {
				if lit == "null" {
					return "", i + 4, true
				}
				return lit, i + len(lit), true
			}
		}
	case c == '{' || c == '[':
		// Kept as text, as attrString keeps it; checked as encoding/json would (maps and
		// slices are rare attribute values).
		end, ok := scanNested(text, i)
		return text[i:end], end, ok && json.Valid([]byte(text[i:end]))
	case c == '-' || c >= '0' && c <= '9':
		j := i
		frac := false
		for j < len(text) && strings.IndexByte("0123456789+-.eE", text[j]) >= 0 {
			frac = frac || text[j] == '.' || text[j] == 'e' || text[j] == 'E'
			j++
		}
		raw := text[i:j]
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || !validJSONNumber(raw) {
			return "", i, false
		}
		if !frac {
			return raw, j, true // an integer, as AsString writes it
		}
		return formatDouble(f), j, true
	}
	return "", i, false
}

// validJSONNumber: strconv accepts forms JSON does not (leading zeros, "+1", "1.", ".5").
func validJSONNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == '0' && len(s) > 1 && s[1] >= '0' && s[1] <= '9' || s[0] < '0' || s[0] > '9' {
		return false
	}
	if k := strings.IndexByte(s, '.'); k >= 0 && (k+1 >= len(s) || s[k+1] < '0' || s[k+1] > '9') {
		return false
	}
	return true
}

// scanNested returns the index after the object or array at text[i], its brackets balanced
// outside strings.
func scanNested(text string, i int) (int, bool) {
	depth := 0
	for j := i; j < len(text); j++ {
		switch text[j] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		case '"':
			_, next, ok := scanString(text, j)
			if !ok {
				return i, false
			}
			j = next - 1
		}
	}
	return i, false
}
