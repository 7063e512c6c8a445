package decode

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// testDataset has one column of every type; "Country" is declared with a capital so that
// case-insensitive matching has something to do. Columns: time s b ts Country i f.
func testDataset(tb testing.TB) *dataset.Dataset {
	tb.Helper()
	d := &dataset.Dataset{
		Name:       "t",
		TimeColumn: "time",
		Dimensions: []dataset.Field{
			{Name: "s", Type: dataset.String}, {Name: "b", Type: dataset.Bool},
			{Name: "ts", Type: dataset.Timestamp}, {Name: "Country", Type: dataset.String},
		},
		Metrics: []dataset.Field{{Name: "i", Type: dataset.Int}, {Name: "f", Type: dataset.Float}},
	}
	if err := d.Validate(); err != nil {
		tb.Fatal(err)
	}
	return d
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// T is the time every case without its own carries.
const T = `"time":"2026-11-22T10:00:00Z"`

var t0 = utc("2026-11-22T10:00:00Z")

// fieldCase is one event and what it must become: a row whose listed columns hold want
// (nil = null), or a rejection with exactly reason.
type fieldCase struct {
	name   string
	event  string
	want   map[string]any
	reason string
	// jsonOnly marks events structpb cannot carry: numbers beyond float64, duplicate keys,
	// invalid UTF-8 or UTF-16.
	jsonOnly bool
	// structReason, when set, is the reason for Structs, which echo a float64, not the literal.
	structReason string
}

var fieldCases = []fieldCase{
	// Time column: accepted forms.
	{name: "time/rfc3339 Z", event: `{` + T + `}`, want: map[string]any{"time": t0}},
	{name: "time/positive offset", event: `{"time":"2026-11-22T11:30:00+01:30"}`, want: map[string]any{"time": t0}},
	{name: "time/negative offset", event: `{"time":"2026-11-22T05:00:00-05:00"}`, want: map[string]any{"time": t0}},
	{name: "time/-00:00", event: `{"time":"2026-11-22T10:00:00-00:00"}`, want: map[string]any{"time": t0}},
	{name: "time/lower-case t and z", event: `{"time":"2026-11-22t10:00:00z"}`, want: map[string]any{"time": t0}},
	{name: "time/milliseconds", event: `{"time":"2026-11-22T10:00:00.123Z"}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.123Z")}},
	{name: "time/microseconds", event: `{"time":"2026-11-22T10:00:00.123456Z"}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.123456Z")}},
	{name: "time/nanoseconds truncated", event: `{"time":"2026-11-22T10:00:00.123456789Z"}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.123456Z")}},
	{name: "time/long fraction truncated", event: `{"time":"2026-11-22T10:00:00.9999999999999Z"}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.999999Z")}},
	{name: "time/one fraction digit", event: `{"time":"2026-11-22T10:00:00.5+00:00"}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.5Z")}},
	{name: "time/leap day", event: `{"time":"2024-02-29T23:59:59Z"}`, want: map[string]any{"time": utc("2024-02-29T23:59:59Z")}},
	{name: "time/first instant", event: `{"time":"1970-01-01T00:00:00Z"}`, want: map[string]any{"time": time.Unix(0, 0).UTC()}},
	{name: "time/last instant", event: `{"time":"9999-12-31T23:59:59.999999Z"}`, want: map[string]any{"time": utc("9999-12-31T23:59:59.999999Z")}},
	{name: "time/offset keeps year in range", event: `{"time":"1970-01-01T00:30:00-01:00"}`, want: map[string]any{"time": utc("1970-01-01T01:30:00Z")}},
	{name: "time/epoch ms", event: `{"time":1795341600000}`, want: map[string]any{"time": t0}},
	{name: "time/epoch ms with ms", event: `{"time":1795341600123}`, want: map[string]any{"time": utc("2026-11-22T10:00:00.123Z")}},
	{name: "time/epoch ms zero", event: `{"time":0}`, want: map[string]any{"time": time.Unix(0, 0).UTC()}},
	{name: "time/epoch ms exponent form", event: `{"time":1.7953416e12}`, want: map[string]any{"time": t0}},
	{name: "time/epoch ms last", event: `{"time":253402300799999}`, want: map[string]any{"time": utc("9999-12-31T23:59:59.999Z")}},
	{name: "time/escaped string", event: `{"time":"2026-11-22T10:00:00\u005a"}`, want: map[string]any{"time": t0}},
	{name: "time/case-insensitive key", event: `{"TIME":"2026-11-22T10:00:00Z"}`, want: map[string]any{"time": t0}},

	// Time column: refusals.
	{name: "time/missing", event: `{"s":"x"}`, reason: `field "time": missing; the time column is required`},
	{name: "time/null", event: `{"time":null}`, reason: `field "time": missing; the time column is required`},
	{name: "time/empty object", event: `{}`, reason: `field "time": missing; the time column is required`},
	{name: "time/bool", event: `{"time":true}`, reason: `field "time": expected RFC 3339 string or epoch milliseconds, got bool`},
	{name: "time/object", event: `{"time":{"at":1}}`, reason: `field "time": expected RFC 3339 string or epoch milliseconds, got object`},
	{name: "time/array", event: `{"time":[1795341600000]}`, reason: `field "time": expected RFC 3339 string or epoch milliseconds, got array`},
	{name: "time/not a time", event: `{"time":"yesterday"}`, reason: `field "time": "yesterday" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/no offset", event: `{"time":"2026-11-22T10:00:00"}`, reason: `field "time": "2026-11-22T10:00:00" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/date only", event: `{"time":"2026-11-22"}`, reason: `field "time": "2026-11-22" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/space separator", event: `{"time":"2026-11-22 10:00:00Z"}`, reason: `field "time": "2026-11-22 10:00:00Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/comma fraction", event: `{"time":"2026-11-22T10:00:00,5Z"}`, reason: `field "time": "2026-11-22T10:00:00,5Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/empty fraction", event: `{"time":"2026-11-22T10:00:00.Z"}`, reason: `field "time": "2026-11-22T10:00:00.Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/hour 24", event: `{"time":"2026-11-22T24:00:00Z"}`, reason: `field "time": "2026-11-22T24:00:00Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/second 60", event: `{"time":"2026-11-22T23:59:60Z"}`, reason: `field "time": "2026-11-22T23:59:60Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/offset +24:00", event: `{"time":"2026-11-22T10:00:00+24:00"}`, reason: `field "time": "2026-11-22T10:00:00+24:00" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/offset without colon", event: `{"time":"2026-11-22T10:00:00+0100"}`, reason: `field "time": "2026-11-22T10:00:00+0100" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/no leap day", event: `{"time":"2026-02-29T10:00:00Z"}`, reason: `field "time": "2026-02-29T10:00:00Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/day 31 of a 30-day month", event: `{"time":"2026-11-31T10:00:00Z"}`, reason: `field "time": "2026-11-31T10:00:00Z" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/ms as string", event: `{"time":"1795341600000"}`, reason: `field "time": "1795341600000" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/long value echoed short", event: `{"time":"` + strings.Repeat("x", 100) + `"}`, reason: `field "time": "` + strings.Repeat("x", 40) + `…" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "time/before 1970", event: `{"time":"1969-12-31T23:59:59.999Z"}`, reason: `field "time": "1969-12-31T23:59:59.999Z" is outside years 1970..9999`},
	{name: "time/before 1970 by offset", event: `{"time":"1970-01-01T00:30:00+01:00"}`, reason: `field "time": "1970-01-01T00:30:00+01:00" is outside years 1970..9999`},
	{name: "time/after 9999 by offset", event: `{"time":"9999-12-31T23:30:00-01:00"}`, reason: `field "time": "9999-12-31T23:30:00-01:00" is outside years 1970..9999`},
	{name: "time/out of range echoed short", event: `{"time":"1969-12-31T23:59:59.` + strings.Repeat("0", 100) + `Z"}`, reason: `field "time": "1969-12-31T23:59:59.00000000000000000000…" is outside years 1970..9999`},
	{name: "time/year 0000", event: `{"time":"0000-01-01T00:00:00Z"}`, reason: `field "time": "0000-01-01T00:00:00Z" is outside years 1970..9999`},
	{name: "time/epoch ms negative", event: `{"time":-1}`, reason: `field "time": -1 is outside years 1970..9999`},
	{name: "time/epoch ms year 10000", event: `{"time":253402300800000}`, reason: `field "time": 253402300800000 is outside years 1970..9999`},
	{name: "time/epoch ms beyond int64", event: `{"time":1e30}`, reason: `field "time": 1e30 is outside years 1970..9999`,
		structReason: `field "time": 1e+30 is outside years 1970..9999`},
	{name: "time/epoch ms fraction", event: `{"time":1795341600000.5}`, reason: `field "time": expected RFC 3339 string or epoch milliseconds, got non-integral number 1795341600000.5`},

	// timestamp dimensions.
	{name: "timestamp/rfc3339", event: `{` + T + `,"ts":"2026-11-22T11:00:00+01:00"}`, want: map[string]any{"ts": t0}},
	{name: "timestamp/epoch ms", event: `{` + T + `,"ts":1795341600000}`, want: map[string]any{"ts": t0}},
	{name: "timestamp/null", event: `{` + T + `,"ts":null}`, want: map[string]any{"ts": nil}},
	{name: "timestamp/missing", event: `{` + T + `}`, want: map[string]any{"ts": nil}},
	{name: "timestamp/bool", event: `{` + T + `,"ts":false}`, reason: `field "ts": expected RFC 3339 string or epoch milliseconds, got bool`},
	{name: "timestamp/bad string", event: `{` + T + `,"ts":"now"}`, reason: `field "ts": "now" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`},
	{name: "timestamp/out of range", event: `{` + T + `,"ts":-5}`, reason: `field "ts": -5 is outside years 1970..9999`},

	// string.
	{name: "string/plain", event: `{` + T + `,"s":"hello"}`, want: map[string]any{"s": "hello"}},
	{name: "string/empty", event: `{` + T + `,"s":""}`, want: map[string]any{"s": ""}},
	{name: "string/utf-8", event: `{` + T + `,"s":"héllo, 世界 😀"}`, want: map[string]any{"s": "héllo, 世界 😀"}},
	{name: "string/escapes", event: `{` + T + `,"s":"q\"b\\s\/n\nt\tr\rb\bf\fu\u00e9\ud83d\ude00"}`, want: map[string]any{"s": "q\"b\\s/n\nt\tr\rb\bf\fué😀"}},
	{name: "string/lone surrogate", event: `{` + T + `,"s":"a\ud800b"}`, want: map[string]any{"s": "a\ufffdb"}, jsonOnly: true},
	{name: "string/longer than a word", event: `{` + T + `,"s":"abcdefghijklmnopqrstuvwxyz0123456789"}`, want: map[string]any{"s": "abcdefghijklmnopqrstuvwxyz0123456789"}},
	{name: "string/at the limit", event: `{` + T + `,"s":"` + strings.Repeat("x", MaxStringBytes) + `"}`, want: map[string]any{"s": strings.Repeat("x", MaxStringBytes)}},
	{name: "string/limit counts unescaped bytes", event: `{` + T + `,"s":"` + strings.Repeat(`\u00e9`, MaxStringBytes/2) + `"}`, want: map[string]any{"s": strings.Repeat("é", MaxStringBytes/2)}},
	{name: "string/over the limit", event: `{` + T + `,"s":"` + strings.Repeat("x", MaxStringBytes+1) + `"}`, reason: `field "s": string of 65537 bytes is over the limit of 65536 bytes`},
	{name: "string/invalid utf-8", event: `{` + T + `,"s":"a` + "\xff" + `b"}`, reason: `field "s": string is not valid UTF-8`, jsonOnly: true},
	{name: "string/number", event: `{` + T + `,"s":12}`, reason: `field "s": expected string, got number`},
	{name: "string/bool", event: `{` + T + `,"s":true}`, reason: `field "s": expected string, got bool`},
	{name: "string/object", event: `{` + T + `,"s":{}}`, reason: `field "s": expected string, got object`},
	{name: "string/array", event: `{` + T + `,"s":["a"]}`, reason: `field "s": expected string, got array`},
	{name: "string/null", event: `{` + T + `,"s":null}`, want: map[string]any{"s": nil}},

	// int.
	{name: "int/plain", event: `{` + T + `,"i":42}`, want: map[string]any{"i": int64(42)}},
	{name: "int/negative", event: `{` + T + `,"i":-7}`, want: map[string]any{"i": int64(-7)}},
	{name: "int/negative zero", event: `{` + T + `,"i":-0}`, want: map[string]any{"i": int64(0)}},
	{name: "int/exponent", event: `{` + T + `,"i":1e3}`, want: map[string]any{"i": int64(1000)}},
	{name: "int/capital exponent", event: `{` + T + `,"i":25E+2}`, want: map[string]any{"i": int64(2500)}},
	{name: "int/integral fraction", event: `{` + T + `,"i":2.0}`, want: map[string]any{"i": int64(2)}},
	{name: "int/fraction and exponent", event: `{` + T + `,"i":1.5e1}`, want: map[string]any{"i": int64(15)}},
	{name: "int/negative exponent", event: `{` + T + `,"i":100e-2}`, want: map[string]any{"i": int64(1)}},
	{name: "int/zero with exponent", event: `{` + T + `,"i":0.0e999999999999}`, want: map[string]any{"i": int64(0)}},
	{name: "int/max", event: `{` + T + `,"i":9223372036854775807}`, want: map[string]any{"i": int64(math.MaxInt64)}, jsonOnly: true},
	{name: "int/min", event: `{` + T + `,"i":-9223372036854775808}`, want: map[string]any{"i": int64(math.MinInt64)}, jsonOnly: true},
	{name: "int/beyond float64 precision", event: `{` + T + `,"i":9007199254740993}`, want: map[string]any{"i": int64(9007199254740993)}, jsonOnly: true},
	{name: "int/null", event: `{` + T + `,"i":null}`, want: map[string]any{"i": nil}},
	{name: "int/fraction", event: `{` + T + `,"i":1.5}`, reason: `field "i": expected int, got non-integral number 1.5`},
	{name: "int/small fraction", event: `{` + T + `,"i":1e-3}`, reason: `field "i": expected int, got non-integral number 1e-3`,
		structReason: `field "i": expected int, got non-integral number 0.001`},
	{name: "int/too large", event: `{` + T + `,"i":1e30}`, reason: `field "i": number 1e30 is out of range for int (64-bit)`,
		structReason: `field "i": number 1e+30 is out of range for int (64-bit)`},
	{name: "int/max+1", event: `{` + T + `,"i":9223372036854775808}`, reason: `field "i": number 9223372036854775808 is out of range for int (64-bit)`, jsonOnly: true},
	{name: "int/min-1", event: `{` + T + `,"i":-9223372036854775809}`, reason: `field "i": number -9223372036854775809 is out of range for int (64-bit)`, jsonOnly: true},
	{name: "int/string", event: `{` + T + `,"i":"12"}`, reason: `field "i": expected int, got string`},
	{name: "int/bool", event: `{` + T + `,"i":false}`, reason: `field "i": expected int, got bool`},
	{name: "int/object", event: `{` + T + `,"i":{"v":1}}`, reason: `field "i": expected int, got object`},
	{name: "int/array", event: `{` + T + `,"i":[1]}`, reason: `field "i": expected int, got array`},

	// float.
	{name: "float/fraction", event: `{` + T + `,"f":1.5}`, want: map[string]any{"f": 1.5}},
	{name: "float/integer", event: `{` + T + `,"f":-2}`, want: map[string]any{"f": -2.0}},
	{name: "float/exponent", event: `{` + T + `,"f":1e300}`, want: map[string]any{"f": 1e300}},
	{name: "float/tenth", event: `{` + T + `,"f":0.1}`, want: map[string]any{"f": 0.1}},
	{name: "float/null", event: `{` + T + `,"f":null}`, want: map[string]any{"f": nil}},
	{name: "float/out of range", event: `{` + T + `,"f":1e400}`, reason: `field "f": number 1e400 is out of range for float (64-bit)`, jsonOnly: true},
	{name: "float/string", event: `{` + T + `,"f":"1.5"}`, reason: `field "f": expected float, got string`},
	{name: "float/bool", event: `{` + T + `,"f":true}`, reason: `field "f": expected float, got bool`},
	{name: "float/array", event: `{` + T + `,"f":[]}`, reason: `field "f": expected float, got array`},

	// bool.
	{name: "bool/true", event: `{` + T + `,"b":true}`, want: map[string]any{"b": true}},
	{name: "bool/false", event: `{` + T + `,"b":false}`, want: map[string]any{"b": false}},
	{name: "bool/null", event: `{` + T + `,"b":null}`, want: map[string]any{"b": nil}},
	{name: "bool/string", event: `{` + T + `,"b":"true"}`, reason: `field "b": expected bool, got string`},
	{name: "bool/number", event: `{` + T + `,"b":1}`, reason: `field "b": expected bool, got number`},
	{name: "bool/object", event: `{` + T + `,"b":{}}`, reason: `field "b": expected bool, got object`},

	// Missing fields, names, unknown fields.
	{name: "names/missing are null", event: `{` + T + `}`, want: map[string]any{"s": nil, "b": nil, "ts": nil, "Country": nil, "i": nil, "f": nil}},
	{name: "names/case-insensitive", event: `{"Time":"2026-11-22T10:00:00Z","S":"x","B":true,"TS":0,"COUNTRY":"US","I":1,"F":2}`,
		want: map[string]any{"time": t0, "s": "x", "b": true, "ts": time.Unix(0, 0).UTC(), "Country": "US", "i": int64(1), "f": 2.0}},
	{name: "names/exact wins, exact first", event: `{` + T + `,"Country":"exact","country":"folded"}`, want: map[string]any{"Country": "exact"}},
	{name: "names/exact wins, exact last", event: `{` + T + `,"country":"folded","Country":"exact"}`, want: map[string]any{"Country": "exact"}},
	{name: "names/exact wins over a bad folded value", event: `{` + T + `,"COUNTRY":1,"Country":"exact"}`, want: map[string]any{"Country": "exact"}},
	{name: "names/exact null wins over folded value", event: `{` + T + `,"COUNTRY":"x","Country":null}`, want: map[string]any{"Country": nil}},
	{name: "names/escaped key", event: `{` + T + `,"\u0073":"x"}`, want: map[string]any{"s": "x"}},
	{name: "names/unknown ignored", event: `{` + T + `,"extra":{"nested":[1,2.5,{"a":null,"b":[true,false]}]},"zzz":"x","s":"kept","n":-1e5}`, want: map[string]any{"s": "kept"}},
	{name: "names/unknown with bad value ignored", event: `{` + T + `,"extra":"` + strings.Repeat("x", MaxStringBytes+1) + `"}`, want: map[string]any{"s": nil}},
	{name: "names/very long unknown key", event: `{` + T + `,"` + strings.Repeat("S", 100000) + `":1,"s":"x"}`, want: map[string]any{"s": "x"}},
	{name: "names/whitespace", event: " {\t\"time\" :\r \"2026-11-22T10:00:00Z\" , \"s\"\t:\t\"x\"\r}\t", want: map[string]any{"time": t0, "s": "x"}},
	{name: "names/same key twice", event: `{` + T + `,"s":"a","s":"b"}`, reason: `field "s": given more than once`, jsonOnly: true},
	{name: "names/same key twice, null", event: `{` + T + `,"s":null,"s":"b"}`, reason: `field "s": given more than once`, jsonOnly: true},
	{name: "names/time twice", event: `{` + T + `,` + T + `}`, reason: `field "time": given more than once`, jsonOnly: true},
	{name: "names/two folded keys", event: `{` + T + `,"COUNTRY":"a","country":"b"}`, reason: `field "Country": given more than once`},
	{name: "names/two folded keys then exact", event: `{` + T + `,"COUNTRY":"a","country":"b","Country":"c"}`, want: map[string]any{"Country": "c"}},

	// Several problems: the first column in table order is reported.
	{name: "order/first column wins", event: `{` + T + `,"i":"x","s":1}`, reason: `field "s": expected string, got number`},
	{name: "order/missing time first", event: `{"f":"x","s":1}`, reason: `field "time": missing; the time column is required`},
	{name: "order/bad time first", event: `{"f":"x","time":true}`, reason: `field "time": expected RFC 3339 string or epoch milliseconds, got bool`},
}

// structOf converts a JSON object to the structpb a gRPC client would send.
func structOf(tb testing.TB, event string) *structpb.Struct {
	tb.Helper()
	var s structpb.Struct
	if err := protojson.Unmarshal([]byte(event), &s); err != nil {
		tb.Fatalf("structpb from %.100s: %v", event, err)
	}
	return &s
}

// form is one way of sending a body: as a JSON array, as NDJSON, or as gRPC structs.
type form struct {
	name   string
	decode func(tb testing.TB, d *dataset.Dataset, events []string, indexBase int, lim Limits) (*store.Batch, []Rejection, error)
}

var forms = []form{
	{"array", func(_ testing.TB, d *dataset.Dataset, events []string, base int, lim Limits) (*store.Batch, []Rejection, error) {
		return JSON(d, []byte("["+strings.Join(events, ",")+"]"), FormatArray, base, lim)
	}},
	{"ndjson", func(_ testing.TB, d *dataset.Dataset, events []string, base int, lim Limits) (*store.Batch, []Rejection, error) {
		return JSON(d, []byte(strings.Join(events, "\n")+"\n"), FormatNDJSON, base, lim)
	}},
	{"structs", func(tb testing.TB, d *dataset.Dataset, events []string, base int, lim Limits) (*store.Batch, []Rejection, error) {
		sts := make([]*structpb.Struct, len(events))
		for i, e := range events {
			if e != "null" {
				sts[i] = structOf(tb, e)
			}
		}
		return Structs(d, sts, base, lim)
	}},
}

func TestFields(t *testing.T) {
	d := testDataset(t)
	for _, tc := range fieldCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range forms {
				if tc.jsonOnly && f.name == "structs" {
					continue
				}
				t.Run(f.name, func(t *testing.T) {
					b, rej, err := f.decode(t, d, []string{tc.event}, 0, Limits{})
					if err != nil {
						t.Fatalf("error %v", err)
					}
					checkBatch(t, b)
					if tc.reason != "" {
						want := tc.reason
						if f.name == "structs" && tc.structReason != "" {
							want = tc.structReason
						}
						if b.N != 0 || len(rej) != 1 || rej[0].Index != 0 || rej[0].Reason != want {
							t.Fatalf("got %d rows, rejections %+v\nwant rejection %q", b.N, rej, want)
						}
						return
					}
					if b.N != 1 || len(rej) != 0 {
						t.Fatalf("got %d rows, rejections %+v; want one row", b.N, rej)
					}
					for name, want := range tc.want {
						c, ok := d.Column(name)
						if !ok {
							t.Fatalf("no column %s", name)
						}
						if got := b.Cols[c.Index].Value(0); !equalValue(got, want) {
							t.Errorf("%s = %#v, want %#v", name, got, want)
						}
					}
				})
			}
		})
	}
}

