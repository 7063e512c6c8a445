package telemetry

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// GetTrace turns thousands of attribute columns (JSON text) into google.protobuf.Struct values;
// protojson spent half of a 1,000-span, 5,000-log GetTrace doing that, so this small parser
// builds the Struct directly. It accepts exactly JSON (RFC 8259) and reports failure with ok
// false; callers then leave the attributes out rather than fail the answer.

type jsonParser struct {
	s     string
	i     int
	depth int
}

const maxParseDepth = 128

// parseJSONObject parses s, a JSON object.
func parseJSONObject(s string) (*structpb.Struct, bool) {
	p := jsonParser{s: s}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, false
	}
	st, ok := p.object()
	if !ok {
		return nil, false
	}
	p.space()
	return st, p.i == len(p.s)
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) object() (*structpb.Struct, bool) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxParseDepth {
		return nil, false
	}
	p.i++ // '{'
	st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return st, true
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		st.Fields[k] = v
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return st, true
		default:
			return nil, false
		}
	}
}

func (p *jsonParser) value() (*structpb.Value, bool) {
	p.space()
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		st, ok := p.object()
		if !ok {
			return nil, false
		}
		return structpb.NewStructValue(st), true
	case c == '[':
		return p.array()
	case c == '"':
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		return structpb.NewStringValue(s), true
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return structpb.NewBoolValue(true), true
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return structpb.NewBoolValue(false), true
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return structpb.NewNullValue(), true
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *jsonParser) array() (*structpb.Value, bool) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxParseDepth {
		return nil, false
	}
	p.i++ // '['
	list := &structpb.ListValue{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return structpb.NewListValue(list), true
	}
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		list.Values = append(list.Values, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return structpb.NewListValue(list), true
		default:
			return nil, false
		}
	}
}

// number scans a JSON number (the grammar, not just what ParseFloat takes).
func (p *jsonParser) number() (*structpb.Value, bool) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 || (p.s[intStart] == '0' && p.i-intStart > 1) {
		return nil, false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, false
	}
	return structpb.NewNumberValue(f), true
}

// str scans a JSON string starting at its opening quote.
func (p *jsonParser) str() (string, bool) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return s, true
		}
		if c == '\\' {
			return p.strSlow(start)
		}
		if c < 0x20 {
			return "", false
		}
		p.i++
	}
	return "", false
}

func (p *jsonParser) strSlow(start int) (string, bool) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", false
		}
		esc := p.s[p.i+1]
		p.i += 2
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", false
					}
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}
