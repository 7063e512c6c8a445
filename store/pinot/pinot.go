// Package pinot is the Apache Pinot store: queries through the brokers' HTTP API.
package pinot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Store queries Pinot brokers. It makes every broker call itself, bound to the caller's
// context, with its own http.Client: pinot-client-go (whose response types it decodes into)
// takes no context, sets Timeout on the client it is given, starts goroutines it never stops
// and returns broker exceptions as successes.
//
// Each query is POST {broker}/query/sql with queryOptions
// timeoutMs=<deadline - TimeoutMargin>;enableNullHandling=true;clientQueryId=<id>. The id is
// the request's trace id (or random bytes without a trace) and a per-store sequence number,
// so concurrent statements of one request stay apart. When the context ends before the broker
// answers, the store sends DELETE {broker}/query/{id}?client=true (Pinot 1.4+, with
// pinot.broker.enable.query.cancellation; a no-op elsewhere) best-effort, bounded by
// CancelTimeout, because Pinot keeps running a query whose client went away.
type Store struct {
	cfg       Config
	transport *http.Transport
	client    *http.Client

	brokers atomic.Pointer[brokerSet]
	rr      atomic.Uint64 // round-robin position
	seq     atomic.Uint64 // clientQueryId sequence
	idBase  string        // clientQueryId prefix without a trace

	// base ends when the store closes: in-flight calls, cancels and discovery stop with it.
	base context.Context
	stop context.CancelFunc
	// wg counts every goroutine and call in flight; Close waits for it.
	wg         sync.WaitGroup
	mu         sync.Mutex
	closed     bool
	rediscover chan struct{}
	discErr    atomic.Pointer[error]
}

// brokerSet is the brokers to use: per raw table name from discovery, and all of them.
type brokerSet struct {
	all     []string
	byTable map[string][]string
}

var _ store.Store = (*Store)(nil)

// Open validates cfg and prepares the store. With a controller it discovers the brokers
// before returning (an unreachable controller fails Open, so readiness waits for Pinot) and
// then refreshes them every DiscoveryInterval until Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false, // brokers speak HTTP/1.1
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return nil, fmt.Errorf("open pinot store: random query id prefix: %w", err)
	}
	s := &Store{
		cfg: cfg, transport: tr,
		// No Timeout: every call is bound by its context instead.
		client:     &http.Client{Transport: tr},
		idBase:     "olapgate-" + hex.EncodeToString(idb),
		rediscover: make(chan struct{}, 1),
	}
	s.base, s.stop = context.WithCancel(context.Background())
	brokers := make([]string, len(cfg.Brokers))
	for i, b := range cfg.Brokers {
		brokers[i] = strings.TrimSuffix(b, "/")
	}
	s.brokers.Store(&brokerSet{all: brokers})
	if cfg.Controller != "" {
		if err := s.discover(ctx); err != nil {
			s.stop()
			tr.CloseIdleConnections()
			return nil, fmt.Errorf("open pinot store: %w", err)
		}
		s.wg.Add(1)
		go s.discoverLoop()
	}
	return s, nil
}

// Dialect is the planner's SQL dialect for Pinot.
func (s *Store) Dialect() string { return "pinot" }

// Write refuses: see ErrWriteUnsupported.
func (s *Store) Write(ctx context.Context, b *store.Batch) (store.WriteResult, error) {
	name := "?"
	if b != nil && b.Dataset != nil {
		name = b.Dataset.Name
	}
	return store.WriteResult{}, &Error{grpc: codes.FailedPrecondition, msg: fmt.Sprintf("write dataset %s to pinot: %v", name, ErrWriteUnsupported), err: ErrWriteUnsupported}
}

// Close stops discovery, aborts calls in flight and waits for every goroutine the store
// started. Safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	s.stop()
	s.wg.Wait()
	s.transport.CloseIdleConnections()
	return nil
}

// enter registers a call in flight, or fails after Close.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Error{grpc: codes.Unavailable, msg: "pinot store: " + store.ErrClosed.Error(), err: store.ErrClosed}
	}
	s.wg.Add(1)
	return nil
}