func equalValue(got, want any) bool {
	if gt, ok := got.(time.Time); ok {
		wt, ok := want.(time.Time)
		return ok && gt.Equal(wt)
	}
	return reflect.DeepEqual(got, want)
}

// checkBatch asserts the store.Batch invariants every decoder output must keep.
func checkBatch(tb testing.TB, b *store.Batch) {
	tb.Helper()
	if b == nil {
		tb.Fatal("nil batch")
	}
	if len(b.Cols) != len(b.Dataset.Columns()) {
		tb.Fatalf("%d columns, dataset has %d", len(b.Cols), len(b.Dataset.Columns()))
	}
	for i, c := range b.Cols {
		col := b.Dataset.Columns()[i]
		if c.Type != col.Type {
			tb.Fatalf("column %s: type %s, want %s", col.Name, c.Type, col.Type)
		}
		lens := map[dataset.Type]int{
			dataset.String: len(c.Strings), dataset.Int: len(c.Ints), dataset.Float: len(c.Floats),
			dataset.Bool: len(c.Bools), dataset.Timestamp: len(c.Times),
		}
		for typ, n := range lens {
			want := 0
			if typ == c.Type {
				want = b.N
			}
			if n != want {
				tb.Fatalf("column %s (%s): %s slice has %d entries, want %d", col.Name, c.Type, typ, n, want)
			}
		}
		if c.Null == nil {
			continue
		}
		if len(c.Null) != b.N {
			tb.Fatalf("column %s: Null has %d entries, want %d", col.Name, len(c.Null), b.N)
		}
		if col.Role == dataset.RoleTime {
			tb.Fatalf("time column %s has a Null slice", col.Name)
		}
		some := false
		for r, isNull := range c.Null {
			if !isNull {
				continue
			}
			some = true
			zero := c.Type == dataset.String && c.Strings[r] == "" || c.Type == dataset.Int && c.Ints[r] == 0 ||
				c.Type == dataset.Float && c.Floats[r] == 0 || c.Type == dataset.Bool && !c.Bools[r] ||
				c.Type == dataset.Timestamp && c.Times[r] == 0
			if !zero {
				tb.Fatalf("column %s row %d: null but the typed slice holds %v", col.Name, r, c.Value(r))
			}
		}
		if !some {
			tb.Fatalf("column %s: Null is allocated but no row is null", col.Name)
		}
	}
}

