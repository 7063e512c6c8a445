// Package telemetry answers trace and log queries (olapgate.v1.TelemetryService) over the
// tables the collector writes.
package telemetry

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/olapgate/olapgate/collector/otelrows"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
)

// Defaults for zero Config fields.
const (
	DefaultMaxTraceSpans  = 10000
	DefaultMaxTraceLogs   = 10000
	DefaultLogSlack       = time.Minute
	DefaultLookback       = time.Hour
	DefaultTraceLimit     = 20
	MaxTraceLimit         = 1000
	DefaultLogLimit       = 100
	MaxLogLimit           = 10000
	DefaultSurroundWindow = time.Minute
)

// Config bounds the answers. Zero fields take the defaults.
type Config struct {
	// MaxTraceSpans and MaxTraceLogs bound what GetTrace returns; a larger trace is cut (the
	// answer says truncated). Defaults 10,000 each.
	MaxTraceSpans int `yaml:"maxTraceSpans"`
	MaxTraceLogs  int `yaml:"maxTraceLogs"`
	// LogSlack widens the time range searched for a trace's logs beyond its spans' own
	// (clocks of different hosts disagree). Default 1m.
	LogSlack time.Duration `yaml:"logSlack"`
	// PromotedAttributes are the attribute keys the collector copies into columns of their
	// own (its PromotedAttributes); attribute filters on them read the column.
	PromotedAttributes []string `yaml:"promotedAttributes"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.MaxTraceSpans < 0 || c.MaxTraceLogs < 0 {
		return fmt.Errorf("telemetry: maxTraceSpans %d, maxTraceLogs %d: must not be negative", c.MaxTraceSpans, c.MaxTraceLogs)
	}
	if c.LogSlack < 0 {
		return fmt.Errorf("telemetry: logSlack %s: must not be negative", c.LogSlack)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxTraceSpans == 0 {
		c.MaxTraceSpans = DefaultMaxTraceSpans
	}
	if c.MaxTraceLogs == 0 {
		c.MaxTraceLogs = DefaultMaxTraceLogs
	}
	if c.LogSlack == 0 {
		c.LogSlack = DefaultLogSlack
	}
	return c
}

// Service implements olapgatev1.TelemetryServiceServer over a store holding the otel_* tables.
// Its methods answer with gRPC status errors (InvalidArgument, NotFound, …), which grpc-gateway
// maps to HTTP codes.
type Service struct {
	olapgatev1.UnimplementedTelemetryServiceServer
	st  store.Store
	cfg Config
	sql dialect
	now func() time.Time
	// logsBesideSpans: GetTrace reads a trace's logs beside its spans (embedded store only;
	// measured there, and the ClickHouse store's chdb test double serves one statement at a
	// time).
	logsBesideSpans bool
	// pendingBounds are the collector's trace-id lookup rows not in the table yet
	// (PendingBounds), or nil.
	pendingBounds func(ids ...string) (lo, hi time.Time, ok bool)
}

// dialect builds the service's statements: duckSQL for the embedded store, chSQL for the
// ClickHouse exporter's tables.
type dialect interface {
	traceBounds(traceID string) store.Statement
	// traceSpans and traceLogs read limit+1 rows: the first in time order when ordered, else
	// any (in any order).
	traceSpans(traceID string, lo, hi time.Time, bounded bool, limit int, ordered bool) store.Statement
	traceLogs(traceID string, lo, hi time.Time, limit int, ordered bool) store.Statement
	readSpans(res *store.Result, traceID string) ([]spanRecord, error)
	readTraceLogs(res *store.Result) ([]traceLogRecord, error)
	// bound is the instant a time bound in the dialect's statements stands for (they may keep
	// less precision than time.Time, or clamp).
	bound(t time.Time) time.Time
	matchingTraces(f *TraceFilter, from, to time.Time) store.Statement
	tracesBounds(ids []string) store.Statement
	traceSummaries(ids []string, lo, hi time.Time) store.Statement
	logCounts(ids []string, lo, hi time.Time) store.Statement
	traceExtent(traceID string, lo, hi time.Time, bounded bool) store.Statement
	searchLogs(f *LogFilter, from, to time.Time) store.Statement
}

// New returns the service over st: the embedded store's tables, or on a "clickhouse" store
// the exporter's (its TelemetryTables when it names them).
func New(st store.Store, cfg Config) *Service {
	if st != nil && st.Dialect() == "clickhouse" {
		return &Service{st: st, cfg: cfg.withDefaults(), sql: newCHSQL(st), now: time.Now}
	}
	sql := duckSQL{promoted: map[string]string{}}
	for _, k := range cfg.PromotedAttributes {
		sql.promoted[k] = otelrows.PromotedColumn(k)
	}
	return &Service{st: st, cfg: cfg.withDefaults(), sql: sql, now: time.Now, logsBesideSpans: true}
}

var _ olapgatev1.TelemetryServiceServer = (*Service)(nil)

// ParseTraceID checks a W3C trace id (32 hex digits, not all zero) and returns it in the
// stored form: lower case.
func ParseTraceID(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 32 {
		return "", status.Errorf(codes.InvalidArgument, "%s %q: want 32 hexadecimal digits", field, s)
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return "", status.Errorf(codes.InvalidArgument, "%s %q: want 32 hexadecimal digits", field, s)
	}
	for _, b := range raw {
		if b != 0 {
			return s, nil
		}
	}
	return "", status.Errorf(codes.InvalidArgument, "%s: the all-zero trace id is invalid", field)
}

func (s *Service) query(ctx context.Context, st store.Statement, what string) (*store.Result, error) {
	res, err := s.st.Query(ctx, st)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}
		if errors.Is(err, store.ErrClosed) {
			return nil, status.Errorf(codes.Unavailable, "%s: store closed", what)
		}
		return nil, status.Errorf(codes.Internal, "%s: %v", what, err)
	}
	return res, nil
}

// PendingBounds gives the service the collector's trace-id lookup rows that are not in the
// table yet (it writes them a little after their spans): f returns the first and last span
// start over those of the traces ids. The service asks f before it reads the table and
// widens the table's range with f's.
func (s *Service) PendingBounds(f func(ids ...string) (lo, hi time.Time, ok bool)) {
	s.pendingBounds = f
}

// withPending widens a range read from the lookup table (ok: the table had one) with the
// waiting rows' range, asked for before the table was read.
func withPending(lo, hi time.Time, ok bool, plo, phi time.Time, pok bool) (time.Time, time.Time, bool) {
	switch {
	case !pok:
		return lo, hi, ok
	case !ok:
		return plo, phi, true
	}
	return minTime(lo, plo), maxTime(hi, phi), true
}

func (s *Service) pending(ids ...string) (lo, hi time.Time, ok bool) {
	if s.pendingBounds == nil {
		return lo, hi, false
	}
	return s.pendingBounds(ids...)
}

// GetTrace implements TelemetryService.
//
// With the trace's range from the lookup table, the embedded store reads the spans and the
// logs at once: the logs over a range guessed from the lookup (its End is the last span start,
// not end), then cut to the range the spans give, [first start − LogSlack, last end +
// LogSlack]. A trace whose spans end past the guess has its logs read again over that range,
// as does one whose cut dropped early logs from a read that hit the limit, so the answer is
// the one reading the logs after the spans gives. At 10M spans that took 5-8 ms off the
// median of a 1,000-span, 5,000-log trace (BENCHMARKS.md).
func (s *Service) GetTrace(ctx context.Context, req *olapgatev1.GetTraceRequest) (*olapgatev1.GetTraceResponse, error) {
	id, err := ParseTraceID("trace_id", req.GetTraceId())
	if err != nil {
		return nil, err
	}
	lo, hi, bounded, err := s.bounds(ctx, id)
	if err != nil {
		return nil, err
	}
	var early *earlyLogs
	if bounded && s.logsBesideSpans {
		early = s.readLogsEarly(ctx, id, lo.Add(-s.cfg.LogSlack), hi.Add(2*s.cfg.LogSlack))
		defer early.cancel() // and wait: no statement outlives the call
	}
	recs, err := s.readSpans(ctx, id, lo, hi, bounded)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, status.Errorf(codes.NotFound, "trace %s not found", id)
	}
	out := &olapgatev1.GetTraceResponse{TraceId: id}
	if len(recs) > s.cfg.MaxTraceSpans {
		recs = recs[:s.cfg.MaxTraceSpans]
		out.Truncated = true
	}
	js := structs{}
	spans := make([]*olapgatev1.Span, 0, len(recs))
	var first, last time.Time
	for i := range recs {
		sp := recs[i].span(js)
		spans = append(spans, sp)
		start, end := recs[i].start, recs[i].end()
		if i == 0 || start.Before(first) {
			first = start
		}
		if i == 0 || end.After(last) {
			last = end
		}
		if sp.StatusCode == "Error" {
			out.ErrorCount++
		}
	}
	out.SpanCount = int64(len(spans))
	out.StartTime, out.EndTime = timestamppb.New(first), timestamppb.New(last)
	out.DurationNanos = last.Sub(first).Nanoseconds()

	logLo, logHi := first.Add(-s.cfg.LogSlack), last.Add(s.cfg.LogSlack)
	var logs []traceLogRecord
	if early != nil {
		logs, err = early.within(s.sql.bound(logLo), s.sql.bound(logHi), s.cfg.MaxTraceLogs)
	}
	if early == nil || errors.Is(err, errReadAgain) {
		logs, err = s.readLogs(ctx, id, logLo, logHi)
	}
	if err != nil {
		return nil, err
	}
	if len(logs) > s.cfg.MaxTraceLogs {
		logs = logs[:s.cfg.MaxTraceLogs]
		out.Truncated = true
	}
	out.LogCount = int64(len(logs))
	bySpan := make(map[string]*olapgatev1.Span, len(spans))
	for _, sp := range spans {
		bySpan[sp.SpanId] = sp
	}
	for i := range logs {
		lr := logs[i].record(id, js)
		if sp, ok := bySpan[lr.SpanId]; ok && lr.SpanId != "" {
			sp.Logs = append(sp.Logs, lr)
		} else {
			out.Logs = append(out.Logs, lr)
		}
	}
	out.Spans = treeOrder(spans)
	return out, nil
}

// A trace's spans and logs are read without ORDER BY (sorting them costs DuckDB more than it
// costs Go), LIMIT limit+1, and sorted here. Only when that finds more than the limit, so the
// first limit by time are needed, is the read repeated in order.

// readSpans reads a trace's spans (see traceSpans), in time order.
func (s *Service) readSpans(ctx context.Context, id string, lo, hi time.Time, bounded bool) ([]spanRecord, error) {
	read := func(ordered bool) ([]spanRecord, error) {
		res, err := s.query(ctx, s.sql.traceSpans(id, lo, hi, bounded, s.cfg.MaxTraceSpans, ordered), "read trace spans")
		if err != nil {
			return nil, err
		}
		recs, err := s.sql.readSpans(res, id)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "read trace spans: %v", err)
		}
		return recs, nil
	}
	recs, err := read(false)
	if err == nil && len(recs) > s.cfg.MaxTraceSpans {
		recs, err = read(true)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if a, b := recs[i].start, recs[j].start; !a.Equal(b) {
			return nullsLast(a, b)
		}
		return recs[i].spanID < recs[j].spanID
	})
	return recs, err
}

// readLogs reads a trace's logs within [lo, hi] (see traceLogs), in time order.
func (s *Service) readLogs(ctx context.Context, id string, lo, hi time.Time) ([]traceLogRecord, error) {
	read := func(ordered bool) ([]traceLogRecord, error) {
		res, err := s.query(ctx, s.sql.traceLogs(id, lo, hi, s.cfg.MaxTraceLogs, ordered), "read trace logs")
		if err != nil {
			return nil, err
		}
		logs, err := s.sql.readTraceLogs(res)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "read trace logs: %v", err)
		}
		return logs, nil
	}
	logs, err := read(false)
	if err == nil && len(logs) > s.cfg.MaxTraceLogs {
		logs, err = read(true)
	}
	sort.SliceStable(logs, func(i, j int) bool { return nullsLast(logs[i].time, logs[j].time) })
	return logs, err
}

// nullsLast orders times as ORDER BY does, a NULL (read as the zero time) last.
func nullsLast(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return !a.IsZero() && b.IsZero()
	}
	return a.Before(b)
}

// earlyLogs is a read of a trace's logs over [lo, hi], running beside the spans' read.
type earlyLogs struct {
	lo, hi time.Time // as the statement bounds them
	stop   context.CancelFunc
	done   chan struct{}
	logs   []traceLogRecord
	err    error
}

func (s *Service) readLogsEarly(ctx context.Context, id string, lo, hi time.Time) *earlyLogs {
	ctx, stop := context.WithCancel(ctx)
	e := &earlyLogs{lo: s.sql.bound(lo), hi: s.sql.bound(hi), stop: stop, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.logs, e.err = s.readLogs(ctx, id, lo, hi)
	}()
	return e
}

func (e *earlyLogs) cancel() {
	e.stop()
	<-e.done
}

// errReadAgain: the early read cannot give the logs of the range asked for.
var errReadAgain = errors.New("read the logs again")

// within waits for the read and returns its logs within [lo, hi] (as the statements bound
// them), or errReadAgain when those are not all among what it read: the range reaches outside
// the read's, or the read hit the limit (it returned limit+1 logs) and logs before lo took
// places that logs within the range may have needed.
func (e *earlyLogs) within(lo, hi time.Time, limit int) ([]traceLogRecord, error) {
	<-e.done
	if e.err != nil {
		return nil, e.err
	}
	if lo.Before(e.lo) || hi.After(e.hi) {
		return nil, errReadAgain
	}
	logs := e.logs
	i := 0
	for i < len(logs) && logs[i].time.Before(lo) {
		i++
	}
	if i > 0 && len(logs) > limit {
		return nil, errReadAgain
	}
	// The logs are in time order: those after hi are at the end, and if the read was cut,
	// every log of the range comes before the first of them.
	j := len(logs)
	for j > i && logs[j-1].time.After(hi) {
		j--
	}
	return logs[i:j], nil
}

// bounds reads a trace's span start range from the lookup table; bounded is false when the
// table has no row for it (rows written by a tool that does not keep the table), and the
// caller then scans without a time bound.
func (s *Service) bounds(ctx context.Context, id string) (lo, hi time.Time, bounded bool, err error) {
	plo, phi, pok := s.pending(id) // before the table: see traceLookup.bounds
	res, err := s.query(ctx, s.sql.traceBounds(id), "read trace time range")
	if err != nil {
		return lo, hi, false, err
	}
	if len(res.Rows) > 0 && res.Rows[0][0] != nil && res.Rows[0][1] != nil {
		lo, hi, bounded = res.Rows[0][0].(time.Time), res.Rows[0][1].(time.Time), true
	}
	lo, hi, bounded = withPending(lo, hi, bounded, plo, phi, pok)
	return lo, hi, bounded, nil
}

// treeOrder orders spans depth-first: roots (no parent, or a parent not in the trace) by start
// time, each followed by its children by start time; it sets Depth. Spans in a parent cycle
// (malformed input) are appended as roots so none is lost.
func treeOrder(spans []*olapgatev1.Span) []*olapgatev1.Span {
	byID := make(map[string]*olapgatev1.Span, len(spans))
	for _, sp := range spans {
		byID[sp.SpanId] = sp
	}
	children := make(map[string][]*olapgatev1.Span, len(spans))
	var roots []*olapgatev1.Span
	for _, sp := range spans {
		if p, ok := byID[sp.ParentSpanId]; ok && sp.ParentSpanId != "" && p != sp {
			children[sp.ParentSpanId] = append(children[sp.ParentSpanId], sp)
		} else {
			roots = append(roots, sp)
		}
	}
	byStart := func(list []*olapgatev1.Span) {
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i].StartTime.AsTime(), list[j].StartTime.AsTime()
			if !a.Equal(b) {
				return a.Before(b)
			}
			return list[i].SpanId < list[j].SpanId
		})
	}
	out := make([]*olapgatev1.Span, 0, len(spans))
	seen := make(map[*olapgatev1.Span]bool, len(spans))
	var walk func(sp *olapgatev1.Span, depth int32)
	walk = func(sp *olapgatev1.Span, depth int32) {
		if seen[sp] {
			return
		}
		seen[sp] = true
		sp.Depth = depth
		out = append(out, sp)
		kids := children[sp.SpanId]
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	byStart(roots)
	for _, r := range roots {
		walk(r, 0)
	}
	for _, sp := range spans {
		if !seen[sp] {
			walk(sp, 0)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func i64(v any) int64 {
	n, _ := v.(int64)
	return n
}

func tsOf(v any) *timestamppb.Timestamp {
	t, _ := v.(time.Time)
	return timestamppb.New(t)
}

// structs parses JSON object columns for one answer, parsing each distinct text once: rows
// repeat their resource's attributes, and an answer may share one Struct among messages since
// nothing modifies it.
type structs map[string]*structpb.Struct

// get parses a JSON object column; text that is not an object (a table written by another
// tool) yields nil rather than failing the whole answer.
func (c structs) get(s string) *structpb.Struct {
	if s == "" || s == "{}" {
		return nil
	}
	if st, ok := c[s]; ok {
		return st
	}
	st, ok := parseJSONObject(s)
	if !ok {
		st = nil
	}
	c[s] = st
	return st
}

// spanRecord is a span as GetTrace reads it.
type spanRecord struct {
	start    time.Time
	duration int64 // nanoseconds
	traceID  string
	// The text fields, in spanTextColumns order (texts).
	spanID, parentSpanID, traceState, name, kind, service, resourceAttributes, scopeName, scopeVersion,
	attributes, statusCode, statusMessage, events, links string
}

// spanTextColumns are the columns of spanRecord's text fields, but the trace id, in texts order.
var spanTextColumns = [...]string{"SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
	"ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "StatusCode", "StatusMessage", "Events", "Links"}

func (r *spanRecord) texts() [len(spanTextColumns)]*string {
	return [...]*string{&r.spanID, &r.parentSpanID, &r.traceState, &r.name, &r.kind, &r.service,
		&r.resourceAttributes, &r.scopeName, &r.scopeVersion, &r.attributes, &r.statusCode, &r.statusMessage, &r.events, &r.links}
}

func (r *spanRecord) end() time.Time { return r.start.Add(time.Duration(r.duration)) }

// spanRecordFromRow reads a row of spanColumns.
func spanRecordFromRow(row []any) spanRecord {
	start, _ := row[0].(time.Time)
	return spanRecord{
		start: start, duration: i64(row[12]), traceID: str(row[1]),
		spanID: str(row[2]), parentSpanID: str(row[3]), traceState: str(row[4]), name: str(row[5]), kind: str(row[6]),
		service: str(row[7]), resourceAttributes: str(row[8]), scopeName: str(row[9]), scopeVersion: str(row[10]),
		attributes: str(row[11]), statusCode: str(row[13]), statusMessage: str(row[14]), events: str(row[15]), links: str(row[16]),
	}
}

func (r *spanRecord) span(js structs) *olapgatev1.Span {
	sp := &olapgatev1.Span{
		StartTime:          timestamppb.New(r.start),
		EndTime:            timestamppb.New(r.end()),
		DurationNanos:      r.duration,
		TraceId:            r.traceID,
		SpanId:             r.spanID,
		ParentSpanId:       r.parentSpanID,
		TraceState:         r.traceState,
		Name:               r.name,
		Kind:               r.kind,
		ServiceName:        r.service,
		ResourceAttributes: js.get(r.resourceAttributes),
		ScopeName:          r.scopeName,
		ScopeVersion:       r.scopeVersion,
		Attributes:         js.get(r.attributes),
		StatusCode:         r.statusCode,
		StatusMessage:      r.statusMessage,
	}
	// Most spans have neither; "[]" would cost encoding/json a reflective decode each.
	if r.events != "[]" && r.events != "" {
		var events []struct {
			Timestamp  time.Time
			Name       string
			Attributes json.RawMessage
		}
		if err := json.Unmarshal([]byte(r.events), &events); err == nil {
			for _, e := range events {
				sp.Events = append(sp.Events, &olapgatev1.SpanEvent{Time: timestamppb.New(e.Timestamp), Name: e.Name, Attributes: js.get(string(e.Attributes))})
			}
		}
	}
	if r.links != "[]" && r.links != "" {
		var links []struct {
			TraceID    string `json:"TraceId"`
			SpanID     string `json:"SpanId"`
			TraceState string
			Attributes json.RawMessage
		}
		if err := json.Unmarshal([]byte(r.links), &links); err == nil {
			for _, l := range links {
				sp.Links = append(sp.Links, &olapgatev1.SpanLink{TraceId: l.TraceID, SpanId: l.SpanID, TraceState: l.TraceState, Attributes: js.get(string(l.Attributes))})
			}
		}
	}
	return sp
}

// traceLogRecord is a log record as GetTrace reads it (traceLogColumns).
type traceLogRecord struct {
	time                                time.Time
	spanID, severityText, service, body string
	attributes, eventName               string
	traceFlags, severityNumber          int64
}

// traceLogRecordFromRow reads a row of traceLogColumns.
func traceLogRecordFromRow(row []any) traceLogRecord {
	t, _ := row[0].(time.Time)
	return traceLogRecord{
		time: t, spanID: str(row[1]), traceFlags: i64(row[2]), severityText: str(row[3]), severityNumber: i64(row[4]),
		service: str(row[5]), body: str(row[6]), attributes: str(row[7]), eventName: str(row[8]),
	}
}

func (r *traceLogRecord) record(traceID string, js structs) *olapgatev1.LogRecord {
	return &olapgatev1.LogRecord{
		Time:           timestamppb.New(r.time),
		TraceId:        traceID,
		SpanId:         r.spanID,
		TraceFlags:     int32(r.traceFlags),
		SeverityText:   r.severityText,
		SeverityNumber: int32(r.severityNumber),
		ServiceName:    r.service,
		Body:           r.body,
		Attributes:     js.get(r.attributes),
		EventName:      r.eventName,
	}
}

// logFromRow reads a row of logColumns.
func logFromRow(row []any, js structs) *olapgatev1.LogRecord {
	return &olapgatev1.LogRecord{
		Time:               tsOf(row[0]),
		TraceId:            str(row[1]),
		SpanId:             str(row[2]),
		TraceFlags:         int32(i64(row[3])),
		SeverityText:       str(row[4]),
		SeverityNumber:     int32(i64(row[5])),
		ServiceName:        str(row[6]),
		Body:               str(row[7]),
		ScopeName:          str(row[8]),
		ScopeVersion:       str(row[9]),
		Attributes:         js.get(str(row[10])),
		ResourceAttributes: js.get(str(row[11])),
		EventName:          str(row[12]),
	}
}

// TraceStatements returns the statements GetTrace runs for traceID, with the time bounds it
// would use (for a trace in the lookup table, the logs' read beside the spans'), so benchmarks
// can time and EXPLAIN them one by one.
func (s *Service) TraceStatements(ctx context.Context, traceID string) ([]store.Statement, error) {
	id, err := ParseTraceID("trace_id", traceID)
	if err != nil {
		return nil, err
	}
	lo, hi, bounded, err := s.bounds(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []store.Statement{s.sql.traceBounds(id), s.sql.traceSpans(id, lo, hi, bounded, s.cfg.MaxTraceSpans, false)}
	if bounded && s.logsBesideSpans {
		out = append(out, s.sql.traceLogs(id, lo.Add(-s.cfg.LogSlack), hi.Add(2*s.cfg.LogSlack), s.cfg.MaxTraceLogs, false))
	}
	return out, nil
}
