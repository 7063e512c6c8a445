package collector

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/collector/telemetry"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// lookupRows is the trace-id lookup table per trace: "id first..last" (unix seconds), sorted.
func lookupRows(t *testing.T, st store.Store) []string {
	t.Helper()
	res, err := st.Query(context.Background(), store.Statement{
		SQL: `SELECT "TraceId", min("Start"), max("End") FROM "` + otelrows.TraceIDTsTable + `" GROUP BY "TraceId"`,
		Output: []store.ResultColumn{{Name: "id", Type: store.TypeString},
			{Name: "lo", Type: store.TypeTimestamp}, {Name: "hi", Type: store.TypeTimestamp}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Rows {
		out = append(out, fmt.Sprintf("%s %d..%d", r[0], r[1].(time.Time).Unix(), r[2].(time.Time).Unix()))
	}
	sort.Strings(out)
	return out
}

// spansAt is one span per (trace byte, unix second) pair, trace id 0x…00<b>.
func spansAt(pairs ...[2]int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, p := range pairs {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{15: byte(p[0])})
		sp.SetSpanID(pcommon.SpanID{6: byte(i >> 8), 7: byte(i + 1)})
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Unix(int64(p[1]), 0)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Unix(int64(p[1])+1, 0)))
	}
	return td
}

func traceHex(b int) string { return fmt.Sprintf("%030x%02x", 0, b) }

func lookupState(t *testing.T, st *embedded.Store) string {
	t.Helper()
	pos, err := st.Positions(context.Background(), lookupSource)
	if err != nil {
		t.Fatal(err)
	}
	return pos[lookupPartition]
}

// TestLookupWaitsAndReadsMerge: on the embedded store the lookup rows of committed spans wait
// (here with a flush interval longer than the test) instead of riding in every span commit;
// trace reads merge them with the table's without writing, so an acknowledged span is always
// found, also one that reaches past its trace's row in the table.
func TestLookupWaitsAndReadsMerge(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st, func(c *Config) { c.LookupFlush = time.Hour; c.GRPCAddr, c.HTTPAddr = Off, Off })
	ctx := context.Background()
	for _, td := range []ptrace.Traces{spansAt([2]int{1, 1_800_000_010}, [2]int{2, 1_800_000_020}), spansAt([2]int{1, 1_800_000_005}, [2]int{1, 1_800_000_030})} {
		if _, err := c.exportTraces(ctx, td); err != nil {
			t.Fatal(err)
		}
	}
	if got := lookupState(t, st); got != lookupDirty {
		t.Errorf("state while running: %q, want %q", got, lookupDirty)
	}
	getTrace := func(b, want int) {
		t.Helper()
		resp, err := c.Telemetry().GetTrace(ctx, &olapgatev1.GetTraceRequest{TraceId: traceHex(b)})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Spans) != want {
			t.Errorf("GetTrace %d: %d spans, want %d", b, len(resp.Spans), want)
		}
	}
	getTrace(1, 3)
	getTrace(2, 1)
	if got := lookupRows(t, st); len(got) != 0 {
		t.Fatalf("lookup rows after reads: %v, want none yet (reads do not write)", got)
	}
	if err := c.lookup.sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{traceHex(1) + " 1800000005..1800000030", traceHex(2) + " 1800000020..1800000020"}
	if got := lookupRows(t, st); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lookup after sync: %v, want %v (one row per trace: the waiting rows merged)", got, want)
	}
	// A later span of trace 1 waits while the table says 05..30: reads widen the range.
	if _, err := c.exportTraces(ctx, spansAt([2]int{1, 1_800_000_200}, [2]int{3, 1_800_000_040})); err != nil {
		t.Fatal(err)
	}
	getTrace(1, 4)
	found, err := c.Telemetry().FindTraces(ctx, &telemetry.TraceFilter{From: time.Unix(1_800_000_000, 0), To: time.Unix(1_800_000_100, 0), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]int64{}
	for _, s := range found {
		spans[s.TraceId] = s.SpanCount
	}
	if len(found) != 3 || spans[traceHex(1)] != 4 || spans[traceHex(2)] != 1 || spans[traceHex(3)] != 1 {
		t.Errorf("search to 100 s: %v, want trace 1 with all 4 spans (its summary's range widened by the waiting row past the search's end), 2 and 3", spans)
	}
}

// TestLookupWrittenPeriodically: without reads, the waiting rows are written every LookupFlush.
func TestLookupWrittenPeriodically(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st, func(c *Config) { c.LookupFlush = 20 * time.Millisecond; c.GRPCAddr, c.HTTPAddr = Off, Off })
	if _, err := c.exportTraces(context.Background(), spansAt([2]int{1, 1_800_000_010}, [2]int{2, 1_800_000_020})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(lookupRows(t, st)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("lookup rows after 10 s: %v", lookupRows(t, st))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLookupRepairAfterCrash: a run that ends without Shutdown leaves the state dirty and its
// waiting rows unwritten; the next start repairs the table from otel_traces (a trace with no
// row, and one whose later spans reach past its row). After a clean shutdown the state is
// clean and the next start repairs nothing.
func TestLookupRepairAfterCrash(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *embedded.Store {
		st, err := embedded.Open(ctx, embedded.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	newCollector := func(st store.Store) *Collector {
		c, err := New(Config{GRPCAddr: Off, HTTPAddr: Off, LookupFlush: time.Hour}, st, quietLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Run 1: trace 1 written and its lookup row synced; then a later span of trace 1 and all of
	// trace 2, whose rows wait when the process "crashes" (no Shutdown).
	st := open()
	c := newCollector(st)
	if _, err := c.exportTraces(ctx, spansAt([2]int{1, 1_800_000_010})); err != nil {
		t.Fatal(err)
	}
	if err := c.lookup.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.exportTraces(ctx, spansAt([2]int{1, 1_800_000_050}, [2]int{2, 1_800_000_060})); err != nil {
		t.Fatal(err)
	}
	if got := lookupRows(t, st); len(got) != 1 || got[0] != traceHex(1)+" 1800000010..1800000010" {
		t.Fatalf("before the crash: %v", got)
	}
	// The crash: the writers stop and nothing more is written (the lookup's waiting rows and
	// its clean state are not).
	close(c.lookup.stop)
	<-c.lookup.done
	for _, s := range []*sink{c.traces, c.logs, c.metrics} {
		s.close()
		<-s.done
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Run 2 repairs, then shuts down cleanly.
	st = open()
	if got := lookupState(t, st); got != lookupDirty {
		t.Fatalf("state after the crash: %q", got)
	}
	c = newCollector(st)
	want := []string{traceHex(1) + " 1800000010..1800000050", traceHex(2) + " 1800000060..1800000060"}
	if got := lookupRows(t, st); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after the repair: %v, want %v", got, want)
	}
	if _, err := c.exportTraces(ctx, spansAt([2]int{3, 1_800_000_070})); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lookupState(t, st); got != lookupClean {
		t.Errorf("state after Shutdown: %q, want %q", got, lookupClean)
	}
	if got := lookupRows(t, st); len(got) != 3 {
		t.Errorf("after Shutdown: %v, want trace 3's row written too", got)
	}
	// A span stored behind the collector's back (no lookup row): a clean start leaves it alone.
	b := store.NewBatch(otelrows.TracesDataset(), 1)
	otelrows.AppendTraces(b, spansAt([2]int{4, 1_800_000_080}), otelrows.Options{})
	if _, err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	defer st.Close()
	c = newCollector(st)
	if got := lookupRows(t, st); len(got) != 3 {
		t.Errorf("a start after a clean shutdown repaired: %v", got)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
