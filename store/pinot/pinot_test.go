package pinot

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// request is what the fake broker saw.
type request struct {
	Method, Path, Query, Auth string
	SQL                       string
	Options                   map[string]string
}

// broker is an httptest Pinot broker answering every query with body (status 200 unless
// set), recording requests; hold, when set, delays the answer until the request ends.
type broker struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	status   int
	hold     bool
	reqs     []request
	received chan request
}

func newBroker(t *testing.T, body []byte) *broker {
	b := &broker{body: body, received: make(chan request, 16)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
		if r.Method == http.MethodPost {
			var in struct{ SQL, QueryOptions string }
			raw, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Errorf("broker: request body %s: %v", raw, err)
			}
			req.SQL = in.SQL
			req.Options = map[string]string{}
			for _, kv := range strings.Split(in.QueryOptions, ";") {
				k, v, _ := strings.Cut(kv, "=")
				req.Options[k] = v
			}
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, req)
		body, code, hold := b.body, b.status, b.hold
		b.mu.Unlock()
		b.received <- req
		if hold && r.Method == http.MethodPost {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		if code == 0 {
			code = 200
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(b.Close)
	return b
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func stmt(types ...store.ColumnType) store.Statement {
	st := store.Statement{SQL: "SELECT COUNT(*) AS \"__m0\"\nFROM \"clicks\"\nWHERE \"time\" >= 1 AND \"time\" < 2\nLIMIT 10"}
	for i, ty := range types {
		st.Output = append(st.Output, store.ResultColumn{Name: "c" + strconv.Itoa(i), Type: ty})
	}
	return st
}

func codeOf(err error) codes.Code {
	st, _ := status.FromError(err)
	return st.Code()
}

func TestQueryResults(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	for _, tc := range []struct {
		fixture string
		out     []store.ColumnType
		rows    string
		meta    store.ResultMeta
	}{
		{"ok_selection.json", []store.ColumnType{store.TypeInt64, store.TypeInt64, store.TypeString},
			"[[40015 2019 xyz] [1002 2001 pqr] [20555 1988 pqr] [203 2010 pqr] [500 2008 abc] [60 2003 abc]]",
			store.ResultMeta{RowsScanned: 6}},
		{"ok_groupby.json", []store.ColumnType{store.TypeTimestamp, store.TypeString, store.TypeBool, store.TypeInt64, store.TypeInt64, store.TypeDouble, store.TypeTimestamp},
			fmt.Sprint([][]any{
				{ms(1795305600000), "BlackFriday", true, int64(120), int64(9120), 149.2, ms(1795309200000)},
				{ms(1795305600000), nil, false, int64(3), nil, math.NaN(), nil},
				{ms(1795309200000), "Cyber", nil, int64(0), int64(12), 1.5, ms(1795312800000)},
			}),
			store.ResultMeta{RowsScanned: 123, QueryID: "6523465", CompleteUpTo: ms(1795391999000)}},
		{"partial_servers.json", []store.ColumnType{store.TypeInt64}, "[[61]]",
			store.ResultMeta{Partial: true, RowsScanned: 61, QueryID: "8812"}},
		{"partial_flag_only.json", []store.ColumnType{store.TypeInt64}, "[[7]]",
			store.ResultMeta{Partial: true, RowsScanned: 7}},
		{"groups_limit.json", []store.ColumnType{store.TypeString, store.TypeInt64}, "[[a 10] [b 9]]",
			store.ResultMeta{Trimmed: true, RowsScanned: 1000000}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			b := newBroker(t, fixture(t, "broker/"+tc.fixture))
			s := openStore(t, Config{Brokers: []string{b.URL}})
			res, err := s.Query(context.Background(), stmt(tc.out...))
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(res.Rows); got != tc.rows {
				t.Errorf("rows %s\nwant %s", got, tc.rows)
			}
			for i, row := range res.Rows {
				for j, v := range row {
					if v == nil {
						continue
					}
					want := map[store.ColumnType]string{store.TypeInt64: "int64", store.TypeDouble: "float64", store.TypeString: "string", store.TypeBool: "bool", store.TypeTimestamp: "time.Time"}[tc.out[j]]
					if got := fmt.Sprintf("%T", v); got != want {
						t.Errorf("row %d col %d: %s, want %s", i, j, got, want)
					}
				}
			}
			if tc.meta.QueryID == "" {
				// Without a requestId the store reports its own clientQueryId.
				if !strings.HasPrefix(res.Meta.QueryID, "olapgate-") {
					t.Errorf("query id %q", res.Meta.QueryID)
				}
				res.Meta.QueryID = ""
			}
			if !res.Meta.CompleteUpTo.Equal(tc.meta.CompleteUpTo) {
				t.Errorf("completeUpTo %v, want %v", res.Meta.CompleteUpTo, tc.meta.CompleteUpTo)
			}
			res.Meta.CompleteUpTo, tc.meta.CompleteUpTo = time.Time{}, time.Time{}
			if res.Meta != tc.meta {
				t.Errorf("meta %+v, want %+v", res.Meta, tc.meta)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		code     codes.Code
		pinot    int
		overload bool
	}{
		{"err_150_parse.json", codes.Internal, 150, false},
		{"err_180_access.json", codes.PermissionDenied, 180, false},
		{"err_190_table.json", codes.NotFound, 190, false},
		{"err_200_execution.json", codes.Internal, 200, false},
		{"err_211_capacity.json", codes.ResourceExhausted, 211, true},
		{"err_245_resource.json", codes.ResourceExhausted, 245, true},
		{"err_250_timeout.json", codes.DeadlineExceeded, 250, false},
		{"err_305_segments.json", codes.Unavailable, 305, false},
		{"err_400_broker_timeout.json", codes.DeadlineExceeded, 400, false},
		{"err_427_no_server.json", codes.Unavailable, 427, false},
		{"err_429_too_many.json", codes.ResourceExhausted, 429, true},
		{"err_503_cancelled.json", codes.Canceled, 503, false},
		{"err_700_validation.json", codes.InvalidArgument, 700, false},
		{"err_710_column.json", codes.FailedPrecondition, 710, false},
		{"err_9999_unknown.json", codes.Internal, 9999, false},
		{"err_overload_second.json", codes.ResourceExhausted, 211, true},
		{"bad_truncated.json", codes.Internal, 0, false},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			raw := fixture(t, "broker/"+tc.fixture)
			b := newBroker(t, raw)
			s := openStore(t, Config{Brokers: []string{b.URL}})
			_, err := s.Query(context.Background(), stmt(store.TypeInt64))
			if err == nil {
				t.Fatal("no error")
			}
			if got := codeOf(err); got != tc.code {
				t.Errorf("code %v, want %v: %v", got, tc.code, err)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.pinot {
				t.Errorf("pinot code %+v, want %d", pe, tc.pinot)
			}
			if IsOverload(err) != tc.overload {
				t.Errorf("IsOverload %v, want %v", IsOverload(err), tc.overload)
			}
			// The error keeps Pinot's code and message, and names the broker.
			var in struct{ Exceptions []exception }
			if json.Unmarshal(raw, &in) == nil {
				for _, e := range in.Exceptions {
					if !strings.Contains(err.Error(), fmt.Sprintf("error %d", e.ErrorCode)) || !strings.Contains(err.Error(), clip(e.Message)) {
						t.Errorf("error %q lacks exception %d %q", err, e.ErrorCode, e.Message)
					}
				}
			}
			if !strings.Contains(err.Error(), b.URL) {
				t.Errorf("error %q does not name the broker", err)
			}
		})
	}
}

func TestPartialRejected(t *testing.T) {
	for _, f := range []string{"partial_servers.json", "partial_flag_only.json"} {
		b := newBroker(t, fixture(t, "broker/"+f))
		s := openStore(t, Config{Brokers: []string{b.URL}, RejectPartial: true})
		if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); codeOf(err) != codes.Unavailable {
			t.Errorf("%s: %v, want Unavailable", f, err)
		}
	}
}

func TestShapeMismatch(t *testing.T) {
	b := newBroker(t, fixture(t, "broker/ok_selection.json"))
	s := openStore(t, Config{Brokers: []string{b.URL}})
	for name, st := range map[string]store.Statement{
		"columns": stmt(store.TypeInt64),
		"types":   stmt(store.TypeInt64, store.TypeString, store.TypeString),
		"bool":    stmt(store.TypeBool, store.TypeInt64, store.TypeString),
	} {
		if _, err := s.Query(context.Background(), st); codeOf(err) != codes.Internal {
			t.Errorf("%s: %v, want Internal", name, err)
		}
	}
	st := stmt(store.TypeInt64)
	st.Args = []any{1}
	if _, err := s.Query(context.Background(), st); codeOf(err) != codes.Internal {
		t.Errorf("args: %v", err)
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		v    any
		t    store.ColumnType
		want string
	}{
		{json.Number("9007199254740993"), store.TypeInt64, "9007199254740993"},
		{json.Number("1.5E3"), store.TypeInt64, "1500"},
		{json.Number("1.5"), store.TypeInt64, "error"},
		{json.Number("1e30"), store.TypeInt64, "error"},
		{"7", store.TypeInt64, "error"},
		{json.Number("2"), store.TypeBool, "error"},
		{json.Number("1"), store.TypeBool, "true"},
		{"Infinity", store.TypeDouble, "+Inf"},
		{"x", store.TypeDouble, "error"},
		{"2023-11-14 22:13:20.123", store.TypeTimestamp, "2023-11-14 22:13:20.123 +0000 UTC"},
		{json.Number("1700000000123"), store.TypeTimestamp, "2023-11-14 22:13:20.123 +0000 UTC"},
		{json.Number("1"), store.TypeString, "error"},
		{true, store.TypeTimestamp, "error"},
	} {
		got, err := convert(tc.v, tc.t)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error"
		}
		if s != tc.want {
			t.Errorf("convert(%#v, %v) = %s (%v), want %s", tc.v, tc.t, s, err, tc.want)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		status   int
		body     string
		code     codes.Code
		overload bool
	}{
		{401, "Unauthorized", codes.Unauthenticated, false},
		{403, `{"code":403,"error":"Permission denied"}`, codes.PermissionDenied, false},
		{429, "slow down", codes.ResourceExhausted, true},
		{500, "boom", codes.Internal, false},
		{503, "", codes.Unavailable, false},
		// Pinot-Use-Http-Status-For-Errors: exceptions with the HTTP status of the first one.
		{404, `{"exceptions":[{"errorCode":190,"message":"TableDoesNotExistError"}]}`, codes.NotFound, false},
	} {
		b := newBroker(t, []byte(tc.body))
		b.status = tc.status
		s := openStore(t, Config{Brokers: []string{b.URL}})
		_, err := s.Query(context.Background(), stmt(store.TypeInt64))
		if codeOf(err) != tc.code || IsOverload(err) != tc.overload {
			t.Errorf("HTTP %d: %v (overload %v), want %v", tc.status, err, IsOverload(err), tc.code)
		}
	}
}

// TestRequestShape checks what the broker receives: the statement, the options (timeoutMs
// within the deadline minus the margin, null handling on, the clientQueryId from the trace),
// the Authorization header.
func TestRequestShape(t *testing.T) {
	b := newBroker(t, fixture(t, "broker/partial_flag_only.json"))
	s := openStore(t, Config{Brokers: []string{b.URL + "/"}, TimeoutMargin: 100 * time.Millisecond, Authorization: "Basic YWRtaW46dmVyeXNlY3JldA=="})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	st := stmt(store.TypeInt64)
	if _, err := s.Query(ctx, st); err != nil {
		t.Fatal(err)
	}
	req := <-b.received
	if req.Method != "POST" || req.Path != "/query/sql" || req.SQL != st.SQL || req.Auth != "Basic YWRtaW46dmVyeXNlY3JldA==" {
		t.Errorf("request %+v", req)
	}
	ms, err := strconv.ParseInt(req.Options["timeoutMs"], 10, 64)
	if max := time.Until(deadline) - 100*time.Millisecond + 50*time.Millisecond; err != nil || ms <= 1000 || time.Duration(ms)*time.Millisecond > 1900*time.Millisecond || time.Duration(ms)*time.Millisecond > max+time.Second {
		t.Errorf("timeoutMs %q, deadline in 2s, margin 100ms", req.Options["timeoutMs"])
	}
	if req.Options["enableNullHandling"] != "true" {
		t.Errorf("options %v", req.Options)
	}
	if id := req.Options["clientQueryId"]; !strings.HasPrefix(id, "4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("clientQueryId %q", id)
	}
	if len(req.Options) != 3 {
		t.Errorf("options %v", req.Options)
	}

	// Without a deadline the default timeout applies; without a trace the id is random.
	if _, err := s.Query(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	req = <-b.received
	if req.Options["timeoutMs"] != strconv.FormatInt(DefaultQueryTimeout.Milliseconds(), 10) && req.Options["timeoutMs"] != strconv.FormatInt(DefaultQueryTimeout.Milliseconds()-1, 10) {
		t.Errorf("default timeoutMs %q", req.Options["timeoutMs"])
	}
	if id := req.Options["clientQueryId"]; !strings.HasPrefix(id, "olapgate-") {
		t.Errorf("clientQueryId %q", id)
	}

	// A deadline inside the margin fails before calling the broker.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := s.Query(short, st); codeOf(err) != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("short deadline: %v", err)
	}
	select {
	case r := <-b.received:
		t.Errorf("broker called with %+v", r)
	default:
	}
}

// TestSlowBroker: a broker that does not answer before the deadline. The call ends at the
// deadline with DeadlineExceeded and the store asks the broker to cancel the query.
func TestSlowBroker(t *testing.T) {
	b := newBroker(t, nil)
	b.hold = true
	s := openStore(t, Config{Brokers: []string{b.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Query(ctx, stmt(store.TypeInt64))
	took := time.Since(start)
	if codeOf(err) != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
	if took < 290*time.Millisecond || took > 800*time.Millisecond {
		t.Errorf("call took %s, deadline 300ms", took)
	}
	q := <-b.received
	select {
	case c := <-b.received:
		if c.Method != "DELETE" || c.Path != "/query/"+q.Options["clientQueryId"] || c.Query != "client=true" {
			t.Errorf("cancel request %+v for query %s", c, q.Options["clientQueryId"])
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no cancel request")
	}

	// A caller that goes away cancels too, with Canceled.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := s.Query(ctx, stmt(store.TypeInt64)); codeOf(err) != codes.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	<-b.received
	select {
	case c := <-b.received:
		if c.Method != "DELETE" {
			t.Errorf("cancel request %+v", c)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no cancel request after the caller left")
	}
}

// TestCloseAbortsQueries: Close ends calls in flight and waits for them; later calls fail;
// Close twice is fine. goleak (TestMain) checks no goroutine survives.
func TestCloseAbortsQueries(t *testing.T) {
	b := newBroker(t, nil)
	b.hold = true
	s, err := Open(context.Background(), Config{Brokers: []string{b.URL}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Query(context.Background(), stmt(store.TypeInt64))
		errc <- err
	}()
	<-b.received
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %s", took)
	}
	if err := <-errc; !errors.Is(err, store.ErrClosed) || codeOf(err) != codes.Unavailable {
		t.Errorf("in-flight query: %v", err)
	}
	if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBrokerFailover(t *testing.T) {
	b := newBroker(t, fixture(t, "broker/partial_flag_only.json"))
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	s := openStore(t, Config{Brokers: []string{deadURL, b.URL}})
	for range 4 {
		if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openStore(t, Config{Brokers: []string{deadURL}})
	if _, err := s2.Query(context.Background(), stmt(store.TypeInt64)); codeOf(err) != codes.Unavailable {
		t.Errorf("dead broker: %v", err)
	}
}

// controller is an httptest controller serving broker discovery, schemas and tables.
type controller struct {
	*httptest.Server
	mu      sync.Mutex
	brokers []byte
	schemas map[string][]byte
	tables  map[string][]byte
	gets    int
}

func newController(t *testing.T) *controller {
	c := &controller{schemas: map[string][]byte{}, tables: map[string][]byte{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case r.URL.Path == "/v2/brokers/tables":
			if r.URL.Query().Get("state") != "ONLINE" {
				t.Errorf("discovery query %q", r.URL.RawQuery)
			}
			c.gets++
			_, _ = w.Write(c.brokers)
		case strings.HasPrefix(r.URL.Path, "/schemas/"):
			body, ok := c.schemas[strings.TrimPrefix(r.URL.Path, "/schemas/")]
			if !ok {
				http.Error(w, `{"code":404,"error":"Schema not found"}`, 404)
				return
			}
			_, _ = w.Write(body)
		case strings.HasPrefix(r.URL.Path, "/tables/"):
			body, ok := c.tables[strings.TrimPrefix(r.URL.Path, "/tables/")]
			if !ok {
				body = []byte("{}")
			}
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *controller) setBrokers(t *testing.T, clicks, other *broker) {
	port := func(b *broker) string { return b.URL[strings.LastIndexByte(b.URL, ':')+1:] }
	raw := strings.NewReplacer("PORT_CLICKS", port(clicks), "PORT_OTHER", port(other)).Replace(string(fixture(t, "controller/brokers_tables.json")))
	c.mu.Lock()
	c.brokers = []byte(raw)
	c.mu.Unlock()
}

func TestDiscovery(t *testing.T) {
	b1 := newBroker(t, fixture(t, "broker/partial_flag_only.json"))
	b2 := newBroker(t, fixture(t, "broker/partial_flag_only.json"))
	c := newController(t)
	c.setBrokers(t, b1, b2)
	s := openStore(t, Config{Controller: c.URL, DiscoveryInterval: 50 * time.Millisecond})
	// The query on "clicks" goes to the clicks broker only.
	for range 3 {
		if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b1.received:
		case r := <-b2.received:
			t.Fatalf("query went to the other table's broker: %+v", r)
		}
	}
	// The controller moves clicks to the other broker; the refresh follows.
	c.setBrokers(t, b2, b1)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b2.received:
			return
		case <-b1.received:
		}
		if time.Now().After(deadline) {
			t.Fatal("discovery did not follow the controller")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDiscoveryFailures(t *testing.T) {
	c := newController(t)
	c.brokers = []byte("{}")
	if _, err := Open(context.Background(), Config{Controller: c.URL}); err == nil || !strings.Contains(err.Error(), "no online broker") {
		t.Errorf("empty discovery: %v", err)
	}
	c.brokers = []byte("not json")
	if _, err := Open(context.Background(), Config{Controller: c.URL}); err == nil {
		t.Error("bad discovery answer: no error")
	}
	// A failed refresh keeps the brokers found before and is reported.
	b := newBroker(t, fixture(t, "broker/partial_flag_only.json"))
	c.setBrokers(t, b, b)
	s := openStore(t, Config{Controller: c.URL, DiscoveryInterval: 20 * time.Millisecond})
	c.mu.Lock()
	c.brokers = []byte("[")
	c.mu.Unlock()
	deadline := time.Now().Add(3 * time.Second)
	for s.DiscoveryError() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.DiscoveryError() == nil {
		t.Error("no discovery error reported")
	}
	if _, err := s.Query(context.Background(), stmt(store.TypeInt64)); err != nil {
		t.Errorf("query with the last known brokers: %v", err)
	}
}

func clicksDataset(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "clicks", TimeColumn: "time", TenantColumn: "tenant", EventID: "id", Backend: dataset.BackendPinot,
		PrimaryKey: []string{"ID"},
		Dimensions: []dataset.Field{
			{Name: "campaign", Type: dataset.String}, {Name: "slot", Type: dataset.Int}, {Name: "mobile", Type: dataset.Bool},
			{Name: "seen", Type: dataset.Timestamp}, {Name: "score", Type: dataset.Float},
		},
		Metrics: []dataset.Field{{Name: "price", Type: dataset.Float}, {Name: "qty", Type: dataset.Int}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSchemaFor(t *testing.T) {
	s, err := SchemaFor(clicksDataset(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "schema_clicks.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := fixture(t, "schema_clicks.json"); string(got) != string(want) {
		t.Errorf("schema differs from %s (go test ./store/pinot -run TestSchemaFor -update):\n%s", path, got)
	}
	if _, err := SchemaFor(&dataset.Dataset{Name: "x"}); err == nil {
		t.Error("unvalidated dataset: no error")
	}
}

func TestEnsureDataset(t *testing.T) {
	d := clicksDataset(t)
	b := newBroker(t, nil)
	c := newController(t)
	c.setBrokers(t, b, b)
	s := openStore(t, Config{Controller: c.URL})
	if err := s.EnsureDataset(context.Background(), d); codeOf(err) != codes.NotFound || !strings.Contains(err.Error(), "no schema clicks") {
		t.Errorf("no schema: %v", err)
	}
	c.mu.Lock()
	c.schemas["clicks"] = fixture(t, "schema_clicks.json")
	c.mu.Unlock()
	if err := s.EnsureDataset(context.Background(), d); codeOf(err) != codes.NotFound || !strings.Contains(err.Error(), "no REALTIME or OFFLINE table") {
		t.Errorf("no table: %v", err)
	}
	c.mu.Lock()
	c.tables["clicks"] = []byte(`{"REALTIME": {"tableName": "clicks_REALTIME", "tableType": "REALTIME"}}`)
	c.mu.Unlock()
	if err := s.EnsureDataset(context.Background(), d); err != nil {
		t.Errorf("existing table: %v", err)
	}
	c.mu.Lock()
	c.schemas["clicks"] = []byte(strings.Replace(string(fixture(t, "schema_clicks.json")), `"qty",
      "dataType": "LONG"`, `"qty",
      "dataType": "INT"`, 1))
	c.mu.Unlock()
	if err := s.EnsureDataset(context.Background(), d); codeOf(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "column qty is INT, want LONG") {
		t.Errorf("mismatched schema: %v", err)
	}

	// Without a controller there is nothing to check.
	s2 := openStore(t, Config{Brokers: []string{b.URL}})
	if err := s2.EnsureDataset(context.Background(), d); err != nil {
		t.Errorf("brokers only: %v", err)
	}
}

func TestWriteRefused(t *testing.T) {
	s := openStore(t, Config{Brokers: []string{"http://127.0.0.1:1"}})
	_, err := s.Write(context.Background(), store.NewBatch(clicksDataset(t), 0))
	if !errors.Is(err, ErrWriteUnsupported) || codeOf(err) != codes.FailedPrecondition {
		t.Errorf("write: %v", err)
	}
	if s.Dialect() != "pinot" {
		t.Errorf("dialect %q", s.Dialect())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "brokers or controller is required"},
		{Config{Brokers: []string{"broker:8099"}}, "want http(s)://host:port"},
		{Config{Brokers: []string{"http://b:8099?x=1"}}, "no query"},
		{Config{Controller: "ftp://c"}, "controller"},
		{Config{Brokers: []string{"http://b"}, TimeoutMargin: -time.Second}, "timeoutMargin -1s: must not be negative"},
		{Config{Brokers: []string{"http://b"}, TimeoutMargin: time.Minute}, "shorter than defaultTimeout"},
		{Config{Brokers: []string{"http://b"}, MaxResponseBytes: -1}, "maxResponseBytes"},
		{Config{Brokers: []string{"https://b:8099"}, Controller: "http://c:9000"}, ""},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTableOf(t *testing.T) {
	if got := tableOf("SELECT 1\nFROM \"clicks\"\nWHERE x"); got != "clicks" {
		t.Errorf("tableOf = %q", got)
	}
	if got := tableOf("SELECT 1"); got != "" {
		t.Errorf("tableOf = %q", got)
	}
}

// FuzzDecodeResponse: any broker body either decodes into rows of exactly the planned types
// or fails with a *Error carrying a status; never a panic.
func FuzzDecodeResponse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "broker", "*.json"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	out := []store.ResultColumn{{Name: "t", Type: store.TypeTimestamp}, {Name: "s", Type: store.TypeString}, {Name: "b", Type: store.TypeBool},
		{Name: "i", Type: store.TypeInt64}, {Name: "d", Type: store.TypeDouble}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for n := 1; n <= len(out); n++ {
			res, err := decodeResponse("fuzz", raw, out[:n], false)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || codeOf(err) == codes.OK || codeOf(err) == codes.Unknown {
					t.Fatalf("error %v (%T) has no status", err, err)
				}
				continue
			}
			for _, row := range res.Rows {
				if len(row) != n {
					t.Fatalf("row %v, want %d values", row, n)
				}
				for j, v := range row {
					ok := v == nil
					switch v.(type) {
					case time.Time:
						ok = out[j].Type == store.TypeTimestamp
					case string:
						ok = out[j].Type == store.TypeString
					case bool:
						ok = out[j].Type == store.TypeBool
					case int64:
						ok = out[j].Type == store.TypeInt64
					case float64:
						ok = out[j].Type == store.TypeDouble
					}
					if !ok {
						t.Fatalf("column %d (%v): %T", j, out[j].Type, v)
					}
				}
			}
		}
	})
}
