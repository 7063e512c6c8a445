package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func testDatasets(t testing.TB) map[string]*dataset.Dataset {
	t.Helper()
	out := map[string]*dataset.Dataset{}
	for _, d := range []*dataset.Dataset{
		{Name: "clicks", TimeColumn: "time", Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}, Metrics: []dataset.Field{{Name: "n", Type: dataset.Int}}},
		{Name: "views", TimeColumn: "time", Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}},
	} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		out[d.Name] = d
	}
	return out
}

func newTestPipeline(t testing.TB, routes map[string]*Route) *Pipeline {
	t.Helper()
	dss := testDatasets(t)
	dlq, err := DeadLetterDataset("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Source:     "kafka:test",
		Route:      func(s string) *Route { return routes[s] },
		Datasets:   func(n string) *dataset.Dataset { return dss[n] },
		DeadLetter: dlq,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC) }
	return p
}

// column returns the values of a named column of b.
func column(t testing.TB, b *store.Batch, name string) []any {
	t.Helper()
	c, ok := b.Dataset.Column(name)
	if !ok {
		t.Fatalf("%s has no column %s", b.Dataset.Name, name)
	}
	out := make([]any, b.N)
	for i := range out {
		out[i] = b.Cols[c.Index].Value(i)
	}
	return out
}

func TestPipeline(t *testing.T) {
	p := newTestPipeline(t, map[string]*Route{
		"clicks": {Dataset: "clicks"},
		"mixed":  {Field: "type", Datasets: map[string]string{"click": "clicks", "view": "views", "ghost": "undeclared"}},
	})
	recs := []struct {
		stream, value string
		key           []byte
	}{
		{"clicks", `{"time": 1700000000000, "page": "/a", "n": 1}`, []byte("k1")},
		{"clicks", "{\"time\": 1700000000001,\n \"page\": \"/b\"}", nil},  // newline as whitespace
		{"clicks", "{\"time\": 1700000000002, \"page\": \"/x\ny\"}", nil}, // raw newline in a string
		{"clicks", `{"time": "yesterday", "page": "/c"}`, nil},            // schema
		{"clicks", `   `, nil},               // blank
		{"clicks", "\xff\xfe", []byte{0xff}}, // not UTF-8
		{"mixed", `{"type": "view", "time": 1700000000003, "page": "/v"}`, nil},           // routed
		{"mixed", `{"time": 1700000000004, "page": "/c2", "type": "click", "n": 2}`, nil}, // routed, field last
		{"mixed", `{"type": "other", "time": 1700000000005}`, nil},                        // no route for the value
		{"mixed", `{"time": 1700000000006}`, nil},                                         // no field
		{"mixed", `{"type": 7, "time": 1700000000007}`, nil},                              // not a string
		{"mixed", `{"type": "ghost", "time": 1700000000008}`, nil},                        // undeclared dataset
		{"nowhere", `{"time": 1700000000009}`, nil},                                       // unrouted stream
		{"clicks", `{"time": 1700000000010, "page": "/d"} {"x": 1}`, nil},                 // two values
	}
	for i, r := range recs {
		p.Add(&Record{Stream: r.stream, Partition: "0", Position: fmt.Sprint(i), Key: r.key, Value: []byte(r.value),
			Time: time.UnixMilli(1700000000000 + int64(i)).UTC()})
	}
	if p.Len() != len(recs) {
		t.Fatalf("Len = %d", p.Len())
	}
	batches, counts, err := p.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Fatalf("Len after Flush = %d", p.Len())
	}
	got := map[string]*store.Batch{}
	for _, b := range batches {
		got[b.Dataset.Name] = b
	}
	if b := got["clicks"]; b == nil || fmt.Sprint(column(t, b, "page")) != "[/a /b /c2]" {
		t.Fatalf("clicks = %+v", b)
	}
	if b := got["views"]; b == nil || fmt.Sprint(column(t, b, "page")) != "[/v]" {
		t.Fatalf("views = %+v", b)
	}
	dl := got[DefaultDeadLetterDataset]
	if dl == nil || dl.N != 10 {
		t.Fatalf("dead letters = %+v", dl)
	}
	if counts.Accepted["clicks"] != 3 || counts.Accepted["views"] != 1 {
		t.Fatalf("accepted = %v", counts.Accepted)
	}
	total := 0
	for _, n := range counts.Rejected {
		total += n
	}
	if total != 10 {
		t.Fatalf("rejected = %v", counts.Rejected)
	}
	reasons := map[string]string{}
	pos, rs, payloads, encs, targets := column(t, dl, "position"), column(t, dl, "reason"), column(t, dl, "payload"), column(t, dl, "payload_encoding"), column(t, dl, "target")
	for i := range rs {
		reasons[pos[i].(string)] = fmt.Sprintf("%v|%v|%v", targets[i], rs[i], encs[i])
		if encs[i] == "utf8" && payloads[i] != recs[mustAtoi(t, pos[i].(string))].value {
			t.Errorf("record %v: payload %q", pos[i], payloads[i])
		}
	}
	want := map[string]string{
		"2":  `clicks|invalid JSON: invalid character '\r' in string literal`,
		"3":  `clicks|field "time": "yesterday" is not an RFC 3339 time`,
		"4":  `clicks|empty record value`,
		"5":  `clicks|`,
		"8":  `<nil>|field "type": "other" routes to no dataset|utf8`,
		"9":  `<nil>|field "type": missing`,
		"10": `<nil>|field "type": expected a string to route by, got number|utf8`,
		"11": `undeclared|dataset "undeclared" is not declared|utf8`,
		"12": `<nil>|stream "nowhere" has no route|utf8`,
		"13": `clicks|invalid JSON`,
	}
	for k, prefix := range want {
		if !strings.HasPrefix(reasons[k], prefix) {
			t.Errorf("record %s: dead letter %q, want prefix %q", k, reasons[k], prefix)
		}
	}
	if !strings.HasSuffix(reasons["5"], "|base64") {
		t.Errorf("non-UTF-8 payload: %q", reasons["5"])
	}
	// A second flush starts empty.
	if bs, _, err := p.Flush(); err != nil || len(bs) != 0 {
		t.Fatalf("empty flush = %v, %v", bs, err)
	}
}