// DiscoveryError is the last broker discovery failure (nil after a success); the store keeps
// the brokers it last found meanwhile.
func (s *Store) DiscoveryError() error {
	if p := s.discErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Query runs a statement planned for the "pinot" dialect (values inlined: Pinot binds no
// parameters).
func (s *Store) Query(ctx context.Context, st store.Statement) (*store.Result, error) {
	if len(st.Args) != 0 {
		return nil, &Error{grpc: codes.Internal, msg: fmt.Sprintf("query pinot: statement has %d bound arguments; Pinot takes none (plan with the pinot dialect)", len(st.Args))}
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.base, cancel)()
	if _, ok := ctx.Deadline(); !ok {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, s.cfg.DefaultTimeout+s.cfg.TimeoutMargin)
		defer c()
	}
	deadline, _ := ctx.Deadline()
	budget := time.Until(deadline) - s.cfg.TimeoutMargin
	if budget < time.Millisecond {
		return nil, &Error{grpc: codes.DeadlineExceeded, msg: fmt.Sprintf("query pinot: %s left before the deadline, under the %s margin", time.Until(deadline).Round(time.Millisecond), s.cfg.TimeoutMargin), err: context.DeadlineExceeded}
	}
	id := s.queryID(ctx)
	body, err := json.Marshal(struct {
		SQL          string `json:"sql"`
		QueryOptions string `json:"queryOptions"`
	}{st.SQL, "timeoutMs=" + strconv.FormatInt(budget.Milliseconds(), 10) + ";enableNullHandling=true;clientQueryId=" + id})
	if err != nil {
		return nil, &Error{grpc: codes.Internal, msg: "query pinot: encode request: " + err.Error(), err: err}
	}

	brokers := s.pick(tableOf(st.SQL))
	if len(brokers) == 0 {
		return nil, &Error{grpc: codes.Unavailable, msg: "query pinot: no broker known (discovery found none)"}
	}
	var raw []byte
	var broker string
	var status int
	for attempt := 0; ; attempt++ {
		broker = brokers[attempt%len(brokers)]
		raw, status, err = s.post(ctx, broker, body)
		// A broker that refuses connections never saw the query: try another one once.
		if err != nil && isDial(err) && ctx.Err() == nil && attempt == 0 && len(brokers) > 1 {
			continue
		}
		break
	}
	where := "query pinot broker " + broker
	if err != nil {
		if ctx.Err() != nil {
			s.cancelQuery(broker, id)
			return nil, s.ctxError(where, ctx)
		}
		return nil, &Error{grpc: codes.Unavailable, msg: fmt.Sprintf("%s: %v", where, err), err: err}
	}
	if status != http.StatusOK {
		var br brokerResponse
		if json.Unmarshal(raw, &br) == nil && len(br.Exceptions) > 0 {
			e := exceptionsError(where, br.Exceptions)
			e.HTTPStatus = status
			return nil, e
		}
		return nil, httpError(where, status, raw)
	}
	res, err := decodeResponse(where, raw, st.Output, s.cfg.RejectPartial)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == 410 {
			s.kickDiscovery() // the broker does not serve the table (any more)
		}
		return nil, err
	}
	if res.Meta.QueryID == "" {
		res.Meta.QueryID = id
	}
	return res, nil
}

// post sends one query and reads the whole answer (bounded by MaxResponseBytes).
func (s *Store) post(ctx context.Context, broker string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, broker+"/query/sql", bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	s.auth(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read response: %w", err)
	}
	if int64(len(raw)) > s.cfg.MaxResponseBytes {
		return nil, 0, fmt.Errorf("response is larger than maxResponseBytes %d", s.cfg.MaxResponseBytes)
	}
	return raw, resp.StatusCode, nil
}

func (s *Store) auth(req *http.Request) {
	if s.cfg.Authorization != "" {
		req.Header.Set("Authorization", s.cfg.Authorization)
	}
}

// ctxError reports a call cut short by its context, or by Close.
func (s *Store) ctxError(where string, ctx context.Context) *Error {
	if s.base.Err() != nil {
		return &Error{grpc: codes.Unavailable, msg: where + ": " + store.ErrClosed.Error(), err: store.ErrClosed}
	}
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{grpc: codes.DeadlineExceeded, msg: where + ": " + err.Error(), err: err}
	}
	return &Error{grpc: codes.Canceled, msg: where + ": " + err.Error(), err: err}
}

// cancelQuery asks the broker to stop the query, in the background and bounded by
// CancelTimeout; Close waits for it (or cuts it short).
func (s *Store) cancelQuery(broker, id string) {
	if err := s.enter(); err != nil {
		return
	}
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.base, s.cfg.CancelTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, broker+"/query/"+url.PathEscape(id)+"?client=true", nil)
		if err != nil {
			return
		}
		s.auth(req)
		resp, err := s.client.Do(req)
		if err != nil {
			return // best effort: the broker still stops at timeoutMs
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
}

// queryID is the clientQueryId: the trace id when the context has one, then a sequence
// number. Only [0-9a-z-] so it needs no escaping in queryOptions or a URL path.
func (s *Store) queryID(ctx context.Context) string {
	prefix := s.idBase
	if sc := trace.SpanContextFromContext(ctx); sc.TraceID().IsValid() {
		prefix = sc.TraceID().String()
	}
	return prefix + "-" + strconv.FormatUint(s.seq.Add(1), 10)
}

