package telemetry

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
)

// The queries themselves run against the real store in the collector package's end-to-end
// tests; these cover the pure parts.

func TestParseTraceID(t *testing.T) {
	for in, want := range map[string]string{
		"0102030405060708090A0B0C0D0E0F10":   "0102030405060708090a0b0c0d0e0f10",
		" 0102030405060708090a0b0c0d0e0f10 ": "0102030405060708090a0b0c0d0e0f10",
		"00000000000000000000000000000000":   "",
		"0102":                               "",
		"zz02030405060708090a0b0c0d0e0f10":   "",
	} {
		got, err := ParseTraceID("trace_id", in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%q: %q, %v", in, got, err)
		}
		if err != nil && status.Code(err) != codes.InvalidArgument {
			t.Errorf("%q: code %v", in, status.Code(err))
		}
	}
}

func TestTimeRange(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s := &Service{now: func() time.Time { return now }}
	for _, tc := range []struct {
		start, end string
		from, to   time.Time
		err        string
	}{
		{"", "", now.Add(-time.Hour), now, ""},
		{"now-15m", "now", now.Add(-15 * time.Minute), now, ""},
		{"now-2d", "now+1h", now.Add(-48 * time.Hour), now.Add(time.Hour), ""},
		{"2026-11-22T10:00:00Z", "1795348800000", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), time.UnixMilli(1795348800000).UTC(), ""},
		{"now", "now-1h", time.Time{}, time.Time{}, "not before"},
		{"now-5x", "", time.Time{}, time.Time{}, "unit"},
		{"yesterday", "", time.Time{}, time.Time{}, "want RFC 3339"},
	} {
		from, to, err := s.timeRange(&olapgatev1.TimeRange{Start: tc.start, End: tc.end}, "time_range")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || status.Code(err) != codes.InvalidArgument {
				t.Errorf("%q..%q: %v, want %q", tc.start, tc.end, err, tc.err)
			}
			continue
		}
		if err != nil || !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("%q..%q: %s..%s, %v; want %s..%s", tc.start, tc.end, from, to, err, tc.from, tc.to)
		}
	}
}

func TestTreeOrder(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	span := func(id, parent string, at int) *olapgatev1.Span {
		return &olapgatev1.Span{SpanId: id, ParentSpanId: parent, Name: id, StartTime: timestamppb.New(t0.Add(time.Duration(at) * time.Millisecond))}
	}
	spans := []*olapgatev1.Span{
		span("c2", "r", 5), span("r", "", 0), span("c1", "r", 1), span("g", "c1", 2),
		span("orphan", "missing", 3), span("x", "y", 9), span("y", "x", 8), span("self", "self", 7),
	}
	var got []string
	for _, sp := range treeOrder(spans) {
		got = append(got, strings.Repeat(".", int(sp.Depth))+sp.Name)
	}
	want := "r,.c1,..g,.c2,orphan,self,x,.y"
	if strings.Join(got, ",") != want {
		t.Errorf("order %s, want %s", strings.Join(got, ","), want)
	}
}

