package telemetry

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
)

// Attribute is one attribute equality filter.
type Attribute struct{ Key, Value string }

// TraceFilter is a validated SearchTracesRequest.
type TraceFilter struct {
	From, To                 time.Time
	ServiceName, SpanName    string
	MinDuration, MaxDuration time.Duration
	ErrorsOnly               bool
	Attributes               []Attribute
	Limit                    int
}

// LogFilter is a validated SearchLogsRequest.
type LogFilter struct {
	From, To     time.Time
	Services     []string
	MinSeverity  int
	BodyContains string
	Attributes   []Attribute
	TraceID      string
	Limit        int
}

// SearchTraces implements TelemetryService.
func (s *Service) SearchTraces(ctx context.Context, req *olapgatev1.SearchTracesRequest) (*olapgatev1.SearchTracesResponse, error) {
	f := &TraceFilter{
		ServiceName: req.GetServiceName(), SpanName: req.GetSpanName(),
		MinDuration: time.Duration(req.GetMinDurationNanos()), MaxDuration: time.Duration(req.GetMaxDurationNanos()),
		ErrorsOnly: req.GetErrorsOnly(), Limit: int(req.GetLimit()),
	}
	var err error
	if f.From, f.To, err = s.timeRange(req.GetTimeRange(), "time_range"); err != nil {
		return nil, err
	}
	if f.MinDuration < 0 || f.MaxDuration < 0 || (f.MaxDuration > 0 && f.MaxDuration < f.MinDuration) {
		return nil, status.Errorf(codes.InvalidArgument, "min_duration_nanos %d, max_duration_nanos %d: want 0 ≤ min ≤ max (0: unbounded)", f.MinDuration, f.MaxDuration)
	}
	if f.Attributes, err = attributes(req.GetAttributes()); err != nil {
		return nil, err
	}
	if f.Limit, err = limit(f.Limit, DefaultTraceLimit, MaxTraceLimit); err != nil {
		return nil, err
	}
	traces, err := s.FindTraces(ctx, f)
	if err != nil {
		return nil, err
	}
	return &olapgatev1.SearchTracesResponse{Traces: traces, TimeRange: resolved(f.From, f.To)}, nil
}