func TestNotObjects(t *testing.T) {
	d := testDataset(t)
	for _, tc := range []struct{ element, reason string }{
		{`[1,2]`, "expected a JSON object, got array"},
		{`[]`, "expected a JSON object, got array"},
		{`"x"`, "expected a JSON object, got string"},
		{`12.5`, "expected a JSON object, got number"},
		{`-1`, "expected a JSON object, got number"},
		{`true`, "expected a JSON object, got bool"},
		{`false`, "expected a JSON object, got bool"},
		{`null`, "expected a JSON object, got null"},
	} {
		t.Run(tc.element, func(t *testing.T) {
			for _, f := range forms[:2] {
				b, rej, err := f.decode(t, d, []string{`{` + T + `}`, tc.element, `{` + T + `}`}, 0, Limits{})
				if err != nil {
					t.Fatalf("%s: %v", f.name, err)
				}
				checkBatch(t, b)
				if b.N != 2 || len(rej) != 1 || rej[0] != (Rejection{1, tc.reason}) {
					t.Fatalf("%s: %d rows, rejections %+v", f.name, b.N, rej)
				}
			}
		})
	}
	t.Run("nil struct", func(t *testing.T) {
		b, rej, err := Structs(d, []*structpb.Struct{nil, structOf(t, `{`+T+`}`)}, 0, Limits{})
		if err != nil || b.N != 1 || len(rej) != 1 || rej[0] != (Rejection{0, "expected a JSON object, got null"}) {
			t.Fatalf("%v %d %+v", err, b.N, rej)
		}
	})
	t.Run("nil and kindless values are null", func(t *testing.T) {
		ev := structOf(t, `{`+T+`}`)
		ev.Fields["s"] = nil
		ev.Fields["i"] = &structpb.Value{}
		b, rej, err := Structs(d, []*structpb.Struct{ev}, 0, Limits{})
		if err != nil || b.N != 1 || len(rej) != 0 || !b.Cols[1].IsNull(0) || !b.Cols[5].IsNull(0) {
			t.Fatalf("%v %d %+v", err, b.N, rej)
		}
	})
	t.Run("struct NaN and Inf", func(t *testing.T) {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for _, col := range []string{"i", "f", "time"} {
				ev := structOf(t, `{`+T+`}`)
				ev.Fields[col] = structpb.NewNumberValue(v)
				_, rej, _ := Structs(d, []*structpb.Struct{ev}, 0, Limits{})
				want := fmt.Sprintf("field %q: number %s is not finite", col, formatFloat(v))
				if len(rej) != 1 || rej[0].Reason != want {
					t.Fatalf("%s=%v: %+v, want %+v", col, v, rej, want)
				}
			}
		}
	})
	t.Run("struct numbers beyond int64", func(t *testing.T) {
		ev := structOf(t, `{`+T+`,"i":9223372036854775807}`) // rounds to 2^63 as a float64
		_, rej, _ := Structs(d, []*structpb.Struct{ev}, 0, Limits{})
		if want := `field "i": number 9223372036854776000 is out of range for int (64-bit)`; len(rej) != 1 || rej[0].Reason != want {
			t.Fatalf("%+v, want %+v", rej, want)
		}
	})
}

