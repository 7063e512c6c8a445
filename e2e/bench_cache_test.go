package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/store/embedded"
)

// Cached queries allow a ten-minute-old answer, so after the first run every request is a
// cache hit: a top-10 panel (10 rows) and an hourly chart by country (288 rows, ~10 kB JSON).
var cachedQueries = []struct{ name, json string }{
	{"top10", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"groupBy":["page"],"metrics":[{"agg":"SUM","field":"bytes","as":"b"}],"orderBy":[{"by":"b","desc":true}],"limit":10,"options":{"maxStalenessMs":600000}}`},
	{"chart", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"granularity":"1h","groupBy":["country"],"metrics":[{"agg":"COUNT"},{"agg":"SUM","field":"bytes"}],"limit":10000,"options":{"maxStalenessMs":600000}}`},
}

// BenchmarkCachedQPS measures cache-hit queries through the gateway against the cheapest
// possible servers on the same client code, workers and machine: a bare grpc-go server
// answering grpc.health.v1.Health/Check, and a bare net/http handler writing a fixed JSON body.
// Paths take turns in windows (rotating which goes first) so load from elsewhere on a shared
// machine hits them alike. Run with -benchtime=1x; OLAPGATE_BENCH_WINDOW (default 2s) and
// OLAPGATE_BENCH_ROUNDS (default 3) size the run, OLAPGATE_BENCH_WORKERS (default 16) the
// concurrency.
func BenchmarkCachedQPS(b *testing.B) {
	srv := loadedServer(b, 100_000)
	window := envDuration(b, "OLAPGATE_BENCH_WINDOW", 2*time.Second)
	rounds := envInt(b, "OLAPGATE_BENCH_ROUNDS", 3)
	workers := envInt(b, "OLAPGATE_BENCH_WORKERS", 16)

	// The bare baselines, on loopback like the gateway.
	hs := grpc.NewServer()
	healthpb.RegisterHealthServer(hs, health.NewServer())
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = hs.Serve(hln) }()
	defer hs.Stop()
	fixed := []byte(`{"columns":[{"name":"count","type":"INT64"}],"rows":[[1]],"stats":{"cacheHit":true}}`)
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixed)
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = bare.Serve(bln) }()
	defer bare.Close()

	dial := func(addr string) *grpc.ClientConn {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	qc := olapgatev1.NewQueryServiceClient(dial(srv.GRPCAddr()))
	hc := healthpb.NewHealthClient(dial(hln.Addr().String()))
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	hcl := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	post := func(url, body string, wantHit bool) error {
		resp, err := hcl.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		out, err := io.ReadAll(resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if err == nil && wantHit && !strings.Contains(string(out), `"cacheHit":true`) {
			err = fmt.Errorf("not a cache hit: %.300s", out)
		}
		return err
	}
	type path struct {
		name string
		op   func() error
	}
	paths := []path{
		{"grpc-health-bare", func() error {
			_, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
			return err
		}},
		{"http-bare", func() error { return post("http://"+bln.Addr().String()+"/", "{}", false) }},
	}
	for _, cq := range cachedQueries {
		pb := &olapgatev1.Query{}
		if err := protojson.Unmarshal([]byte(cq.json), pb); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path{"grpc-cached-" + cq.name, func() error {
			a, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb})
			if err == nil && !a.GetStats().GetCacheHit() {
				err = fmt.Errorf("not a cache hit")
			}
			return err
		}}, path{"http-cached-" + cq.name, func() error { return post("http://"+srv.HTTPAddr()+"/v1/query", cq.json, true) }})
		// Fill the cache: the first run is a miss.
		if _, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb}); err != nil {
			b.Fatal(err)
		}
	}
	// Warm the connections.
	for _, p := range paths {
		for range workers {
			if err := p.op(); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
	}

	qps := make([][]float64, len(paths))
	var lats = make([][]time.Duration, len(paths))
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			for k := range paths {
				i := (k + r) % len(paths)
				n, l := runWindow(b, paths[i].op, workers, window)
				qps[i] = append(qps[i], float64(n)/window.Seconds())
				lats[i] = append(lats[i], l...)
			}
		}
	}
	b.StopTimer()
	med := make([]float64, len(paths))
	for i, p := range paths {
		sort.Float64s(qps[i])
		med[i] = qps[i][len(qps[i])/2]
		sort.Slice(lats[i], func(x, y int) bool { return lats[i][x] < lats[i][y] })
		b.ReportMetric(med[i], p.name+"-qps")
		b.ReportMetric(float64(lats[i][len(lats[i])*99/100].Microseconds())/1000, p.name+"-p99-ms")
		b.Logf("%s: qps per window %v", p.name, qps[i])
	}
	for i, cq := range cachedQueries {
		b.ReportMetric(med[2+2*i]/med[0], "grpc-"+cq.name+"-ratio")
		b.ReportMetric(med[3+2*i]/med[1], "http-"+cq.name+"-ratio")
	}
}

// runWindow runs op on workers goroutines for d and returns the operations done and their
// latencies.
func runWindow(b *testing.B, op func() error, workers int, d time.Duration) (int, []time.Duration) {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				if err := op(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(all), all
}

// BenchmarkBurstCoalescing sends bursts of 100 identical uncached (noCache) queries at once over
// gRPC and reports how many statements the store ran per burst: coalescing makes it 1.
func BenchmarkBurstCoalescing(b *testing.B) {
	srv := loadedServer(b, 1_000_000)
	const burst = 100
	cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	qc := olapgatev1.NewQueryServiceClient(cc)
	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"granularity":"1h","groupBy":["country"],"metrics":[{"agg":"PERCENTILE","field":"duration_ms","p":0.99},{"agg":"COUNT_DISTINCT","field":"user_id"}],"limit":10000,"options":{"noCache":true}}`
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(q), pb); err != nil {
		b.Fatal(err)
	}
	if _, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb}); err != nil {
		b.Fatal(err)
	}
	var execs, coalesced int64
	b.ResetTimer()
	for range b.N {
		before := srv.Store().(*embedded.Store).Stats().Queries
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb})
				if err != nil {
					b.Error(err)
					return
				}
				if a.GetStats().GetCoalesced() {
					mu.Lock()
					coalesced++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		execs += srv.Store().(*embedded.Store).Stats().Queries - before
	}
	b.StopTimer()
	b.ReportMetric(float64(execs)/float64(b.N), "executions/burst")
	b.ReportMetric(float64(coalesced)/float64(b.N), "coalesced/burst")
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 2s", name, v)
	}
	return d
}
