package telemetry

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/olapgate/olapgate/collector/otelrows"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// TestGetTraceReads runs GetTrace on the embedded store through the paths its reads can take:
// logs read beside the spans and cut to the spans' range, read again when a span ends past the
// guessed range or when early logs took places in a read that hit the limit, and reads that
// find more than the limit repeated in order. Each answer is checked against the logs and
// spans picked out of what was written.
func TestGetTraceReads(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(ctx, embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ds := otelrows.Datasets()
	for _, d := range ds {
		if err := st.EnsureDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	type span struct {
		id    string
		start time.Time
		dur   time.Duration
	}
	type log struct {
		at   time.Time
		span string
	}
	traces := map[string]struct {
		spans []span
		logs  []log
	}{}
	write := func(traceID string, spans []span, logs []log, lookup bool) {
		sb, lb := store.NewBatch(ds[0], len(spans)), store.NewBatch(ds[2], len(logs))
		for _, s := range spans {
			c := sb.Cols
			for j, col := range ds[0].Columns() {
				switch col.Type {
				case dataset.String:
					c[j].Strings = append(c[j].Strings, "")
				case dataset.Int:
					c[j].Ints = append(c[j].Ints, 0)
				case dataset.Timestamp:
					c[j].Times = append(c[j].Times, s.start.UnixMicro())
				}
			}
			c[otelrows.SpanTraceID].Strings[sb.N] = traceID
			c[otelrows.SpanSpanID].Strings[sb.N] = s.id
			c[otelrows.SpanEvents].Strings[sb.N] = "[]"
			c[otelrows.SpanLinks].Strings[sb.N] = "[]"
			c[otelrows.SpanAttributes].Strings[sb.N] = `{"k":"` + s.id + `"}`
			c[otelrows.SpanDuration(ds[0])].Ints[sb.N] = int64(s.dur)
			sb.N++
		}
		for i, l := range logs {
			c := lb.Cols
			for j, col := range ds[2].Columns() {
				switch col.Type {
				case dataset.String:
					c[j].Strings = append(c[j].Strings, "")
				case dataset.Int:
					c[j].Ints = append(c[j].Ints, 0)
				case dataset.Timestamp:
					c[j].Times = append(c[j].Times, l.at.UnixMicro())
				}
			}
			c[otelrows.LogTraceID].Strings[lb.N] = traceID
			c[otelrows.LogSpanID].Strings[lb.N] = l.span
			c[otelrows.LogBody].Strings[lb.N] = fmt.Sprintf("log %d: a body with 1:2: in it", i)
			lb.N++
		}
		batches := []*store.Batch{sb, lb}
		if lookup {
			batches = append(batches, otelrows.TraceIDTimes(ds[1], sb))
		}
		for _, b := range batches {
			if b.N == 0 {
				continue
			}
			if _, err := st.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		tr := traces[traceID]
		tr.spans, tr.logs = append(tr.spans, spans...), append(tr.logs, logs...)
		traces[traceID] = tr
	}
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	spansAt := func(prefix string, n int, from float64, dur time.Duration) []span {
		out := make([]span, n)
		for i := range out {
			out[i] = span{fmt.Sprintf("%s%03d", prefix, i), sec(from + float64(i)), dur}
		}
		return out
	}
	logsAt := func(span string, from, step float64, n int) []log {
		out := make([]log, n)
		for i := range out {
			out[i] = log{sec(from + step*float64(i)), span}
		}
		return out
	}
	const (
		plain    = "00000000000000000000000000000001"
		longEnd  = "00000000000000000000000000000002"
		stale    = "00000000000000000000000000000003"
		noLookup = "00000000000000000000000000000004"
	)
	// Logs from 2 minutes before to 3 minutes after: some outside every range.
	write(plain, spansAt("p", 5, 0, time.Second), logsAt("p000", -120, 5, 60), true)
	// A span ending 10 minutes after the last start: logs up to then belong to the trace.
	write(longEnd, append(spansAt("l", 3, 0, time.Second), span{"lroot", sec(0), 10 * time.Minute}), logsAt("lroot", -90, 10, 80), true)
	// A lookup row that starts 5 minutes before the spans (others of the trace were removed):
	// the early read finds logs the answer must not have.
	write(stale, spansAt("s", 3, 0, time.Second), logsAt("s000", -400, 4, 150), false)
	lb := store.NewBatch(ds[1], 1)
	lb.Cols[otelrows.TraceIDTsStart].Times = append(lb.Cols[otelrows.TraceIDTsStart].Times, sec(-300).UnixMicro())
	lb.Cols[otelrows.TraceIDTsTraceID].Strings = append(lb.Cols[otelrows.TraceIDTsTraceID].Strings, stale)
	lb.Cols[otelrows.TraceIDTsEnd].Times = append(lb.Cols[otelrows.TraceIDTsEnd].Times, sec(2).UnixMicro())
	lb.N = 1
	if _, err := st.Write(ctx, lb); err != nil {
		t.Fatal(err)
	}
	write(noLookup, spansAt("n", 4, 0, time.Second), logsAt("n000", -100, 5, 50), false)

	for _, cfg := range []Config{{}, {MaxTraceSpans: 2, MaxTraceLogs: 7}, {MaxTraceLogs: 20, LogSlack: 30 * time.Second}, {MaxTraceLogs: 1}} {
		svc := New(st, cfg)
		c := svc.cfg
		for id, tr := range traces {
			t.Run(fmt.Sprintf("%s/spans%d/logs%d/slack%s", id[30:], c.MaxTraceSpans, c.MaxTraceLogs, c.LogSlack), func(t *testing.T) {
				got, err := svc.GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: id})
				if err != nil {
					t.Fatal(err)
				}
				spans := append([]span(nil), tr.spans...)
				sort.Slice(spans, func(i, j int) bool {
					if !spans[i].start.Equal(spans[j].start) {
						return spans[i].start.Before(spans[j].start)
					}
					return spans[i].id < spans[j].id
				})
				truncated := len(spans) > c.MaxTraceSpans
				spans = spans[:min(len(spans), c.MaxTraceSpans)]
				first, last := spans[0].start, spans[0].start.Add(spans[0].dur)
				wantSpans := map[string]bool{}
				for _, s := range spans {
					wantSpans[s.id] = true
					if s.start.Add(s.dur).After(last) {
						last = s.start.Add(s.dur)
					}
				}
				var logs []log
				for _, l := range tr.logs {
					if !l.at.Before(first.Add(-c.LogSlack)) && !l.at.After(last.Add(c.LogSlack)) {
						logs = append(logs, l)
					}
				}
				sort.Slice(logs, func(i, j int) bool { return logs[i].at.Before(logs[j].at) })
				if len(logs) > c.MaxTraceLogs {
					logs, truncated = logs[:c.MaxTraceLogs], true
				}
				var gotLogs []time.Time
				for _, sp := range got.Spans {
					if !wantSpans[sp.SpanId] {
						t.Errorf("span %s", sp.SpanId)
					}
					for _, l := range sp.Logs {
						gotLogs = append(gotLogs, l.Time.AsTime())
					}
				}
				for _, l := range got.Logs {
					gotLogs = append(gotLogs, l.Time.AsTime())
				}
				sort.Slice(gotLogs, func(i, j int) bool { return gotLogs[i].Before(gotLogs[j]) })
				if len(got.Spans) != len(spans) || got.Truncated != truncated || len(gotLogs) != len(logs) || got.LogCount != int64(len(logs)) {
					t.Fatalf("%d spans, %d logs (count %d), truncated %v; want %d, %d, %v", len(got.Spans), len(gotLogs), got.LogCount, got.Truncated, len(spans), len(logs), truncated)
				}
				for i := range logs {
					if !gotLogs[i].Equal(logs[i].at) {
						t.Fatalf("log %d at %s, want %s", i, gotLogs[i], logs[i].at)
					}
				}
			})
		}
	}
}