func TestArrayBody(t *testing.T) {
	d := testDataset(t)
	ok := `{` + T + `}`
	for _, tc := range []struct {
		name, body string
		rows       int
		err        string // "" when the body must parse
	}{
		{"empty array", `[]`, 0, ""},
		{"spaced empty array", " \n[ \t]\r\n", 0, ""},
		{"one", `[` + ok + `]`, 1, ""},
		{"spaced", " [ " + ok + " ,\n" + ok + " ] \n", 2, ""},
		{"empty body", ``, 0, "decode JSON array: body is empty"},
		{"blank body", " \n\t", 0, "decode JSON array: body is empty"},
		{"object body", ok, 0, "decode JSON array: body is a JSON object, not an array"},
		{"number body", `12`, 0, "decode JSON array: body is a JSON number, not an array"},
		{"invalid body", `{oops`, 0, "decode JSON array: invalid character 'o' looking for beginning of object key string at byte 1"},
		{"garbage body", `hello`, 0, "decode JSON array: invalid character 'h' looking for beginning of value at byte 0"},
		{"unterminated", `[{"time":`, 0, "decode JSON array: element 0: unexpected end of JSON input at byte 9"},
		{"unterminated array", `[` + ok, 0, "decode JSON array: unexpected end of JSON input at byte 32"},
		{"trailing comma", `[` + ok + `,]`, 0, "decode JSON array: element 1: invalid character ']' looking for beginning of value at byte 33"},
		{"missing comma", `[` + ok + ` ` + ok + `]`, 0, "decode JSON array: invalid character '{' after array element at byte 33"},
		{"trailing data", `[` + ok + `]x`, 0, "decode JSON array: invalid character 'x' after top-level value at byte 33"},
		{"two arrays", `[` + ok + `] [` + ok + `]`, 0, "decode JSON array: invalid character '[' after top-level value at byte 34"},
		{"bad element after good", `[` + ok + `,{"time":tru}]`, 0, "decode JSON array: element 1: invalid character '}' in literal true (expecting 'e') at byte 44"},
		{"bad nested value", `[{"x":[1,2,}]`, 0, "decode JSON array: element 0: invalid character '}' looking for beginning of value at byte 11"},
		{"bad element non-object", `[1,{"a":1},[1,]]`, 0, "decode JSON array: element 2: invalid character ']' looking for beginning of value at byte 14"},
		{"control character in string", "[{\"s\":\"a\tb\"}]", 0, "decode JSON array: element 0: invalid character '\\t' in string literal at byte 8"},
		{"bad escape", `[{"s":"\x"}]`, 0, `decode JSON array: element 0: invalid character 'x' in string escape code at byte 8`},
		{"bad unicode escape", `[{"s":"\u12g4"}]`, 0, `decode JSON array: element 0: invalid character 'g' in \u hexadecimal character escape at byte 11`},
		{"leading zero", `[{"i":01}]`, 0, "decode JSON array: element 0: invalid character '1' after object key:value pair at byte 7"},
		{"bare minus", `[{"i":-}]`, 0, "decode JSON array: element 0: invalid character '}' in numeric literal at byte 7"},
		{"bare fraction", `[{"i":1.}]`, 0, "decode JSON array: element 0: invalid character '}' after decimal point in numeric literal at byte 8"},
		{"bare exponent", `[{"i":1e}]`, 0, "decode JSON array: element 0: invalid character '}' in exponent of numeric literal at byte 8"},
		{"single quotes", `[{'s':1}]`, 0, "decode JSON array: element 0: invalid character '\\'' looking for beginning of object key string at byte 2"},
		{"missing colon", `[{"s" 1}]`, 0, "decode JSON array: element 0: invalid character '1' after object key at byte 6"},
		{"NaN", `[{"f":NaN}]`, 0, "decode JSON array: element 0: invalid character 'N' looking for beginning of value at byte 6"},
		{"deep nesting", `[{"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}]`, 0, "decode JSON array: element 0: exceeded max depth at byte 10006"},
		{"nesting at the limit", `[{` + T + `,"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}]`, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rej, err := JSON(d, []byte(tc.body), FormatArray, 0, Limits{})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || b != nil || rej != nil {
					t.Fatalf("got %v (batch %v)\nwant error %q", err, b != nil, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b)
			if b.N != tc.rows || len(rej) != 0 {
				t.Fatalf("%d rows, rejections %+v; want %d rows", b.N, rej, tc.rows)
			}
		})
	}
	if _, _, err := JSON(d, []byte(`[]`), Format(7), 0, Limits{}); err == nil || err.Error() != "decode Format(7) body: unknown format" {
		t.Fatalf("unknown format: %v", err)
	}
}

