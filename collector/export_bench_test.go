package collector

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkExportCPU is BenchmarkExportTraces measured as the OTLP benchmark
// (loadtest/examples/otlp-bench.sh) measures the server: spans stored per CPU-second of the
// whole process, DuckDB's threads included, with 1 exporter in flight (an SDK batch processor
// waits for each answer) and with 4.
func BenchmarkExportCPU(b *testing.B) {
	for _, inflight := range []int{1, 4} {
		b.Run("inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			st := openStore(b)
			c := startCollector(b, st, func(c *Config) { c.GRPCAddr, c.HTTPAddr = Off, Off })
			td := traces(512, 0)
			spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for i := 0; i < spans.Len(); i++ {
				sp := spans.At(i)
				sp.Attributes().PutStr("http.route", "/api/v1/items/{id}")
				sp.Attributes().PutInt("http.status_code", 200)
				sp.Attributes().PutStr("user.id", "u"+strconv.Itoa(i))
			}
			ctx := context.Background()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime(b)
			b.SetParallelism(inflight)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.exportTraces(ctx, td); err != nil {
						b.Error(err)
						return
					}
				}
			})
			spent := cpuTime(b) - cpu0
			b.ReportMetric(float64(b.N*512)/time.Since(start).Seconds(), "spans/s")
			b.ReportMetric(float64(b.N*512)/spent.Seconds(), "spans/cpu-s")
			b.ReportMetric(float64(b.N*512)/float64(c.Stats().Writes), "spans/write")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
