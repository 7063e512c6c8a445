package collector

import (
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/HTTP paths and content types (OTLP specification, "OTLP/HTTP").
const (
	TracesPath    = "/v1/traces"
	LogsPath      = "/v1/logs"
	MetricsPath   = "/v1/metrics"
	contentProto  = "application/x-protobuf"
	contentJSON   = "application/json"
	maxRetryAfter = 3600
)

// HTTPHandler serves OTLP/HTTP: POST /v1/traces, /v1/logs and /v1/metrics with protobuf or JSON
// bodies, optionally gzip- or deflate-compressed. Start serves it on Config.HTTPAddr; it is
// exported so it can also be mounted elsewhere or driven by tests.
func (c *Collector) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(TracesPath, c.otlpHandler(c.httpTraces))
	mux.Handle(LogsPath, c.otlpHandler(c.httpLogs))
	mux.Handle(MetricsPath, c.otlpHandler(c.httpMetrics))
	return mux
}

// httpError is an error with its own HTTP status, for failures found before the request
// reaches the OTLP service (method, media type, encoding, size).
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// grpcCode is the status code written in the body of an HTTP-level failure.
func (e *httpError) grpcCode() codes.Code {
	switch e.code {
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	}
	return codes.InvalidArgument
}

type otlpFunc func(ctx context.Context, body []byte, isJSON bool) ([]byte, error)

func (c *Collector) otlpHandler(serve otlpFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, false, &httpError{http.StatusMethodNotAllowed, fmt.Sprintf("method %s: OTLP/HTTP takes POST", r.Method)})
			return
		}
		isJSON, err := mediaType(r.Header.Get("Content-Type"))
		if err != nil {
			writeError(w, false, err)
			return
		}
		if c.budget.full() {
			// Refuse before reading the body: under overload, bodies waiting to be refused
			// would otherwise take the memory the bound is there to protect.
			writeError(w, isJSON, c.retryLater())
			return
		}
		body, err := readBody(w, r, c.cfg.MaxRequestBytes)
		if err != nil {
			writeError(w, isJSON, err)
			return
		}
		out, err := serve(r.Context(), body, isJSON)
		if err != nil {
			writeError(w, isJSON, err)
			return
		}
		if isJSON {
			w.Header().Set("Content-Type", contentJSON)
		} else {
			w.Header().Set("Content-Type", contentProto)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
}

func mediaType(ct string) (isJSON bool, err error) {
	mt, _, perr := mime.ParseMediaType(ct)
	if perr != nil && ct != "" {
		return false, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: %v; want %s or %s", ct, perr, contentProto, contentJSON)}
	}
	switch strings.ToLower(mt) {
	case contentProto:
		return false, nil
	case contentJSON:
		return true, nil
	}
	return false, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want %s or %s", ct, contentProto, contentJSON)}
}

// readBody reads the body, inflating it per Content-Encoding; limit bounds both the bytes sent
// and the bytes inflated (a small gzip body can inflate to gigabytes).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	raw := http.MaxBytesReader(w, r.Body, limit)
	var rd io.Reader = raw
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, bodyError("read gzip body", err, limit)
		}
		defer func() { _ = gz.Close() }()
		rd = gz
	case "deflate":
		zr, err := zlib.NewReader(raw)
		if err != nil {
			return nil, bodyError("read deflate body", err, limit)
		}
		defer func() { _ = zr.Close() }()
		rd = zr
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: want gzip, deflate or none", enc)}
	}
	body, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, bodyError("read body", err, limit)
	}
	if int64(len(body)) > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body inflates to more than %d bytes", limit)}
	}
	return body, nil
}

func bodyError(what string, err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", limit)}
	}
	return &httpError{http.StatusBadRequest, fmt.Sprintf("%s: %v", what, err)}
}

// writeError answers with an HTTP status and, as OTLP/HTTP asks, a google.rpc.Status body in
// the request's encoding; RESOURCE_EXHAUSTED and UNAVAILABLE carry Retry-After.
func writeError(w http.ResponseWriter, isJSON bool, err error) {
	var st *status.Status
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
		st = status.New(he.grpcCode(), he.msg)
	} else {
		st = status.Convert(err)
		code = httpCode(st.Code())
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			d, ok := retryDelay(st)
			if !ok {
				d = DefaultRetryAfter
			}
			secs := int(math.Ceil(d.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(min(max(secs, 1), maxRetryAfter)))
		}
	}
	if !utf8.ValidString(st.Message()) {
		st = status.New(st.Code(), cleanMessage(st.Message()))
	}
	var body []byte
	if isJSON {
		body, _ = protojson.Marshal(st.Proto())
		w.Header().Set("Content-Type", contentJSON)
	} else {
		body, _ = proto.Marshal(st.Proto())
		w.Header().Set("Content-Type", contentProto)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// httpCode maps the export's gRPC codes to HTTP as the OpenTelemetry Collector's receiver does:
// retryable failures to 429 and 503, which OTLP/HTTP exporters retry.
func httpCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable, codes.Canceled, codes.Aborted, codes.DataLoss:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

type otlpMessage interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

type otlpResponse interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

func decode(m otlpMessage, body []byte, isJSON bool, what string) error {
	var err error
	if isJSON {
		err = m.UnmarshalJSON(body)
	} else {
		err = m.UnmarshalProto(body)
	}
	if err != nil {
		enc := "protobuf"
		if isJSON {
			enc = "JSON"
		}
		return status.Errorf(codes.InvalidArgument, "decode OTLP %s request (%s): %s", what, enc, cleanMessage(err.Error()))
	}
	return nil
}

// cleanMessage makes a decoder's message fit a status: decoders quote the offending input,
// which may be binary (invalid UTF-8 cannot be marshaled into a google.rpc.Status) and long.
func cleanMessage(s string) string {
	const maxLen = 512
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return strings.ToValidUTF8(s, "\ufffd")
}

func encode(m otlpResponse, isJSON bool) ([]byte, error) {
	var out []byte
	var err error
	if isJSON {
		out, err = m.MarshalJSON()
	} else {
		out, err = m.MarshalProto()
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode OTLP response: %v", err)
	}
	return out, nil
}

func (c *Collector) httpTraces(ctx context.Context, body []byte, isJSON bool) ([]byte, error) {
	req := ptraceotlp.NewExportRequest()
	if err := decode(req, body, isJSON, "traces"); err != nil {
		return nil, err
	}
	resp, err := (&tracesGRPC{c: c}).Export(ctx, req)
	if err != nil {
		return nil, err
	}
	return encode(resp, isJSON)
}

func (c *Collector) httpLogs(ctx context.Context, body []byte, isJSON bool) ([]byte, error) {
	req := plogotlp.NewExportRequest()
	if err := decode(req, body, isJSON, "logs"); err != nil {
		return nil, err
	}
	resp, err := (&logsGRPC{c: c}).Export(ctx, req)
	if err != nil {
		return nil, err
	}
	return encode(resp, isJSON)
}

func (c *Collector) httpMetrics(ctx context.Context, body []byte, isJSON bool) ([]byte, error) {
	req := pmetricotlp.NewExportRequest()
	if err := decode(req, body, isJSON, "metrics"); err != nil {
		return nil, err
	}
	resp, err := (&metricsGRPC{c: c}).Export(ctx, req)
	if err != nil {
		return nil, err
	}
	return encode(resp, isJSON)
}
