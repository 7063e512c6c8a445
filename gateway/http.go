package gateway

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/jsonstr"
	"github.com/olapgate/olapgate/store"
)

// maxQueryBody bounds a query request body; queries are small.
const maxQueryBody = 1 << 20

// Handler returns the HTTP API: olapgate's own handlers for ingest (columnar JSON decoder) and
// query results (typed JSON rows), and grpc-gateway for the rest of the services.
func (g *Gateway) Handler(ctx context.Context) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, TenantHeader) {
				return TenantMetadata, true
			}
			if strings.EqualFold(key, "traceparent") || strings.EqualFold(key, "tracestate") {
				return strings.ToLower(key), true // W3C trace context, continued by self-tracing
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
		runtime.WithErrorHandler(func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, err)
		}),
	)
	if err := olapgatev1.RegisterQueryServiceHandlerServer(ctx, gw, g); err != nil {
		return nil, fmt.Errorf("register query service handlers: %w", err)
	}
	if err := olapgatev1.RegisterIngestServiceHandlerServer(ctx, gw, g); err != nil {
		return nil, fmt.Errorf("register ingest service handlers: %w", err)
	}
	if g.telemetry != nil {
		if err := olapgatev1.RegisterTelemetryServiceHandlerServer(ctx, gw, g.telemetry); err != nil {
			return nil, fmt.Errorf("register telemetry routes: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/datasets/{dataset}/events", g.handleIngest)
	mux.HandleFunc("POST /v1/query", g.handleQuery)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !g.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: stores are opening\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", g.metrics.Handler())
	doc, err := openAPIDoc()
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	mux.Handle("/", gw)
	return mux, nil
}

// withTenant moves the tenant header into incoming gRPC metadata, where the services read it,
// so HTTP and gRPC requests share one code path.
func withTenant(r *http.Request) context.Context {
	ctx := r.Context()
	if t := r.Header.Get(TenantHeader); t != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(TenantMetadata, t))
	}
	return ctx
}

// handleIngest is POST /v1/datasets/{dataset}/events: JSON array or NDJSON decoded straight
// into column buffers (google.protobuf.Struct costs ~4x more per event).
func (g *Gateway) handleIngest(w http.ResponseWriter, r *http.Request) {
	d, err := g.dataset(r.PathValue("dataset"))
	if err != nil {
		writeError(w, err)
		return
	}
	// Reserve what the body may take before reading it: its declared length, or the limit.
	want := r.ContentLength
	if want <= 0 || r.Header.Get("Content-Encoding") != "" {
		want = g.cfg.MaxBodyBytes
	}
	release, err := g.ingestMem.acquire(r.Context(), want)
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	body, err := g.readIngestBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errInflatedTooLarge) {
			writeErrorCode(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
				fmt.Sprintf("ingest: request body over %d bytes (limit maxBodyBytes)", g.cfg.MaxBodyBytes))
			return
		}
		writeError(w, status.Errorf(codes.InvalidArgument, "ingest: read body: %v", err))
		return
	}
	format := decode.FormatArray
	switch ct := strings.ToLower(r.Header.Get("Content-Type")); {
	case strings.HasPrefix(ct, "application/x-ndjson"), strings.HasPrefix(ct, "application/jsonl"),
		strings.HasPrefix(ct, "application/ndjson"):
		format = decode.FormatNDJSON
	}
	batch, rej, err := decode.JSON(d, body, format, 0, decode.Limits{MaxEvents: g.cfg.MaxEvents})
	if err != nil {
		if errors.Is(err, decode.ErrTooManyEvents) {
			writeErrorCode(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "ingest: "+err.Error())
			return
		}
		writeError(w, status.Error(codes.InvalidArgument, "ingest: "+err.Error()))
		return
	}
	ctx := withTenant(r)
	rej = applyTenant(ctx, d, batch, rej, 0)
	if err := g.write(ctx, batch); err != nil {
		writeError(w, err)
		return
	}
	g.metrics.observeIngest(d.Name, "http", batch.N, len(rej))
	code := http.StatusOK
	if batch.N == 0 && len(rej) > 0 {
		code = http.StatusBadRequest
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"accepted":%d,"rejected":[`, batch.N)
	for i, x := range rej {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"index":%d,"reason":`, x.Index)
		b.Write(jsonstr.Append(nil, x.Reason))
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, `],"ack":%q}`, g.ackFor(d))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, b.String())
}

