package collector

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
)

// TestRetention: rows older than the retention are deleted from the span table and the trace
// id lookup; newer ones stay.
func TestRetention(t *testing.T) {
	st := openStore(t)
	c := startCollector(t, st, func(c *Config) { c.Retention = 24 * time.Hour; c.GRPCAddr, c.HTTPAddr = Off, Off })
	ctx := context.Background()
	now := time.Now()
	td := traces(3, 0)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i, age := range []time.Duration{72 * time.Hour, 25 * time.Hour, time.Minute} {
		spans.At(i).SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-age)))
		spans.At(i).SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-age + time.Second)))
	}
	if _, err := c.exportTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int64 {
		res, err := st.Query(ctx, store.Statement{SQL: "SELECT count(*) FROM " + table, Output: []store.ResultColumn{{Name: "n", Type: store.TypeInt64}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0][0].(int64)
	}
	if n := count(otelrows.TracesTable); n != 3 {
		t.Fatalf("%d spans before retention", n)
	}
	if err := c.applyRetention(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n, m := count(otelrows.TracesTable), count(otelrows.TraceIDTsTable); n != 1 || m != 1 {
		t.Errorf("after retention: %d spans, %d lookup rows; want 1, 1", n, m)
	}
}
