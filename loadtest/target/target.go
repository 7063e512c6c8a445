// Package target holds the load test targets: olapgate's gRPC services (Aggregate, Ingest),
// grpc.health.v1 as a bare baseline, and HTTP (GET, or POST of a query mix, ingest batches or
// a fixed body).
package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/loadtest"
)

// Operations a target can run.
const (
	OpAggregate = "aggregate" // QueryService.Aggregate, or POST /v1/query, with the query mix
	OpIngest    = "ingest"    // IngestService.Ingest, or POST /v1/datasets/{dataset}/events
	OpHealth    = "health"    // grpc.health.v1 Health/Check, or GET /healthz
	OpGet       = "get"       // HTTP GET of the URL as given
	OpPost      = "post"      // HTTP POST of Body to the URL as given
)

// Config describes a target.
type Config struct {
	// URL is grpc://HOST:PORT or http(s)://HOST:PORT[/path].
	URL string
	// Op is one of the Op constants; empty picks aggregate with a mix, ingest with Payloads,
	// and otherwise health (gRPC) or get (HTTP).
	Op       string
	Mix      *Mix
	Payloads *Payloads
	// Tenant is sent with every request whose mix entry names none.
	Tenant string
	// Body and ContentType are what OpPost sends.
	Body        []byte
	ContentType string
	// Connections is the number of gRPC connections (HTTP/2 multiplexes requests on each)
	// requests are spread over; default 1. For HTTP it caps connections per host
	// (default: unlimited, one per concurrent request).
	Connections int
	// AllowRemote permits non-loopback addresses.
	AllowRemote bool
	// ConnectTimeout bounds the initial gRPC connection (default 5s).
	ConnectTimeout time.Duration
}

// New connects to the target. For gRPC it waits until the connections are ready, so the
// first requests of a run do not carry connection set-up.
func New(ctx context.Context, cfg Config) (loadtest.Target, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse target URL: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target %q: want grpc://HOST:PORT or http://HOST:PORT[/path]", cfg.URL)
	}
	if !cfg.AllowRemote {
		if err := CheckLoopback(cfg.URL); err != nil {
			return nil, err
		}
	}
	if cfg.Connections <= 0 && (u.Scheme == "grpc" || u.Scheme == "") {
		cfg.Connections = 1
	}
	if cfg.Op == "" {
		switch {
		case cfg.Mix != nil:
			cfg.Op = OpAggregate
		case cfg.Payloads != nil:
			cfg.Op = OpIngest
		case u.Scheme == "grpc":
			cfg.Op = OpHealth
		case cfg.Body != nil:
			cfg.Op = OpPost
		default:
			cfg.Op = OpGet
		}
	}
	if cfg.Op == OpAggregate && cfg.Mix == nil {
		return nil, errors.New("aggregate load needs a query mix")
	}
	if cfg.Op == OpIngest && (cfg.Payloads == nil || cfg.Payloads.Dataset == "") {
		return nil, errors.New("ingest load needs a dataset")
	}
	switch u.Scheme {
	case "grpc":
		return newGRPC(ctx, u.Host, cfg)
	case "http", "https":
		return newHTTP(u, cfg)
	default:
		return nil, fmt.Errorf("target %q: scheme %q not supported (grpc, http, https)", cfg.URL, u.Scheme)
	}
}

// CheckLoopback refuses a target URL whose host is not a loopback address (127.0.0.0/8,
// ::1, localhost). Names other than localhost are refused without resolving them: a load
// test that floods whatever a name happens to resolve to is the accident this prevents.
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse target URL: %w", err)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("target host %q is not a loopback address (127.0.0.0/8, ::1, localhost); pass --allow-remote to load a remote host", host)
}

type grpcTarget struct {
	conns  []*grpc.ClientConn
	query  []olapgatev1.QueryServiceClient
	ingest []olapgatev1.IngestServiceClient
	health []healthpb.HealthClient
	cfg    Config
}

func newGRPC(ctx context.Context, addr string, cfg Config) (*grpcTarget, error) {
	t := &grpcTarget{cfg: cfg}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for range cfg.Connections {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("create gRPC client for %s: %w", addr, err)
		}
		t.conns = append(t.conns, cc)
		if err := waitReady(cctx, cc); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		t.query = append(t.query, olapgatev1.NewQueryServiceClient(cc))
		t.ingest = append(t.ingest, olapgatev1.NewIngestServiceClient(cc))
		t.health = append(t.health, healthpb.NewHealthClient(cc))
	}
	return t, nil
}

func waitReady(ctx context.Context, cc *grpc.ClientConn) error {
	cc.Connect()
	for {
		s := cc.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("not ready (last state %s): %w", s, ctx.Err())
		}
	}
}

