package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
)

func TestEncodeResult(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	a := &answer{
		result: &store.Result{
			Columns: []store.ResultColumn{
				{Name: "__time", Type: store.TypeTimestamp}, {Name: "campaign", Type: store.TypeString},
				{Name: "n", Type: store.TypeInt64}, {Name: "revenue", Type: store.TypeDouble},
				{Name: "ok", Type: store.TypeBool}, {Name: "u", Type: store.TypeInt64, Approximate: true},
			},
			Rows: [][]any{
				{time.Date(2026, 11, 1, 1, 30, 0, 0, ny), "Black\"Friday\n", int64(9007199254740993), 9120.5, true, int64(3)},
				{time.Date(2026, 11, 1, 1, 30, 0, 0, ny).Add(time.Hour), nil, nil, math.NaN(), nil, nil},
			},
		},
		stats: &olapgatev1.QueryStats{Backend: "embedded", ExecMs: 4},
	}
	raw := encodeResult(a)
	var got struct {
		Columns []map[string]any `json:"columns"`
		Rows    [][]json.RawMessage
		Stats   map[string]any `json:"stats"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	want := [][]string{
		{`"2026-11-01T01:30:00-04:00"`, `"Black\"Friday\n"`, `9007199254740993`, `9120.5`, `true`, `3`},
		// Same wall clock an hour later: after the fall-back, so the offset is -05:00.
		{`"2026-11-01T01:30:00-05:00"`, `null`, `null`, `null`, `null`, `null`},
	}
	for i, row := range want {
		for j, cell := range row {
			if string(got.Rows[i][j]) != cell {
				t.Errorf("row %d col %d = %s, want %s", i, j, got.Rows[i][j], cell)
			}
		}
	}
	if got.Columns[0]["type"] != "TIMESTAMP" || got.Columns[2]["type"] != "INT64" || got.Columns[5]["approximate"] != true {
		t.Errorf("columns: %v", got.Columns)
	}
	if got.Stats["backend"] != "embedded" || got.Stats["execMs"] == nil || got.Stats["cacheHit"] != false {
		t.Errorf("stats: %v", got.Stats)
	}
}

func TestWriteErrorMapping(t *testing.T) {
	cases := []struct {
		code  codes.Code
		http  int
		retry bool
	}{
		{codes.InvalidArgument, 400, false},
		{codes.NotFound, 404, false},
		{codes.ResourceExhausted, 429, true},
		{codes.Unavailable, 503, false},
		{codes.DeadlineExceeded, 504, false},
		{codes.Internal, 500, false},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, status.Error(tc.code, `field "x": bad`))
			if w.Code != tc.http {
				t.Fatalf("HTTP %d, want %d", w.Code, tc.http)
			}
			if (w.Header().Get("Retry-After") != "") != tc.retry {
				t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
			}
			var body struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != int(tc.code) || !strings.Contains(body.Message, `field "x"`) {
				t.Fatalf("body %s (%v)", w.Body.String(), err)
			}
		})
	}
}

func TestOpenAPIDescribesHandWrittenHandlers(t *testing.T) {
	raw, err := openAPIDoc()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Consumes  []string                  `json:"consumes"`
			Responses map[string]map[string]any `json:"responses"`
		} `json:"paths"`
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if ref := doc.Paths["/v1/query"]["post"].Responses["200"]["schema"]; ref.(map[string]any)["$ref"] != "#/definitions/HttpQueryResult" {
		t.Fatalf("/v1/query 200 schema: %v", ref)
	}
	ing := doc.Paths["/v1/datasets/{dataset}/events"]["post"]
	if len(ing.Consumes) != 2 || ing.Responses["413"] == nil || doc.Definitions["HttpIngestAnswer"] == nil {
		t.Fatalf("ingest path: %+v", ing)
	}
}

func TestIngestGzip(t *testing.T) {
	h, st := newTestHandler(t)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ev := []byte(strings.Repeat(`{"time":"2026-11-22T10:00:00Z","page":"/"}`+"\n", 3))
	bomb := gz(append([]byte("["), bytes.Repeat([]byte(" "), 2<<20)...)) // 2 MiB inflated, limit 1 MiB
	cases := []struct {
		name, enc string
		body      []byte
		code      int
	}{
		{"gzip", "gzip", gz(ev), 200},
		{"identity", "identity", ev, 200},
		{"bomb", "gzip", bomb, 413},
		{"not gzip", "gzip", ev, 400},
		{"other encoding", "br", ev, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := st.rows
			r := httptest.NewRequest("POST", "/v1/datasets/pageviews/events", bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-ndjson")
			r.Header.Set("Content-Encoding", tc.enc)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.code == 200 && st.rows-before != 3 {
				t.Fatalf("stored %d rows, want 3", st.rows-before)
			}
		})
	}
}
