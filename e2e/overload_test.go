package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/target"
	"github.com/olapgate/olapgate/store/synthetic"
)

// overloadMix sends uncached queries (a relative range resolves to a new "now" per request and
// noCache skips the cache) with a 1 s deadline.
const overloadMix = `
queries:
  - {name: a, weight: 1, tenant: acme, query: {dataset: synth, timeRange: {start: now-1h}, metrics: [{agg: COUNT}], options: {noCache: true, timeoutMs: 1000}}}
  - {name: b, weight: 1, tenant: globex, query: {dataset: synth, timeRange: {start: now-1h}, groupBy: [page], metrics: [{agg: COUNT}], options: {noCache: true, timeoutMs: 1000}}}
`

// TestOverloadBounded is the short overload check of issue #4: a synthetic backend with a known
// knee (2 slots × 20 ms = 100 queries/s) offered 5× its knee for 3 s (after 1 s of warm-up), through the real server
// and the load harness on loopback. With admission control: rejections happen, the backend
// stays busy (goodput near the knee), and admitted latency stays bounded. Without it: the
// engine's own queue grows and answers come late. Bounds are generous: this runs on shared
// CI machines; BENCHMARKS.md has the measured figures.
func TestOverloadBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	run := func(t *testing.T, admission bool) *loadtest.Result {
		srv := startServer(t, t.TempDir(), func(c *config.Config) {
			c.Backends.Synthetic = &synthetic.Config{Slots: 2, ServiceTimeMs: 20}
			c.Admission.Disabled = !admission
			d := &dataset.Dataset{Name: "synth", TimeColumn: "time", Backend: dataset.BackendSynthetic,
				Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}, TenantColumn: "tenant"}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			c.Datasets = append(c.Datasets, d)
		})
		mix, err := target.ParseMix([]byte(overloadMix))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		tg, err := target.New(ctx, target.Config{URL: "grpc://" + srv.GRPCAddr(), Mix: mix})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		// A second of warm-up: the limiter learns the engine's no-load latency and its limit.
		opts := loadtest.Options{Schedule: schedule.Constant(500, time.Second), Timeout: 2 * time.Second, MaxCPU: -1, MaxLateness: -1}
		if _, err := loadtest.Run(ctx, tg, opts); err != nil {
			t.Fatal(err)
		}
		opts.Schedule = schedule.Constant(500, 3*time.Second)
		res, err := loadtest.Run(ctx, tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("admission %v: goodput %.0f/s, ok p50 %.1f ms p99 %.1f ms, statuses %v", admission, res.GoodputRps, res.OKLatencyMs.P50, res.OKLatencyMs.P99, res.Statuses)
		return res
	}
	// A machine busy with other work starves the generator and the server alike (one run on
	// a load average of 8 saw 41/s and p99 730 ms with the limiter on): the check gets three
	// attempts, and fails only if none shows the behaviour.
	var problems []string
	for attempt := 1; attempt <= 3; attempt++ {
		on := run(t, true)
		problems = nil
		if on.Statuses["ResourceExhausted"] == 0 {
			problems = append(problems, fmt.Sprintf("no rejections at 5x the knee: %v", on.Statuses))
		}
		if on.GoodputRps < 50 {
			problems = append(problems, fmt.Sprintf("goodput %.0f/s with admission control, want most of the 100/s knee", on.GoodputRps))
		}
		if on.OKLatencyMs.P99 > 300 {
			problems = append(problems, fmt.Sprintf("admitted p99 %.0f ms, want it bounded (service time 20 ms)", on.OKLatencyMs.P99))
		}
		if len(problems) == 0 {
			off := run(t, false)
			if off.OKLatencyMs.P99 > on.OKLatencyMs.P99 {
				return
			}
			problems = append(problems, fmt.Sprintf("without admission control admitted p99 %.0f ms is not worse than with it (%.0f ms)", off.OKLatencyMs.P99, on.OKLatencyMs.P99))
		}
		t.Logf("attempt %d: %v", attempt, problems)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