func (t *grpcTarget) Do(ctx context.Context, seq uint64) loadtest.Outcome {
	i := int(seq % uint64(len(t.conns)))
	tenant := t.cfg.Tenant
	var err error
	switch t.cfg.Op {
	case OpAggregate:
		e := t.cfg.Mix.Pick(seq)
		if e.Tenant != "" {
			tenant = e.Tenant
		}
		_, err = t.query[i].Aggregate(withTenant(ctx, tenant), &olapgatev1.AggregateRequest{Query: e.Query})
	case OpIngest:
		_, err = t.ingest[i].Ingest(withTenant(ctx, tenant), &olapgatev1.IngestRequest{
			Dataset: t.cfg.Payloads.Dataset, JsonLines: t.cfg.Payloads.Body(seq)})
	case OpHealth:
		var resp *healthpb.HealthCheckResponse
		resp, err = t.health[i].Check(withTenant(ctx, tenant), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return loadtest.Outcome{Code: resp.GetStatus().String()}
		}
	default:
		return loadtest.Outcome{Code: "unsupported", Err: fmt.Errorf("operation %q over gRPC", t.cfg.Op)}
	}
	if err == nil {
		return loadtest.Outcome{Code: codes.OK.String(), OK: true}
	}
	st, _ := status.FromError(err)
	return loadtest.Outcome{Code: st.Code().String(), Err: err}
}

func withTenant(ctx context.Context, tenant string) context.Context {
	if tenant == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "x-olapgate-tenant", tenant)
}

func (t *grpcTarget) Close() error {
	var errs []error
	for _, c := range t.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close gRPC connection: %w", err))
		}
	}
	return errors.Join(errs...)
}

type httpTarget struct {
	client *http.Client
	tr     *http.Transport
	method string
	url    string
	cfg    Config
}

func newHTTP(u *url.URL, cfg Config) (*httpTarget, error) {
	t := &httpTarget{cfg: cfg, method: http.MethodGet}
	path := strings.TrimRight(u.Path, "/")
	switch cfg.Op {
	case OpAggregate:
		t.method = http.MethodPost
		if path == "" {
			u.Path = "/v1/query"
		}
	case OpIngest:
		t.method = http.MethodPost
		if path == "" {
			u.Path = "/v1/datasets/" + url.PathEscape(cfg.Payloads.Dataset) + "/events"
		}
	case OpHealth:
		if path == "" {
			u.Path = "/healthz"
		}
	case OpPost:
		t.method = http.MethodPost
		if t.cfg.ContentType == "" {
			t.cfg.ContentType = "application/json"
		}
	case OpGet:
	default:
		return nil, fmt.Errorf("operation %q over HTTP (aggregate, ingest, health, get, post)", cfg.Op)
	}
	t.url = u.String()
	t.tr = &http.Transport{
		Proxy:               nil, // a loopback load test must never go through $HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 100_000, // keep every connection: reconnects would be measured as latency
		MaxConnsPerHost:     cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	t.client = &http.Client{Transport: t.tr}
	return t, nil
}

func (t *httpTarget) Do(ctx context.Context, seq uint64) loadtest.Outcome {
	var body []byte
	ctype := t.cfg.ContentType
	tenant := t.cfg.Tenant
	switch t.cfg.Op {
	case OpAggregate:
		e := t.cfg.Mix.Pick(seq)
		body, ctype = e.JSON, "application/json"
		if e.Tenant != "" {
			tenant = e.Tenant
		}
	case OpIngest:
		body, ctype = t.cfg.Payloads.Body(seq), "application/x-ndjson"
	case OpPost:
		body = t.cfg.Body
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, rd)
	if err != nil {
		return loadtest.Outcome{Code: "request", Err: fmt.Errorf("build request: %w", err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if tenant != "" {
		req.Header.Set("X-Olapgate-Tenant", tenant)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return loadtest.Outcome{Code: transportCode(err), Err: err}
	}
	// Read the whole answer: the latency of a query includes receiving its rows, and an
	// unread body would stop the connection from being reused.
	_, rerr := io.Copy(io.Discard, resp.Body)
	cerr := resp.Body.Close()
	if err := errors.Join(rerr, cerr); err != nil {
		return loadtest.Outcome{Code: transportCode(err), Err: fmt.Errorf("read answer: %w", err)}
	}
	code := strconv.Itoa(resp.StatusCode)
	if resp.StatusCode/100 != 2 {
		return loadtest.Outcome{Code: code, Err: fmt.Errorf("%s %s answered %s", t.method, t.url, resp.Status)}
	}
	return loadtest.Outcome{Code: code, OK: true}
}

func transportCode(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection_reset"
	}
	return "transport"
}

func (t *httpTarget) Close() error {
	t.tr.CloseIdleConnections()
	return nil
}