var errInflatedTooLarge = errors.New("decompressed body over the limit")

// readIngestBody reads the body, inflating Content-Encoding: gzip. The byte limit applies to
// the compressed bytes and to the inflated ones, so a small gzip bomb is refused too.
func (g *Gateway) readIngestBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	in := io.Reader(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return io.ReadAll(in)
	case "gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(zr, g.cfg.MaxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		if int64(len(body)) > g.cfg.MaxBodyBytes {
			return nil, errInflatedTooLarge
		}
		return body, nil
	default:
		return nil, fmt.Errorf("Content-Encoding %q: only gzip is accepted", enc)
	}
}

// handleQuery is POST /v1/query with olapgate's result encoder: rows as JSON arrays, numbers
// as JSON numbers, nulls as null, timestamps RFC 3339 in the query's zone.
func (g *Gateway) handleQuery(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err != nil {
		writeErrorCode(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
			fmt.Sprintf("query: request body over %d bytes", maxQueryBody))
		return
	}
	pb, err := g.parsed.parse(body)
	if err != nil {
		writeError(w, status.Errorf(codes.InvalidArgument, "query: decode JSON body: %v", err))
		return
	}
	ctx := withTenant(r)
	// grpc-gateway honours Grpc-Timeout on its routes; this hand-written one does too, so HTTP
	// clients can set a deadline the same way. The request context already ends when the
	// client goes away, which cancels the backend query.
	if v := r.Header.Get("Grpc-Timeout"); v != "" {
		d, err := parseGrpcTimeout(v)
		if err != nil {
			writeError(w, status.Errorf(codes.InvalidArgument, "Grpc-Timeout header %q: %v", v, err))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	a, err := g.run(withRemoteParent(ctx, r.Header), pb)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(encodeResult(a))
}

// parseGrpcTimeout reads the gRPC wire format: up to 8 digits and a unit among H M S m u n.
func parseGrpcTimeout(v string) (time.Duration, error) {
	if len(v) < 2 || len(v) > 9 {
		return 0, errors.New("want 1 to 8 digits and a unit (H, M, S, m, u, n)")
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want 1 to 8 digits and a unit (H, M, S, m, u, n)")
	}
	units := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}
	u, ok := units[v[len(v)-1]]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q: want H, M, S, m, u or n", v[len(v)-1])
	}
	return time.Duration(n) * u, nil
}

// encodeResult writes the HTTP form of an answer (DESIGN §5).
func encodeResult(a *answer) []byte {
	if a.enc == nil {
		return appendResult(make([]byte, 0, 256+len(a.result.Rows)*len(a.result.Columns)*12), a)
	}
	a.enc.jsonOnce.Do(func() { a.enc.json = appendColumnsRows(nil, a.result) })
	buf := make([]byte, 0, len(a.enc.json)+512)
	buf = append(buf, a.enc.json...)
	buf = appendStats(buf, a.stats)
	return append(buf, '}')
}

func appendResult(buf []byte, a *answer) []byte {
	buf = appendColumnsRows(buf, a.result)
	buf = appendStats(buf, a.stats)
	return append(buf, '}')
}

// appendColumnsRows writes the body up to the stats: {"columns":[...],"rows":[...],"stats":
func appendColumnsRows(buf []byte, r *store.Result) []byte {
	buf = append(buf, `{"columns":[`...)
	for i, c := range r.Columns {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"name":`...)
		buf = jsonstr.Append(buf, c.Name)
		buf = append(buf, `,"type":"`...)
		buf = append(buf, c.Type.String()...)
		buf = append(buf, '"')
		if c.Approximate {
			buf = append(buf, `,"approximate":true`...)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, `],"rows":[`...)
	for i, row := range r.Rows {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		for j, v := range row {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, v)
		}
		buf = append(buf, ']')
	}
	return append(buf, `],"stats":`...)
}