// FindTraces runs a validated trace search: the matching trace ids first, then their whole
// extent from the lookup table, then per-trace summaries and log counts over that extent.
func (s *Service) FindTraces(ctx context.Context, f *TraceFilter) ([]*olapgatev1.TraceSummary, error) {
	res, err := s.query(ctx, s.sql.matchingTraces(f, f.From, f.To), "search traces")
	if err != nil {
		return nil, err
	}
	if len(res.Rows) == 0 {
		return []*olapgatev1.TraceSummary{}, nil
	}
	ids := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		ids[i] = str(r[0])
	}
	// A matching span may belong to a trace that began before From or goes on after To: its
	// summary covers all its spans, found through the lookup table.
	lo, hi := f.From, f.To
	plo, phi, pok := s.pending(ids...) // before the table: see traceLookup.bounds
	b, err := s.query(ctx, s.sql.tracesBounds(ids), "read trace time ranges")
	if err != nil {
		return nil, err
	}
	if len(b.Rows) == 1 && b.Rows[0][0] != nil && b.Rows[0][1] != nil {
		lo = minTime(lo, b.Rows[0][0].(time.Time))
		hi = maxTime(hi, b.Rows[0][1].(time.Time))
	}
	if pok {
		lo, hi = minTime(lo, plo), maxTime(hi, phi)
	}
	sums, err := s.query(ctx, s.sql.traceSummaries(ids, lo, hi), "summarize traces")
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*olapgatev1.TraceSummary, len(ids))
	lastEnd := hi
	for _, r := range sums.Rows {
		start, _ := r[3].(time.Time)
		end := time.Unix(0, i64(r[4])).UTC()
		lastEnd = maxTime(lastEnd, end)
		t := &olapgatev1.TraceSummary{
			TraceId: str(r[0]), RootServiceName: str(r[1]), RootSpanName: str(r[2]),
			StartTime: timestamppb.New(start), DurationNanos: max(end.Sub(start).Nanoseconds(), 0),
			SpanCount: i64(r[5]), ErrorCount: i64(r[6]),
		}
		_ = json.Unmarshal([]byte(str(r[7])), &t.Services)
		byID[t.TraceId] = t
	}
	counts, err := s.query(ctx, s.sql.logCounts(ids, lo.Add(-s.cfg.LogSlack), lastEnd.Add(s.cfg.LogSlack)), "count trace logs")
	if err != nil {
		return nil, err
	}
	for _, r := range counts.Rows {
		if t := byID[str(r[0])]; t != nil {
			t.LogCount = i64(r[1])
		}
	}
	out := make([]*olapgatev1.TraceSummary, 0, len(ids))
	for _, id := range ids { // in the search's order: most recent first
		if t := byID[id]; t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// SearchLogs implements TelemetryService.
func (s *Service) SearchLogs(ctx context.Context, req *olapgatev1.SearchLogsRequest) (*olapgatev1.SearchLogsResponse, error) {
	f := &LogFilter{MinSeverity: int(req.GetMinSeverityNumber()), BodyContains: req.GetBodyContains(), Limit: int(req.GetLimit())}
	var err error
	if f.MinSeverity < 0 || f.MinSeverity > 24 {
		return nil, status.Errorf(codes.InvalidArgument, "min_severity_number %d: want 0 to 24", f.MinSeverity)
	}
	if f.Attributes, err = attributes(req.GetAttributes()); err != nil {
		return nil, err
	}
	if f.Limit, err = limit(f.Limit, DefaultLogLimit, MaxLogLimit); err != nil {
		return nil, err
	}
	if req.GetTraceId() != "" {
		if f.TraceID, err = ParseTraceID("trace_id", req.GetTraceId()); err != nil {
			return nil, err
		}
	}
	if req.GetSurroundingTraceId() != "" {
		if err := s.surrounding(ctx, req, f); err != nil {
			return nil, err
		}
	} else {
		if f.From, f.To, err = s.timeRange(req.GetTimeRange(), "time_range"); err != nil {
			return nil, err
		}
		if req.GetServiceName() != "" {
			f.Services = []string{req.GetServiceName()}
		}
	}
	logs, truncated, err := s.FindLogs(ctx, f)
	if err != nil {
		return nil, err
	}
	return &olapgatev1.SearchLogsResponse{Logs: logs, TimeRange: resolved(f.From, f.To), Truncated: truncated}, nil
}

// surrounding fills the services and time range of a "surrounding logs" search from the trace.
func (s *Service) surrounding(ctx context.Context, req *olapgatev1.SearchLogsRequest, f *LogFilter) error {
	id, err := ParseTraceID("surrounding_trace_id", req.GetSurroundingTraceId())
	if err != nil {
		return err
	}
	window := time.Duration(req.GetWindowMs()) * time.Millisecond
	if window < 0 {
		return status.Errorf(codes.InvalidArgument, "window_ms %d: must not be negative", req.GetWindowMs())
	}
	if window == 0 {
		window = DefaultSurroundWindow
	}
	lo, hi, bounded, err := s.bounds(ctx, id)
	if err != nil {
		return err
	}
	res, err := s.query(ctx, s.sql.traceExtent(id, lo, hi, bounded), "read trace extent")
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 || res.Rows[0][1] == nil {
		return status.Errorf(codes.NotFound, "trace %s not found", id)
	}
	_ = json.Unmarshal([]byte(str(res.Rows[0][0])), &f.Services)
	start := res.Rows[0][1].(time.Time)
	end := time.Unix(0, i64(res.Rows[0][2])).UTC()
	f.From, f.To = start.Add(-window), end.Add(window)
	return nil
}

// FindLogs runs a validated log search; truncated reports that more records matched.
func (s *Service) FindLogs(ctx context.Context, f *LogFilter) ([]*olapgatev1.LogRecord, bool, error) {
	res, err := s.query(ctx, s.sql.searchLogs(f, f.From, f.To), "search logs")
	if err != nil {
		return nil, false, err
	}
	truncated := len(res.Rows) > f.Limit
	if truncated {
		res.Rows = res.Rows[:f.Limit]
	}
	out := make([]*olapgatev1.LogRecord, 0, len(res.Rows))
	js := structs{}
	for _, r := range res.Rows {
		out = append(out, logFromRow(r, js))
	}
	return out, truncated, nil
}

func attributes(in []*olapgatev1.AttributeFilter) ([]Attribute, error) {
	out := make([]Attribute, 0, len(in))
	for i, a := range in {
		if a.GetKey() == "" || strings.ContainsAny(a.GetKey(), "\"\\") || !utf8.ValidString(a.GetKey()) || len(a.GetKey()) > 256 {
			return nil, status.Errorf(codes.InvalidArgument, "attributes[%d].key %q: want 1 to 256 bytes of UTF-8 without '\"' or '\\'", i, a.GetKey())
		}
		out = append(out, Attribute{Key: a.GetKey(), Value: a.GetValue()})
	}
	return out, nil
}

func limit(n, def, maxN int) (int, error) {
	switch {
	case n < 0:
		return 0, status.Errorf(codes.InvalidArgument, "limit %d: must not be negative", n)
	case n == 0:
		return def, nil
	case n > maxN:
		return maxN, nil
	}
	return n, nil
}

func resolved(from, to time.Time) *olapgatev1.ResolvedTimeRange {
	return &olapgatev1.ResolvedTimeRange{Start: from.UTC().Format(time.RFC3339Nano), End: to.UTC().Format(time.RFC3339Nano)}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// timeRange resolves a TimeRange: each bound RFC 3339, epoch milliseconds, or "now",
// "now-15m" (units s m h d w), as the aggregate API takes them. Default: the hour before now.
func (s *Service) timeRange(tr *olapgatev1.TimeRange, field string) (from, to time.Time, err error) {
	now := s.now().UTC()
	to = now
	if e := tr.GetEnd(); e != "" {
		if to, err = parseBound(e, now); err != nil {
			return from, to, status.Errorf(codes.InvalidArgument, "%s.end %q: %v", field, e, err)
		}
	}
	from = to.Add(-DefaultLookback)
	if st := tr.GetStart(); st != "" {
		if from, err = parseBound(st, now); err != nil {
			return from, to, status.Errorf(codes.InvalidArgument, "%s.start %q: %v", field, st, err)
		}
	}
	if !from.Before(to) {
		return from, to, status.Errorf(codes.InvalidArgument, "%s: start %s is not before end %s", field, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	return from, to, nil
}

type boundError string

func (e boundError) Error() string { return string(e) }

func parseBound(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now, nil
		}
		sign := rest[0]
		if sign != '-' && sign != '+' || len(rest) < 3 {
			return time.Time{}, boundError("want now, now-<n><unit> or now+<n><unit> with unit s, m, h, d or w")
		}
		n, err := strconv.Atoi(rest[1 : len(rest)-1])
		if err != nil || n < 0 || n > 100000 {
			return time.Time{}, boundError("want now-<n><unit> with n a count up to 100000")
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[rest[len(rest)-1]]
		if unit == 0 {
			return time.Time{}, boundError("unit: want s, m, h, d or w")
		}
		d := time.Duration(n) * unit
		if sign == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < -62135596800000 || ms > 253402300799999 {
			return time.Time{}, boundError("epoch milliseconds out of range")
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, boundError("want RFC 3339, epoch milliseconds, or now-<n><unit>")
	}
	return t.UTC(), nil
}