func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// tableOf finds the table the planner wrote ("\nFROM \"name\""); names come from the
// dataset schema, so they hold no quote.
func tableOf(sql string) string {
	const from = "\nFROM \""
	i := strings.Index(sql, from)
	if i < 0 {
		return ""
	}
	rest := sql[i+len(from):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// pick lists the brokers to try for a table, starting at the round-robin position.
func (s *Store) pick(table string) []string {
	set := s.brokers.Load()
	list := set.byTable[table]
	if len(list) == 0 {
		list = set.all
	}
	if len(list) == 0 {
		return nil
	}
	n := int(s.rr.Add(1) % uint64(len(list)))
	out := make([]string, 0, len(list))
	out = append(out, list[n:]...)
	return append(out, list[:n]...)
}

// EnsureDataset checks, when a controller is configured, that the dataset's schema exists with
// every column in the type SchemaFor gives it, and that a table of that name exists. Without a
// controller it does nothing: brokers answer queries only, and a missing table shows as
// error 190 (NotFound) on the first query. Creating schemas and tables is issue #6's
// `olapgate pinot apply`.
func (s *Store) EnsureDataset(ctx context.Context, d *dataset.Dataset) error {
	if s.cfg.Controller == "" {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.base, cancel)()
	want, err := SchemaFor(d)
	if err != nil {
		return err
	}
	where := "check pinot schema " + d.Name
	raw, status, err := s.get(ctx, "/schemas/"+url.PathEscape(d.Name))
	if err != nil {
		return s.wrapGet(ctx, where, err)
	}
	if status == http.StatusNotFound {
		return &Error{HTTPStatus: status, grpc: codes.NotFound, msg: fmt.Sprintf("%s: the controller has no schema %s (create it from pinot.SchemaFor)", where, d.Name)}
	}
	if status != http.StatusOK {
		return httpError(where, status, raw)
	}
	var got Schema
	if err := json.Unmarshal(raw, &got); err != nil {
		return &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: decode: %v", where, err), err: err}
	}
	if err := compareSchemas(want, &got); err != nil {
		return &Error{grpc: codes.FailedPrecondition, msg: fmt.Sprintf("%s: %v", where, err), err: err}
	}

	where = "check pinot table " + d.Name
	raw, status, err = s.get(ctx, "/tables/"+url.PathEscape(d.Name))
	if err != nil {
		return s.wrapGet(ctx, where, err)
	}
	if status != http.StatusOK && status != http.StatusNotFound {
		return httpError(where, status, raw)
	}
	var tables map[string]json.RawMessage
	if status == http.StatusOK {
		if err := json.Unmarshal(raw, &tables); err != nil {
			return &Error{grpc: codes.Internal, msg: fmt.Sprintf("%s: decode: %v", where, err), err: err}
		}
	}
	// GET /tables/{name} answers {"OFFLINE": {...}, "REALTIME": {...}} with the types that
	// exist, {} (or 404 on some versions) when none does.
	if tables["REALTIME"] == nil && tables["OFFLINE"] == nil {
		return &Error{HTTPStatus: status, grpc: codes.NotFound, msg: fmt.Sprintf("%s: the controller has no REALTIME or OFFLINE table %s", where, d.Name)}
	}
	return nil
}

func (s *Store) wrapGet(ctx context.Context, where string, err error) error {
	if ctx.Err() != nil {
		return s.ctxError(where, ctx)
	}
	return &Error{grpc: codes.Unavailable, msg: fmt.Sprintf("%s: %v", where, err), err: err}
}

// compareSchemas reports the columns of want that got lacks or types differently.
func compareSchemas(want, got *Schema) error {
	types := map[string]string{}
	for _, f := range got.DimensionFieldSpecs {
		types[f.Name] = f.DataType
	}
	for _, f := range got.MetricFieldSpecs {
		types[f.Name] = f.DataType
	}
	for _, f := range got.DateTimeFieldSpecs {
		types[f.Name] = f.DataType
	}
	var bad []string
	check := func(name, typ string) {
		switch g, ok := types[name]; {
		case !ok:
			bad = append(bad, fmt.Sprintf("column %s is missing (want %s)", name, typ))
		case g != typ:
			bad = append(bad, fmt.Sprintf("column %s is %s, want %s", name, g, typ))
		}
	}
	for _, f := range want.DimensionFieldSpecs {
		check(f.Name, f.DataType)
	}
	for _, f := range want.MetricFieldSpecs {
		check(f.Name, f.DataType)
	}
	for _, f := range want.DateTimeFieldSpecs {
		check(f.Name, f.DataType)
	}
	if len(bad) > 0 {
		return fmt.Errorf("schema does not match the dataset: %s", strings.Join(bad, "; "))
	}
	return nil
}

// get calls the controller.
func (s *Store) get(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.cfg.Controller, "/")+path, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	s.auth(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxResponseBytes))
	if err != nil {
		return nil, 0, fmt.Errorf("read response: %w", err)
	}
	return raw, resp.StatusCode, nil
}
