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
}

// dialect builds the service's statements: duckSQL for the embedded store, chSQL for the
// ClickHouse exporter's tables.
type dialect interface {
	traceBounds(traceID string) store.Statement
	traceSpans(traceID string, lo, hi time.Time, bounded bool, limit int) store.Statement
	traceLogs(traceID string, lo, hi time.Time, limit int) store.Statement
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
	return &Service{st: st, cfg: cfg.withDefaults(), sql: sql, now: time.Now}
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

// GetTrace implements TelemetryService.
func (s *Service) GetTrace(ctx context.Context, req *olapgatev1.GetTraceRequest) (*olapgatev1.GetTraceResponse, error) {
	id, err := ParseTraceID("trace_id", req.GetTraceId())
	if err != nil {
		return nil, err
	}
	lo, hi, bounded, err := s.bounds(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := s.query(ctx, s.sql.traceSpans(id, lo, hi, bounded, s.cfg.MaxTraceSpans), "read trace spans")
	if err != nil {
		return nil, err
	}
	if len(res.Rows) == 0 {
		return nil, status.Errorf(codes.NotFound, "trace %s not found", id)
	}
	out := &olapgatev1.GetTraceResponse{TraceId: id}
	if len(res.Rows) > s.cfg.MaxTraceSpans {
		res.Rows = res.Rows[:s.cfg.MaxTraceSpans]
		out.Truncated = true
	}
	js := structs{}
	spans := make([]*olapgatev1.Span, 0, len(res.Rows))
	var first, last time.Time
	for i, row := range res.Rows {
		sp := spanFromRow(row, js)
		spans = append(spans, sp)
		start, end := sp.StartTime.AsTime(), sp.EndTime.AsTime()
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

	logRes, err := s.query(ctx, s.sql.traceLogs(id, first.Add(-s.cfg.LogSlack), last.Add(s.cfg.LogSlack), s.cfg.MaxTraceLogs), "read trace logs")
	if err != nil {
		return nil, err
	}
	if len(logRes.Rows) > s.cfg.MaxTraceLogs {
		logRes.Rows = logRes.Rows[:s.cfg.MaxTraceLogs]
		out.Truncated = true
	}
	out.LogCount = int64(len(logRes.Rows))
	bySpan := make(map[string]*olapgatev1.Span, len(spans))
	for _, sp := range spans {
		bySpan[sp.SpanId] = sp
	}
	for _, row := range logRes.Rows {
		lr := traceLogFromRow(row, id, js)
		if sp, ok := bySpan[lr.SpanId]; ok && lr.SpanId != "" {
			sp.Logs = append(sp.Logs, lr)
		} else {
			out.Logs = append(out.Logs, lr)
		}
	}
	out.Spans = treeOrder(spans)
	return out, nil
}

// bounds reads a trace's span start range from the lookup table; bounded is false when the
// table has no row for it (rows written by a tool that does not keep the table), and the
// caller then scans without a time bound.
func (s *Service) bounds(ctx context.Context, id string) (lo, hi time.Time, bounded bool, err error) {
	res, err := s.query(ctx, s.sql.traceBounds(id), "read trace time range")
	if err != nil {
		return lo, hi, false, err
	}
	if len(res.Rows) == 0 || res.Rows[0][0] == nil || res.Rows[0][1] == nil {
		return lo, hi, false, nil
	}
	return res.Rows[0][0].(time.Time), res.Rows[0][1].(time.Time), true, nil
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
func (c structs) get(v any) *structpb.Struct {
	s := str(v)
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

func spanFromRow(row []any, js structs) *olapgatev1.Span {
	start, _ := row[0].(time.Time)
	dur := i64(row[12])
	sp := &olapgatev1.Span{
		StartTime:          timestamppb.New(start),
		EndTime:            timestamppb.New(start.Add(time.Duration(dur))),
		DurationNanos:      dur,
		TraceId:            str(row[1]),
		SpanId:             str(row[2]),
		ParentSpanId:       str(row[3]),
		TraceState:         str(row[4]),
		Name:               str(row[5]),
		Kind:               str(row[6]),
		ServiceName:        str(row[7]),
		ResourceAttributes: js.get(row[8]),
		ScopeName:          str(row[9]),
		ScopeVersion:       str(row[10]),
		Attributes:         js.get(row[11]),
		StatusCode:         str(row[13]),
		StatusMessage:      str(row[14]),
	}
	var events []struct {
		Timestamp  time.Time
		Name       string
		Attributes json.RawMessage
	}
	if err := json.Unmarshal([]byte(str(row[15])), &events); err == nil {
		for _, e := range events {
			sp.Events = append(sp.Events, &olapgatev1.SpanEvent{Time: timestamppb.New(e.Timestamp), Name: e.Name, Attributes: js.get(string(e.Attributes))})
		}
	}
	var links []struct {
		TraceID    string `json:"TraceId"`
		SpanID     string `json:"SpanId"`
		TraceState string
		Attributes json.RawMessage
	}
	if err := json.Unmarshal([]byte(str(row[16])), &links); err == nil {
		for _, l := range links {
			sp.Links = append(sp.Links, &olapgatev1.SpanLink{TraceId: l.TraceID, SpanId: l.SpanID, TraceState: l.TraceState, Attributes: js.get(string(l.Attributes))})
		}
	}
	return sp
}

// traceLogFromRow reads a row of traceLogColumns.
func traceLogFromRow(row []any, traceID string, js structs) *olapgatev1.LogRecord {
	return &olapgatev1.LogRecord{
		Time:           tsOf(row[0]),
		TraceId:        traceID,
		SpanId:         str(row[1]),
		TraceFlags:     int32(i64(row[2])),
		SeverityText:   str(row[3]),
		SeverityNumber: int32(i64(row[4])),
		ServiceName:    str(row[5]),
		Body:           str(row[6]),
		Attributes:     js.get(row[7]),
		EventName:      str(row[8]),
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
		Attributes:         js.get(row[10]),
		ResourceAttributes: js.get(row[11]),
		EventName:          str(row[12]),
	}
}
