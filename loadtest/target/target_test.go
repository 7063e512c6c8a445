package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/schedule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const mixYAML = `
queries:
  - name: top-pages
    weight: 3
    priority: interactive
    tenant: acme
    query:
      dataset: pageviews
      timeRange: {start: now-1h, end: now}
      metrics: [{agg: COUNT}]
      groupBy: [page]
  - name: export
    weight: 1
    priority: bulk
    query: {"dataset": "pageviews", "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "SUM", "field": "bytes"}], "options": {"timeoutMs": 2000}}
`

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"grpc://127.0.0.1:9090", true},
		{"http://127.8.9.10:8080/v1/query", true},
		{"http://localhost:8080", true},
		{"grpc://LOCALHOST:1", true},
		{"http://[::1]:8080", true},
		{"http://[::ffff:127.0.0.1]:8080", true},
		{"grpc://10.0.0.1:9090", false},
		{"http://0.0.0.0:8080", false},
		{"http://example.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"grpc://[2001:db8::1]:9090", false},
	} {
		err := CheckLoopback(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	// New refuses before dialling anything, and --allow-remote lifts the check.
	if _, err := New(context.Background(), Config{URL: "http://192.0.2.1:8080"}); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("remote target: %v", err)
	}
	tg, err := New(context.Background(), Config{URL: "http://192.0.2.1:8080", AllowRemote: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = tg.Close()
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix([]byte(mixYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 || m.Entries[0].Query.GetOptions().GetPriority() != "interactive" || m.Entries[1].Query.GetOptions().GetTimeoutMs() != 2000 {
		t.Fatalf("entries %+v", m.Entries)
	}
	var js map[string]any
	if err := json.Unmarshal(m.Entries[1].JSON, &js); err != nil || js["options"].(map[string]any)["priority"] != "bulk" {
		t.Fatalf("JSON %s: %v", m.Entries[1].JSON, err)
	}
	counts := map[string]int{}
	for i := range uint64(40000) {
		counts[m.Pick(i).Name]++
	}
	if r := float64(counts["top-pages"]) / 40000; r < 0.73 || r > 0.77 {
		t.Fatalf("top-pages picked %.3f of the time, want 0.75", r)
	}
	// A bare JSON list works too.
	if _, err := ParseMix([]byte(`[{"query": {"dataset": "d", "metrics": [{"agg": "COUNT"}]}}]`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, err string }{
		{`queries: []`, "no queries"},
		{`queries: [{query: {dataset: d}, priority: urgent}]`, "priority"},
		{`queries: [{query: {dataset: d, bogus: 1}}]`, "not an olapgate query"},
		{`queries: [{name: x}]`, "no query"},
		{`queries: [{weight: 0, query: {dataset: d}}]`, "weight 0"},
		{`queries: [{weight: -1, query: {dataset: d}}]`, "out of range"},
		{`{{{`, "decode"},
	} {
		if _, err := ParseMix([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestPayloads(t *testing.T) {
	p := NewPayloads("pageviews", 50, 2, 1)
	a, b := p.Body(7), p.Body(9)
	if bytes.Count(a, []byte("\n")) != 50 {
		t.Fatalf("batch of %d lines", bytes.Count(a, []byte("\n")))
	}
	ids := map[string]bool{}
	for _, body := range [][]byte{a, b} {
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("line %s: %v", sc.Bytes(), err)
			}
			id := ev["id"].(string)
			if ids[id] || ev["user_id"] == nil {
				t.Fatalf("event %v: duplicate id or lost user_id", ev)
			}
			ids[id] = true
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func run(t *testing.T, tg loadtest.Target, rate float64, d time.Duration) *loadtest.Result {
	t.Helper()
	// A quiet 100ms tail: on a busy machine the dispatcher may wake a little after the last
	// planned send, and a send planned inside the run must not be dropped for being late.
	sched := schedule.Constant(rate, d)
	sched.Segments = append(sched.Segments, schedule.Segment{Duration: 100 * time.Millisecond})
	res, err := loadtest.Run(context.Background(), tg, loadtest.Options{Schedule: sched, MaxCPU: -1, MaxLateness: -1})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGRPCHealth(t *testing.T) {
	l := listen(t)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	tg, err := New(context.Background(), Config{URL: "grpc://" + l.Addr().String(), Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tg.Close() }()
	res := run(t, tg, 200, 500*time.Millisecond)
	if res.OK != 100 || res.Statuses["OK"] != 100 || res.LatencyMs.P99 > 200 {
		t.Fatalf("ok %d statuses %v latency %+v", res.OK, res.Statuses, res.LatencyMs)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	res = run(t, tg, 100, 100*time.Millisecond)
	if res.Errors != 10 || res.Statuses["NOT_SERVING"] != 10 {
		t.Fatalf("not serving: statuses %v", res.Statuses)
	}
}

func TestGRPCConnectFails(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	_ = l.Close()
	_, err := New(context.Background(), Config{URL: "grpc://" + addr, ConnectTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("err %v", err)
	}
}

type fakeQuery struct {
	olapgatev1.UnimplementedQueryServiceServer
	mu  sync.Mutex
	got map[string]int // "tenant/priority/dataset"
}

func (f *fakeQuery) Aggregate(ctx context.Context, req *olapgatev1.AggregateRequest) (*olapgatev1.AggregateResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.got[strings.Join(md.Get("x-olapgate-tenant"), ",")+"/"+req.GetQuery().GetOptions().GetPriority()]++
	f.mu.Unlock()
	return &olapgatev1.AggregateResponse{}, nil
}

type fakeIngest struct {
	olapgatev1.UnimplementedIngestServiceServer
	mu     sync.Mutex
	events int
	tenant string
}

func (f *fakeIngest) Ingest(ctx context.Context, req *olapgatev1.IngestRequest) (*olapgatev1.IngestResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events += bytes.Count(req.GetJsonLines(), []byte("\n"))
	f.tenant = strings.Join(md.Get("x-olapgate-tenant"), ",")
	return &olapgatev1.IngestResponse{Accepted: 1}, nil
}

func TestGRPCAggregateAndIngest(t *testing.T) {
	l := listen(t)
	srv := grpc.NewServer()
	q := &fakeQuery{got: map[string]int{}}
	ing := &fakeIngest{}
	olapgatev1.RegisterQueryServiceServer(srv, q)
	olapgatev1.RegisterIngestServiceServer(srv, ing)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	mix, err := ParseMix([]byte(mixYAML))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(context.Background(), Config{URL: "grpc://" + l.Addr().String(), Mix: mix, Tenant: "default"})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, tg, 400, 500*time.Millisecond)
	_ = tg.Close()
	if res.OK != 200 || q.got["acme/interactive"]+q.got["default/bulk"] != 200 || q.got["acme/interactive"] < 120 {
		t.Fatalf("ok %d, server saw %v; offered %d sent %d dropped %d/%d statuses %v samples %v", res.OK, q.got, res.Offered, res.Sent, res.DroppedInFlight, res.DroppedLate, res.Statuses, res.ErrorSamples)
	}

	tg, err = New(context.Background(), Config{URL: "grpc://" + l.Addr().String(), Payloads: NewPayloads("pageviews", 20, 4, 1), Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	res = run(t, tg, 100, 200*time.Millisecond)
	_ = tg.Close()
	if res.OK != 20 || ing.events != 400 || ing.tenant != "acme" {
		t.Fatalf("ok %d, server saw %d events from %q", res.OK, ing.events, ing.tenant)
	}
}

func TestHTTP(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + r.Header.Get("X-Olapgate-Tenant")
		seen[key]++
		mu.Unlock()
		switch {
		case r.URL.Path == "/v1/query":
			var q map[string]any
			if json.Unmarshal(body, &q) != nil || q["dataset"] != "pageviews" {
				http.Error(w, "bad query", http.StatusBadRequest)
				return
			}
		case r.URL.Path == "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	mix, err := ParseMix([]byte(mixYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  Config
		code string
		key  string
	}{
		{Config{URL: srv.URL, Mix: mix}, "200", "POST /v1/query application/json acme"},
		{Config{URL: srv.URL, Payloads: NewPayloads("pageviews", 10, 1, 1), Tenant: "t2"}, "200", "POST /v1/datasets/pageviews/events application/x-ndjson t2"},
		{Config{URL: srv.URL, Op: OpHealth}, "200", "GET /healthz  "},
		{Config{URL: srv.URL + "/busy"}, "503", "GET /busy  "},
		{Config{URL: srv.URL + "/echo", Body: []byte(`{"a":1}`)}, "200", "POST /echo application/json "},
	} {
		tg, err := New(context.Background(), tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, tg, 200, 100*time.Millisecond)
		_ = tg.Close()
		mu.Lock()
		n := seen[tc.key]
		mu.Unlock()
		if res.Statuses[tc.code] != 20 || n < 10 {
			t.Errorf("%s: statuses %v, server saw %v", tc.cfg.URL, res.Statuses, seen)
		}
	}
	// Nothing listening: a transport error code, not a crash.
	l := listen(t)
	addr := l.Addr().String()
	_ = l.Close()
	tg, err := New(context.Background(), Config{URL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, tg, 100, 50*time.Millisecond)
	_ = tg.Close()
	if res.Statuses["connection_refused"] != 5 {
		t.Fatalf("statuses %v", res.Statuses)
	}
}