// appendStats writes QueryStats with int64s as JSON numbers (protojson would quote them).
func appendStats(buf []byte, s *olapgatev1.QueryStats) []byte {
	buf = append(buf, `{"backend":`...)
	buf = jsonstr.Append(buf, s.GetBackend())
	if tr := s.GetTimeRange(); tr != nil {
		buf = append(buf, `,"timeRange":{"start":`...)
		buf = jsonstr.Append(buf, tr.GetStart())
		buf = append(buf, `,"end":`...)
		buf = jsonstr.Append(buf, tr.GetEnd())
		buf = append(buf, '}')
	}
	buf = append(buf, `,"timeZone":`...)
	buf = jsonstr.Append(buf, s.GetTimeZone())
	for _, f := range []struct {
		name string
		v    bool
	}{{"cacheHit", s.GetCacheHit()}, {"stale", s.GetStale()}, {"coalesced", s.GetCoalesced()}, {"partial", s.GetPartial()}, {"approximate", s.GetApproximate()}} {
		buf = append(buf, `,"`...)
		buf = append(buf, f.name...)
		buf = append(buf, `":`...)
		buf = strconv.AppendBool(buf, f.v)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"ageMs", s.GetAgeMs()}, {"queuedMs", s.GetQueuedMs()}, {"execMs", s.GetExecMs()}, {"rowCount", s.GetRowCount()}, {"reusedBuckets", s.GetReusedBuckets()}} {
		buf = append(buf, `,"`...)
		buf = append(buf, f.name...)
		buf = append(buf, `":`...)
		buf = strconv.AppendInt(buf, f.v, 10)
	}
	for _, f := range []struct{ name, v string }{{"dataCompleteUpTo", s.GetDataCompleteUpTo()}, {"rollup", s.GetRollup()}, {"sql", s.GetSql()}, {"traceId", s.GetTraceId()}} {
		if f.v != "" {
			buf = append(buf, `,"`...)
			buf = append(buf, f.name...)
			buf = append(buf, `":`...)
			buf = jsonstr.Append(buf, f.v)
		}
	}
	return append(buf, '}')
}

func appendValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return jsonstr.Append(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(buf, "null"...)
		}
		return strconv.AppendFloat(buf, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(buf, x)
	case time.Time:
		buf = append(buf, '"')
		buf = x.AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"')
	}
	return jsonstr.Append(buf, fmt.Sprint(v))
}

// writeError answers with the HTTP status for a gRPC status (DESIGN §5) and a JSON body in
// grpc-gateway's error shape.
func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	if st.Code() == codes.ResourceExhausted {
		w.Header().Set("Retry-After", retryAfterSeconds(st))
	}
	writeErrorCode(w, runtime.HTTPStatusFromCode(st.Code()), st.Code(), st.Message())
}

// retryAfterSeconds is the status's RetryInfo delay in whole seconds (rounded up, at least 1:
// Retry-After has no fractions), or 1 without one.
func retryAfterSeconds(st *status.Status) string {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			secs := (ri.GetRetryDelay().AsDuration() + time.Second - 1) / time.Second
			return strconv.FormatInt(max(int64(secs), 1), 10)
		}
	}
	return "1"
}

func writeErrorCode(w http.ResponseWriter, httpCode int, c codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if c == codes.ResourceExhausted && httpCode == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(httpCode)
	buf := fmt.Appendf(nil, `{"code":%d,"status":%q,"message":`, int(c), c.String())
	buf = jsonstr.Append(buf, msg)
	buf = append(buf, "}\n"...)
	_, _ = w.Write(buf)
}

// parseCache remembers decoded query bodies: dashboards send the same bytes over and over, and
// protojson decoding is the largest cost of a cache hit over HTTP. Decoded queries are
// read-only (relative times are resolved later, per request). Bounded: it starts afresh when
// full, and long bodies are not kept.
type parseCache struct {
	mu sync.RWMutex
	m  map[string]*olapgatev1.Query
}

const (
	parseCacheEntries  = 1024
	parseCacheMaxBytes = 8 << 10
)

func (c *parseCache) parse(body []byte) (*olapgatev1.Query, error) {
	if len(body) <= parseCacheMaxBytes {
		c.mu.RLock()
		pb, ok := c.m[string(body)] // no allocation for the lookup
		c.mu.RUnlock()
		if ok {
			return pb, nil
		}
	}
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal(body, pb); err != nil {
		return nil, err
	}
	if len(body) <= parseCacheMaxBytes {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= parseCacheEntries {
			c.m = make(map[string]*olapgatev1.Query, parseCacheEntries)
		}
		c.m[string(body)] = pb
		c.mu.Unlock()
	}
	return pb, nil
}