func TestNDJSONLines(t *testing.T) {
	d := testDataset(t)
	ok := `{` + T + `}`
	const (
		eof = "invalid JSON: unexpected end of JSON input"
	)
	for _, tc := range []struct {
		name, body string
		rows       int
		rejections []Rejection
	}{
		{"empty body", "", 0, nil},
		{"blank lines only", "\n \n\t\r\n\n", 0, nil},
		{"no final newline", ok + "\n" + ok, 2, nil},
		{"blank lines skipped and not counted", "\n" + ok + "\n\n  \n{oops\n\r\n" + ok + "\n", 2, []Rejection{{1, "invalid JSON: invalid character 'o' looking for beginning of object key string at byte 1"}}},
		{"crlf", ok + "\r\n" + ok + "\r\n", 2, nil},
		{"indented", "  " + ok + "  \n\t" + ok, 2, nil},
		{"unterminated object", `{"time":` + "\n" + ok, 1, []Rejection{{0, eof + " at byte 8"}}},
		{"object split over lines", "{\n" + T + "\n}\n", 0, []Rejection{
			{0, eof + " at byte 1"},
			{1, "invalid JSON: invalid character ':' after top-level value at byte 6"},
			{2, "invalid JSON: invalid character '}' looking for beginning of value at byte 0"},
		}},
		{"two objects on a line", ok + " " + ok + "\n" + ok, 1, []Rejection{{0, "invalid JSON: invalid character '{' after top-level value at byte 32"}}},
		{"array on a line", "[" + ok + "]\n" + ok, 1, []Rejection{{0, "expected a JSON object, got array"}}},
		{"invalid after a field error", `{"time":true,"s":}` + "\n" + ok, 1, []Rejection{{0, "invalid JSON: invalid character '}' looking for beginning of value at byte 17"}}},
		{"invalid non-object", "[1,\n" + ok, 1, []Rejection{{0, eof + " at byte 3"}}},
		{"field error", `{"time":"x"}` + "\n" + ok, 1, []Rejection{{0, `field "time": "x" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)`}}},
		{"stray quote", `"` + "\n" + ok, 1, []Rejection{{0, eof + " at byte 1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rej, err := JSON(d, []byte(tc.body), FormatNDJSON, 0, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b)
			if b.N != tc.rows || !reflect.DeepEqual(rej, tc.rejections) {
				t.Fatalf("%d rows, rejections %+v\nwant %d rows, %+v", b.N, rej, tc.rows, tc.rejections)
			}
		})
	}
}

// TestGoodAroundBad sends good events between bad ones in every form: the good ones are kept in
// order, the bad ones are indexed from indexBase.
func TestGoodAroundBad(t *testing.T) {
	d := testDataset(t)
	events := []string{
		`{"time":"x"}`,
		`{` + T + `,"s":"first","i":1}`,
		`{"s":"no time"}`,
		`{` + T + `,"i":1.5}`,
		`{"time":1795341600000,"s":"second","i":2}`,
		`{` + T + `,"b":"yes"}`,
		`{` + T + `,"s":"third","f":0.5,"i":3}`,
		`{` + T + `,"s":7}`,
	}
	wantRej := []int{100, 102, 103, 105, 107}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			b, rej, err := f.decode(t, d, events, 100, Limits{MaxEvents: len(events)})
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b)
			var idx []int
			for _, r := range rej {
				idx = append(idx, r.Index)
			}
			if !reflect.DeepEqual(idx, wantRej) {
				t.Fatalf("rejected %v, want %v: %+v", idx, wantRej, rej)
			}
			if b.N+len(rej) != len(events) {
				t.Fatalf("%d rows + %d rejections != %d events", b.N, len(rej), len(events))
			}
			if !reflect.DeepEqual(b.Cols[1].Strings, []string{"first", "second", "third"}) ||
				!reflect.DeepEqual(b.Cols[5].Ints, []int64{1, 2, 3}) ||
				!reflect.DeepEqual(b.Cols[6].Floats, []float64{0, 0, 0.5}) ||
				!reflect.DeepEqual(b.Cols[6].Null, []bool{true, true, false}) ||
				b.Cols[2].Null == nil || b.Cols[0].Times[1] != t0.UnixMicro() {
				t.Fatalf("rows: %+v", b.Cols)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	d := testDataset(t)
	ok := `{` + T + `}`
	three := []string{ok, `{"bad":1}`, ok}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			for _, limit := range []int{0, 3, 10} {
				b, rej, err := f.decode(t, d, three, 0, Limits{MaxEvents: limit})
				if err != nil || b.N != 2 || len(rej) != 1 {
					t.Fatalf("max %d: %v, %d rows, %+v", limit, err, b.N, rej)
				}
			}
			for _, limit := range []int{2, -1} {
				b, rej, err := f.decode(t, d, three, 0, Limits{MaxEvents: limit})
				if !errors.Is(err, ErrTooManyEvents) || b != nil || rej != nil {
					t.Fatalf("max %d: %v", limit, err)
				}
				what := "body"
				if f.name == "structs" {
					what = "request"
				}
				if want := fmt.Sprintf("too many events: %s holds more than %d events (limit maxEvents)", what, max(limit, 0)); err.Error() != want {
					t.Fatalf("%q, want %q", err, want)
				}
			}
		})
	}
	t.Run("ndjson blank lines do not count", func(t *testing.T) {
		b, _, err := JSON(d, []byte("\n\n"+ok+"\n\n\n"+ok+"\n\n"), FormatNDJSON, 0, Limits{MaxEvents: 2})
		if err != nil || b.N != 2 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("ndjson refused before decoding", func(t *testing.T) {
		// The third line is invalid, yet the limit is what the caller hears about.
		_, _, err := JSON(d, []byte(ok+"\n"+ok+"\n{oops\n"), FormatNDJSON, 0, Limits{MaxEvents: 2})
		if !errors.Is(err, ErrTooManyEvents) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("array stops at the first element over", func(t *testing.T) {
		// The body is malformed after the third element: the decoder never reaches it.
		_, _, err := JSON(d, []byte(`[`+ok+`,1,"x",{oops`), FormatArray, 0, Limits{MaxEvents: 2})
		if !errors.Is(err, ErrTooManyEvents) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("default", func(t *testing.T) {
		body := []byte(strings.Repeat(ok+"\n", DefaultMaxEvents+1))
		_, _, err := JSON(d, body, FormatNDJSON, 0, Limits{MaxEvents: DefaultMaxEvents})
		if !errors.Is(err, ErrTooManyEvents) || !strings.Contains(err.Error(), "more than 10000 events (limit maxEvents)") {
			t.Fatalf("%v", err)
		}
		b, _, err := JSON(d, body[len(ok)+1:], FormatNDJSON, 0, Limits{MaxEvents: DefaultMaxEvents})
		if err != nil || b.N != DefaultMaxEvents {
			t.Fatalf("%v", err)
		}
	})
}

// TestEpochEquivalence checks that an instant sent as epoch milliseconds and as RFC 3339 in
// any offset is stored identically, in every form.
func TestEpochEquivalence(t *testing.T) {
	d := testDataset(t)
	var events []string
	var want []int64
	for i := range 500 {
		ms := int64(i) * 7_919_993_377_331 % 253402300800000 // spread over the whole range
		at := time.UnixMilli(ms)
		zone := time.FixedZone("", (i%47-23)*1800) // offsets -11:30..+12:00
		if at.In(zone).Year() < 1 || at.In(zone).Year() > 9999 {
			zone = time.UTC
		}
		events = append(events,
			fmt.Sprintf(`{"time":%d,"ts":%q}`, ms, at.In(zone).Format(time.RFC3339Nano)),
			fmt.Sprintf(`{"time":%q,"ts":%d}`, at.In(zone).Format("2006-01-02T15:04:05.000000Z07:00"), ms))
		want = append(want, at.UnixMicro(), at.UnixMicro())
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			b, rej, err := f.decode(t, d, events, 0, Limits{})
			if err != nil || len(rej) > 0 {
				t.Fatalf("%v %+v", err, rej)
			}
			checkBatch(t, b)
			if !reflect.DeepEqual(b.Cols[0].Times, want) || !reflect.DeepEqual(b.Cols[3].Times, want) {
				t.Fatalf("times differ")
			}
		})
	}
}

func TestNulls(t *testing.T) {
	d := testDataset(t)
	t.Run("no null, no Null slice", func(t *testing.T) {
		b, _, _ := JSON(d, []byte(`[{`+T+`,"s":"a","b":true,"ts":0,"Country":"x","i":1,"f":1}]`), FormatArray, 0, Limits{})
		for _, c := range b.Cols {
			if c.Null != nil {
				t.Fatalf("%+v", c)
			}
		}
	})
	t.Run("null in a refused row leaves no Null slice", func(t *testing.T) {
		b, rej, _ := JSON(d, []byte(`[{`+T+`,"s":"a","i":1},{`+T+`,"s":null,"i":"x"},{`+T+`,"s":"c","i":3}]`), FormatArray, 0, Limits{})
		checkBatch(t, b)
		if b.N != 2 || len(rej) != 1 || b.Cols[1].Null != nil || !reflect.DeepEqual(b.Cols[1].Strings, []string{"a", "c"}) {
			t.Fatalf("%d %+v %+v", b.N, rej, b.Cols[1])
		}
	})
	t.Run("null after rows", func(t *testing.T) {
		b, _, _ := JSON(d, []byte(`{`+T+`,"i":1}`+"\n"+`{`+T+`,"i":2}`+"\n"+`{`+T+`}`+"\n"+`{`+T+`,"i":4}`), FormatNDJSON, 0, Limits{})
		checkBatch(t, b)
		if !reflect.DeepEqual(b.Cols[5].Ints, []int64{1, 2, 0, 4}) || !reflect.DeepEqual(b.Cols[5].Null, []bool{false, false, true, false}) {
			t.Fatalf("%+v", b.Cols[5])
		}
	})
}

// TestUnicodeFold checks the case-insensitive rule is dataset.Column's own, Unicode included:
// strings.ToLower folds the Kelvin sign to k.
func TestUnicodeFold(t *testing.T) {
	d := &dataset.Dataset{Name: "k", TimeColumn: "time", Dimensions: []dataset.Field{{Name: "key", Type: dataset.String}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	ev := `{` + T + `,"\u212aey":"v"}`
	if _, ok := d.Column("\u212aey"); !ok {
		t.Skip("dataset.Column no longer folds Unicode")
	}
	for _, f := range forms {
		b, rej, err := f.decode(t, d, []string{ev}, 0, Limits{})
		if err != nil || b.N != 1 || b.Cols[1].Value(0) != "v" {
			t.Fatalf("%s: %v %+v %v", f.name, err, rej, b.Cols[1])
		}
	}
}

// TestDecoderReuse runs one Decoder over two datasets in turn: key tables and key-order
// predictions from one must not leak into the other.
func TestDecoderReuse(t *testing.T) {
	d1, d2 := testDataset(t), dataset.Sample()
	dec := NewDecoder()
	for range 3 {
		b, rej, err := dec.JSON(d1, []byte(`[{`+T+`,"s":"x","i":1}]`), FormatArray, 0, Limits{})
		if err != nil || len(rej) > 0 || b.Cols[1].Strings[0] != "x" || b.Cols[5].Ints[0] != 1 {
			t.Fatalf("d1: %v %+v", err, rej)
		}
		b, rej, err = dec.JSON(d2, []byte(`{`+T+`,"page":"/","bytes":5}`), FormatNDJSON, 0, Limits{})
		if err != nil || len(rej) > 0 || b.Cols[1].Strings[0] != "/" || b.Cols[6].Ints[0] != 5 {
			t.Fatalf("d2: %v %+v", err, rej)
		}
		b, rej, err = dec.Structs(d1, []*structpb.Struct{structOf(t, `{`+T+`,"s":"y"}`)}, 0, Limits{})
		if err != nil || len(rej) > 0 || b.Cols[1].Strings[0] != "y" {
			t.Fatalf("d1 structs: %v %+v", err, rej)
		}
	}
}

// TestKeyOrderChanges feeds events whose key order changes from event to event, so the key
// prediction misses, hits a different column, and sees unknown and folded keys.
func TestKeyOrderChanges(t *testing.T) {
	d := testDataset(t)
	body := `{"s":"a",` + T + `,"i":1}
{` + T + `,"s":"b","i":2}
{"i":3,"S":"c",` + T + `}
{"x":0,"i":4,"s":"d",` + T + `}
{` + T + `,"i":5,"s":"e"}`
	b, rej, err := JSON(d, []byte(body), FormatNDJSON, 0, Limits{})
	if err != nil || len(rej) > 0 {
		t.Fatalf("%v %+v", err, rej)
	}
	if !reflect.DeepEqual(b.Cols[1].Strings, []string{"a", "b", "c", "d", "e"}) || !reflect.DeepEqual(b.Cols[5].Ints, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("%v %v", b.Cols[1].Strings, b.Cols[5].Ints)
	}
}

// TestNoAliasing checks the batch owns its strings: callers may reuse the body at once.
func TestNoAliasing(t *testing.T) {
	d := testDataset(t)
	long := strings.Repeat("y", 100)
	body := []byte(`[{` + T + `,"s":"short","Country":"` + long + `"}]`)
	b, _, err := JSON(d, body, FormatArray, 0, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'z'
	}
	if b.Cols[1].Strings[0] != "short" || b.Cols[4].Strings[0] != long {
		t.Fatalf("batch changed with the body: %q %q", b.Cols[1].Strings[0], b.Cols[4].Strings[0])
	}
}

// TestRecentCollisions sends many distinct short values, so recent-value slots are
// overwritten and reused; every row must still hold its own value.
func TestRecentCollisions(t *testing.T) {
	d := testDataset(t)
	var sb strings.Builder
	var want []string
	for i := range 5000 {
		v := fmt.Sprintf("v%d", i%700)
		if i%3 == 0 {
			v = fmt.Sprintf("value-%032d", i) // longer than kept
		}
		want = append(want, v)
		fmt.Fprintf(&sb, `{%s,"s":%q}`+"\n", T, v)
	}
	b, rej, err := JSON(d, []byte(sb.String()), FormatNDJSON, 0, Limits{})
	if err != nil || len(rej) > 0 || !reflect.DeepEqual(b.Cols[1].Strings, want) {
		t.Fatalf("%v %+v", err, rej)
	}
	// Invalid UTF-8 must be refused even when a valid value hashes to the same slot.
	b, rej, _ = JSON(d, []byte(`{`+T+`,"s":"ok"}`+"\n"+`{`+T+`,"s":"o`+"\xff"+`"}`), FormatNDJSON, 0, Limits{})
	if b.N != 1 || len(rej) != 1 || rej[0].Reason != reasonUTF8("s") {
		t.Fatalf("%+v", rej)
	}
}

func TestConcurrent(t *testing.T) {
	d := dataset.Sample()
	body := benchNDJSON(200)
	sts := benchStructs(t, 200)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 20 {
				var b *store.Batch
				var err error
				if g%2 == 0 {
					b, _, err = JSON(d, body, FormatNDJSON, 0, Limits{})
				} else {
					b, _, err = Structs(d, sts, 0, Limits{})
				}
				if err != nil || b.N != 200 {
					t.Errorf("%v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