func TestSQLBindsClientValues(t *testing.T) {
	f := &TraceFilter{ServiceName: "svc'; DROP TABLE x; --", Attributes: []Attribute{{"http.route", "/a'b"}}, Limit: 5, ErrorsOnly: true}
	st := duckSQL{}.matchingTraces(f, time.Unix(0, 0), time.Unix(60, 0))
	if strings.Contains(st.SQL, "DROP") || strings.Contains(st.SQL, "/a'b") {
		t.Errorf("client value inlined: %s", st.SQL)
	}
	if strings.Count(st.SQL, "?") != len(st.Args) {
		t.Errorf("%d placeholders, %d args: %s", strings.Count(st.SQL, "?"), len(st.Args), st.SQL)
	}
	if !strings.Contains(st.SQL, `make_timestamp(60000000::BIGINT)`) || !strings.Contains(st.SQL, "LIMIT 5") {
		t.Errorf("bounds/limit: %s", st.SQL)
	}
	promoted := New(nil, Config{PromotedAttributes: []string{"http.route"}}).sql.matchingTraces(f, time.Unix(0, 0), time.Unix(60, 0))
	if !strings.Contains(promoted.SQL, `"http_route" = ?`) || strings.Contains(promoted.SQL, "json_extract_string") {
		t.Errorf("promoted attribute filter: %s", promoted.SQL)
	}
	if _, err := attributes([]*olapgatev1.AttributeFilter{{Key: `a"b`, Value: "v"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("quote in key: %v", err)
	}
}

func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x\u00e9\ud83d\ude00","c":[true,false,null,{"d":-1.5e3}]}`, `{"a":01}`, `{"a":"\x01"}`,
		`{"a":1,}`, `[1]`, ` {"k" : "v"} `, `{"a":"\/\b\f\n\r\t\\\""}`, `{"a":1e}`, `{"a":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseJSONObject(s)
		var obj map[string]any
		valid := json.Unmarshal([]byte(s), &obj) == nil && obj != nil && utf8.ValidString(s)
		if !utf8.ValidString(s) {
			return // encoding/json replaces invalid UTF-8; the columns never hold it
		}
		if ok != valid {
			t.Fatalf("%q: parsed %v, encoding/json valid object %v", s, ok, valid)
		}
		if !ok {
			return
		}
		want := &structpb.Struct{}
		if err := protojson.Unmarshal([]byte(s), want); err != nil {
			return // protojson refuses some valid JSON (duplicate keys); nothing to compare
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%q: got %v, want %v", s, got, want)
		}
	})
}

func TestUnpack(t *testing.T) {
	res := func(packed any, n int64) *store.Result { return &store.Result{Rows: [][]any{{packed, n}}} }
	var got []traceLogRecord
	read := func(u *unpacker) {
		got = append(got, traceLogRecord{time: u.time(), spanID: u.text(), traceFlags: u.int(), body: u.text()})
	}
	// A body holding the packing's own characters, a NULL time and number, multi-byte text.
	if err := unpack(res("1795262400000001:2:ab1:6:1:2:é:0::3:x:y", 2), read); err != nil {
		t.Fatal(err)
	}
	want := []traceLogRecord{
		{time: time.UnixMicro(1795262400000001).UTC(), spanID: "ab", traceFlags: 1, body: "1:2:é"},
		{spanID: "", traceFlags: 0, body: "x:y"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []*store.Result{
		res("1:2:ab", 1), res("1:9:ab1:1:x", 1), res("x:2:ab1:1:x", 1), res("1:2:ab1:1:x", 2), res(nil, 1), {Rows: nil},
	} {
		got = nil
		if err := unpack(bad, read); err == nil {
			t.Errorf("%v: no error", bad.Rows)
		}
	}
	got = nil
	if err := unpack(res(nil, 0), read); err != nil || len(got) != 0 {
		t.Errorf("no rows: %v, %v", got, err)
	}
}

func TestEarlyLogsWithin(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0).UTC()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	logs := func(ss ...int) []traceLogRecord {
		out := make([]traceLogRecord, len(ss))
		for i, s := range ss {
			out[i] = traceLogRecord{time: at(s), body: strconv.Itoa(s)}
		}
		return out
	}
	body := func(ls []traceLogRecord) string {
		var b []string
		for _, l := range ls {
			b = append(b, l.body)
		}
		return strings.Join(b, ",")
	}
	for _, tc := range []struct {
		read          []traceLogRecord
		lo, hi, limit int
		want          string // "again": errReadAgain
	}{
		{logs(0, 1, 5, 9, 10), 1, 9, 10, "1,5,9"},
		{logs(0, 1, 5, 9, 10), 0, 10, 10, "0,1,5,9,10"},
		{logs(0, 1, 5, 9, 10), -1, 9, 10, "again"}, // range starts before the read's
		{logs(0, 1, 5, 9, 10), 1, 11, 10, "again"}, // and ends after
		{logs(0, 1, 5), 1, 9, 2, "again"},          // cut (3 = limit+1) after dropping an early log
		{logs(1, 5, 9), 1, 9, 2, "1,5,9"},          // cut, nothing dropped: the caller truncates
		{logs(1, 5, 9), 1, 4, 2, "1"},              // cut past hi: everything within was read
		{logs(), 1, 9, 2, ""},
	} {
		e := &earlyLogs{lo: at(0), hi: at(10), done: make(chan struct{}), logs: tc.read}
		close(e.done)
		got, err := e.within(at(tc.lo), at(tc.hi), tc.limit)
		g := body(got)
		if errors.Is(err, errReadAgain) {
			g = "again"
		} else if err != nil {
			t.Fatal(err)
		}
		if g != tc.want {
			t.Errorf("read %s, within [%d, %d] limit %d: %q, want %q", body(tc.read), tc.lo, tc.hi, tc.limit, g, tc.want)
		}
	}
}