func mustAtoi(t testing.TB, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRouteValidate(t *testing.T) {
	known := func(s string) bool { return s == "a" || s == "b" }
	for _, tc := range []struct {
		r  Route
		ok bool
	}{
		{Route{Dataset: "a"}, true},
		{Route{Field: "type", Datasets: map[string]string{"x": "a", "y": "b"}}, true},
		{Route{Field: "type", Default: "a"}, true},
		{Route{}, false},
		{Route{Dataset: "a", Field: "type"}, false},
		{Route{Dataset: "a", Default: "b"}, false},
		{Route{Field: "type"}, false},
		{Route{Dataset: "zzz"}, false},
		{Route{Field: "type", Datasets: map[string]string{"x": "zzz"}}, false},
	} {
		if err := tc.r.Validate(known); (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v", tc.r, err)
		}
	}
}

// FuzzFieldString checks routing against encoding/json on well-formed objects.
func FuzzFieldString(f *testing.F) {
	for _, s := range []string{
		`{"type":"a"}`, `{"x":{"type":"b"},"type":"a"}`, `{"type":"a","type":"b"}`, `{"type":1}`,
		`{"ty\u0070e":"\u00e9"}`, `{"a":[1,"]",{"type":"z"}],"type":"q"}`, `[]`, `{}`, `{"type":null}`,
		`{"a":"\\\"","type":"ok"}`, ` { "type" : "sp" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, reason := fieldString(data, "type")
		if !json.Valid(data) {
			return // lenient on malformed input: the decoder refuses it
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		tok, _ := dec.Token()
		if tok != json.Delim('{') {
			if reason == "" {
				t.Fatalf("%q: routed a non-object to %q", data, got)
			}
			return
		}
		var vals []json.RawMessage
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if k.(string) == "type" {
				vals = append(vals, v)
			}
		}
		var want string
		wantOK := len(vals) == 1 && json.Unmarshal(vals[0], &want) == nil && bytes.HasPrefix(bytes.TrimSpace(vals[0]), []byte(`"`))
		if wantOK != (reason == "") || wantOK && got != want {
			t.Fatalf("%q: got %q, %q; want %q (ok %v)", data, got, reason, want, wantOK)
		}
	})
}

// FuzzPipeline: whatever the record values, each record is a row or a dead letter.
func FuzzPipeline(f *testing.F) {
	f.Add([]byte(`{"time": 1700000000000, "page": "/a"}`), []byte("{\"type\":\"click\",\"time\":1,\n\"n\":2}"), []byte("\n"))
	f.Add([]byte(`{"time": "x"}`), []byte(`{"type":"view"`), []byte("\xff"))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		p := newTestPipeline(t, map[string]*Route{
			"s": {Dataset: "clicks"},
			"m": {Field: "type", Datasets: map[string]string{"click": "clicks", "view": "views"}},
		})
		vals := [][]byte{a, b, c, a, b, c}
		for i, v := range vals {
			stream := "s"
			if i%2 == 1 {
				stream = "m"
			}
			p.Add(&Record{Stream: stream, Partition: "0", Position: fmt.Sprint(i), Value: v})
		}
		batches, counts, err := p.Flush()
		if err != nil {
			t.Fatal(err)
		}
		rows, acc, rej := 0, 0, 0
		for _, bt := range batches {
			rows += bt.N
		}
		for _, n := range counts.Accepted {
			acc += n
		}
		for _, n := range counts.Rejected {
			rej += n
		}
		if rows != len(vals) || acc+rej != len(vals) {
			t.Fatalf("%d records became %d rows (accepted %d, rejected %d)", len(vals), rows, acc, rej)
		}
	})
}
