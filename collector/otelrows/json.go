package otelrows

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The attribute columns hold JSON written here rather than through AsRaw and encoding/json:
// AsRaw builds a Go map per attribute set (and json.Marshal then sorts its keys), which costs
// more than the rest of a span's conversion. Keys keep their OTLP order.

// maxJSONDepth bounds nesting of map and array values; deeper values are written as null so a
// hostile payload cannot make the encoder recurse without bound (pdata's decoder already
// bounds its own recursion, but a bound here does not depend on that).
const maxJSONDepth = 64

// appendMap appends m as a JSON object.
func appendMap(buf []byte, m pcommon.Map) []byte {
	return appendMapDepth(buf, m, 0)
}

func appendMapDepth(buf []byte, m pcommon.Map, depth int) []byte {
	buf = append(buf, '{')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = appendValue(buf, v, depth+1)
		return true
	})
	return append(buf, '}')
}

// appendValue appends v as JSON: strings, integers, booleans as such; doubles as numbers except
// NaN and ±Inf, which JSON cannot spell and become the strings "NaN", "+Inf", "-Inf"; bytes as
// base64 strings (as encoding/json writes []byte); empty values as null.
func appendValue(buf []byte, v pcommon.Value, depth int) []byte {
	if depth > maxJSONDepth {
		return append(buf, "null"...)
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(buf, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendFloat(buf, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(buf, v.Bool())
	case pcommon.ValueTypeBytes:
		raw := v.Bytes().AsRaw()
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, raw)
		return append(buf, '"')
	case pcommon.ValueTypeMap:
		return appendMapDepth(buf, v.Map(), depth)
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		buf = append(buf, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, s.At(i), depth+1)
		}
		return append(buf, ']')
	}
	return append(buf, "null"...)
}

func appendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(buf, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Inf"`...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, so the column always
// holds valid JSON whatever a client sent (OTLP protobuf strings should be UTF-8, but pdata's
// decoder does not check).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendTime appends t as a JSON string, RFC 3339 with nanoseconds, UTC.
func appendTime(buf []byte, ts pcommon.Timestamp) []byte {
	buf = append(buf, '"')
	buf = time.Unix(0, int64(ts)).UTC().AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

func appendUint64s(buf []byte, s pcommon.UInt64Slice) []byte {
	buf = append(buf, '[')
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendUint(buf, s.At(i), 10)
	}
	return append(buf, ']')
}

func appendFloat64s(buf []byte, s pcommon.Float64Slice) []byte {
	buf = append(buf, '[')
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendFloat(buf, s.At(i))
	}
	return append(buf, ']')
}
