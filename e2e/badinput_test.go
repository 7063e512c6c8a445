package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
)

// TestBadInput checks every rejection reason through the HTTP API: status code, and a reason
// that names the field or the limit.
func TestBadInput(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	good := `{"time":"2026-11-22T10:00:00Z","page":"/","duration_ms":5}`

	many := strings.Repeat(good+"\n", 10001)
	huge := `{"time":"2026-11-22T10:00:00Z","page":"` + strings.Repeat("x", 17<<20) + `"}`

	cases := []struct {
		name, path, ctype, body string
		code                    int
		accepted                int64
		reasons                 []string // substrings of rejection reasons (or of the error message)
	}{
		{"unknown dataset", "/v1/datasets/nope/events", "application/json", "[" + good + "]", 404, 0, []string{`dataset "nope" not found`}},
		{"wrong type", "/v1/datasets/pageviews/events", "application/json", `[` + good + `,{"time":"2026-11-22T10:00:00Z","duration_ms":"slow"}]`, 200, 1, []string{"duration_ms", "int"}},
		{"missing time", "/v1/datasets/pageviews/events", "application/json", `[{"page":"/"},` + good + `]`, 200, 1, []string{"time", "missing"}},
		{"bad time", "/v1/datasets/pageviews/events", "application/json", `[{"time":"yesterday"},` + good + `]`, 200, 1, []string{"time"}},
		{"not an object", "/v1/datasets/pageviews/events", "application/json", `[[1,2],` + good + `]`, 200, 1, []string{"object"}},
		{"bad ndjson line", "/v1/datasets/pageviews/events", "application/x-ndjson", good + "\n{oops\n" + good + "\n", 200, 2, []string{""}},
		{"all rejected", "/v1/datasets/pageviews/events", "application/json", `[{"page":"/"}]`, 400, 0, []string{"time"}},
		{"not an array", "/v1/datasets/pageviews/events", "application/json", `{"time": 1}`, 400, 0, []string{""}},
		{"malformed", "/v1/datasets/pageviews/events", "application/json", `[{"time":`, 400, 0, []string{""}},
		{"too many events", "/v1/datasets/pageviews/events", "application/x-ndjson", many, 413, 0, []string{"10000"}},
		{"oversize body", "/v1/datasets/pageviews/events", "application/json", "[" + huge + "]", 413, 0, []string{"16777216"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := postJSON(t, base+tc.path, tc.ctype, []byte(tc.body))
			if code != tc.code {
				t.Fatalf("status %d, want %d: %.300s", code, tc.code, out)
			}
			var ans struct {
				Accepted int64 `json:"accepted"`
				Rejected []struct {
					Index  int    `json:"index"`
					Reason string `json:"reason"`
				} `json:"rejected"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(out, &ans); err != nil {
				t.Fatalf("answer is not JSON: %v: %.300s", err, out)
			}
			if ans.Accepted != tc.accepted {
				t.Fatalf("accepted %d, want %d: %s", ans.Accepted, tc.accepted, out)
			}
			text := ans.Message
			for _, r := range ans.Rejected {
				text += fmt.Sprintf(" [%d] %s", r.Index, r.Reason)
			}
			if text == "" {
				t.Fatalf("no reason given: %s", out)
			}
			for _, want := range tc.reasons {
				if !strings.Contains(text, want) {
					t.Fatalf("reason %q does not mention %q", text, want)
				}
			}
		})
	}
}

// TestRejectionIndexes checks that rejections point at the right events, in HTTP and across a
// gRPC stream.
func TestRejectionIndexes(t *testing.T) {
	srv := startServer(t, t.TempDir())
	body := `[{"time":"2026-11-22T10:00:00Z"},{"page":"/"},{"time":"2026-11-22T10:00:00Z","bytes":1.5},{"time":1795341600000}]`
	code, out := postJSON(t, "http://"+srv.HTTPAddr()+"/v1/datasets/pageviews/events", "application/json", []byte(body))
	if code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	var ans ingestAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Accepted != 2 || len(ans.Rejected) != 2 || ans.Rejected[0].Index != 1 || ans.Rejected[1].Index != 2 {
		t.Fatalf("got %s", out)
	}

	cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	stream, err := olapgatev1.NewIngestServiceClient(cc).IngestStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := "{\"time\":\"2026-11-22T10:00:00Z\"}\n{\"page\":\"/\"}\n"
	for range 3 {
		if err := stream.Send(&olapgatev1.IngestStreamRequest{Dataset: "pageviews", JsonLines: []byte(lines)}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 3 || len(resp.Rejected) != 3 {
		t.Fatalf("stream: %v", resp)
	}
	for i, r := range resp.Rejected {
		if r.Index != int64(2*i+1) {
			t.Fatalf("stream rejection %d has index %d, want %d (indexes count across the stream)", i, r.Index, 2*i+1)
		}
	}
	_, err = olapgatev1.NewIngestServiceClient(cc).Ingest(context.Background(), &olapgatev1.IngestRequest{Dataset: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown dataset over gRPC: %v", err)
	}
}

// TestQueryErrors checks that invalid queries get 400 with a message naming the field.
func TestQueryErrors(t *testing.T) {
	srv := startServer(t, t.TempDir())
	rng := `"timeRange":{"start":"now-1h","end":"now"}`
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown dataset", `{"dataset":"nope",` + rng + `,"metrics":[{"agg":"COUNT"}]}`, 404, "nope"},
		{"unknown field", `{"dataset":"pageviews",` + rng + `,"metrics":[{"agg":"SUM","field":"pricee"}]}`, 400, "pricee"},
		{"unknown agg", `{"dataset":"pageviews",` + rng + `,"metrics":[{"agg":"MEDIAN","field":"bytes"}]}`, 400, "MEDIAN"},
		{"sum of string", `{"dataset":"pageviews",` + rng + `,"metrics":[{"agg":"SUM","field":"page"}]}`, 400, "page"},
		{"bad granularity", `{"dataset":"pageviews",` + rng + `,"granularity":"5y","metrics":[{"agg":"COUNT"}]}`, 400, "granularity"},
		{"bad zone", `{"dataset":"pageviews",` + rng + `,"granularity":"1h","timeZone":"Mars/Olympus","metrics":[{"agg":"COUNT"}]}`, 400, "Mars/Olympus"},
		{"limit over max", `{"dataset":"pageviews",` + rng + `,"limit":100001,"metrics":[{"agg":"COUNT"}]}`, 400, "limit"},
		{"bad op", `{"dataset":"pageviews",` + rng + `,"metrics":[{"agg":"COUNT"}],"filter":{"cmp":{"field":"page","op":"LIKE","values":["x"]}}}`, 400, "LIKE"},
		{"unknown JSON key", `{"dataset":"pageviews",` + rng + `,"metricz":[]}`, 400, "metricz"},
		{"bad range", `{"dataset":"pageviews","timeRange":{"start":"now","end":"now-1h"},"metrics":[{"agg":"COUNT"}]}`, 400, "timeRange"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post("http://"+srv.HTTPAddr()+"/v1/query", "application/json", bytes.NewReader([]byte(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var ans struct{ Message string }
			if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(ans.Message, tc.want) {
				t.Fatalf("status %d message %q; want %d mentioning %q", resp.StatusCode, ans.Message, tc.code, tc.want)
			}
		})
	}
}
