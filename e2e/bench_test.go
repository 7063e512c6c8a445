package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/sample"
	"github.com/olapgate/olapgate/internal/server"
	"github.com/olapgate/olapgate/planner"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/store"
)

var benchDay = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// ndjsonBodies pre-renders request bodies so the benchmark measures the server, not the
// generator.
func ndjsonBodies(n, perBody int, seed uint64) [][]byte {
	g := sample.New(seed, benchDay, 24*time.Hour, 100000)
	var out [][]byte
	for i := 0; i < n; i += perBody {
		var b []byte
		for range min(perBody, n-i) {
			b = append(g.Next().AppendJSON(b), '\n')
		}
		out = append(out, b)
	}
	return out
}

// BenchmarkPushIngest measures events/s through the server: HTTP NDJSON and gRPC streaming
// (json_lines), with 1 and 2 client connections, into the sample dataset with event-id
// deduplication (dedup=on) and into the same columns without an eventId (dedup=off). Compare
// with store/embedded's BenchmarkAppenderBaseline (BENCHMARKS.md).
func BenchmarkPushIngest(b *testing.B) {
	for _, dedup := range []bool{true, false} {
		name := "dedup=on"
		var edit []func(*config.Config)
		if !dedup {
			name = "dedup=off"
			edit = append(edit, func(c *config.Config) {
				d := dataset.Sample()
				d.EventID = ""
				d.Dimensions = append(d.Dimensions, dataset.Field{Name: "id", Type: dataset.String})
				if err := d.Validate(); err != nil {
					b.Fatal(err)
				}
				c.Datasets = []*dataset.Dataset{d}
			})
		}
		b.Run(name, func(b *testing.B) { benchmarkPushIngest(b, edit...) })
	}
}

func benchmarkPushIngest(b *testing.B, edit ...func(*config.Config)) {
	// 10,000 events per request (the default limit) matches the baseline's 10,000-row batches.
	const perBody = 10000
	bodies := ndjsonBodies(400000, perBody, 11)
	for _, conns := range []int{1, 2} {
		b.Run(fmt.Sprintf("http-ndjson/conns=%d", conns), func(b *testing.B) {
			srv := startServer(b, b.TempDir(), edit...)
			url := "http://" + srv.HTTPAddr() + "/v1/datasets/pageviews/events"
			b.ResetTimer()
			runParallelConns(b, conns, func(conn, i int) {
				resp, err := http.Post(url, "application/x-ndjson", bytes.NewReader(bodies[i%len(bodies)]))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
				}
			})
			b.ReportMetric(float64(b.N*perBody)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("grpc-stream/conns=%d", conns), func(b *testing.B) {
			srv := startServer(b, b.TempDir(), edit...)
			streams := make([]olapgatev1.IngestService_IngestStreamClient, conns)
			for c := range conns {
				cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = cc.Close() }()
				if streams[c], err = olapgatev1.NewIngestServiceClient(cc).IngestStream(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			runParallelConns(b, conns, func(conn, i int) {
				if err := streams[conn].Send(&olapgatev1.IngestStreamRequest{Dataset: "pageviews", JsonLines: bodies[i%len(bodies)]}); err != nil {
					b.Error(err)
				}
			})
			for _, s := range streams {
				if _, err := s.CloseAndRecv(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perBody)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// runParallelConns spreads b.N operations over conns goroutines, one per connection.
func runParallelConns(b *testing.B, conns int, op func(conn, i int)) {
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < b.N; i += conns {
				op(c, i)
			}
		}()
	}
	wg.Wait()
}

// Dashboard query shapes from the backbone issue.
var benchShapes = []struct{ name, json string }{
	{"hourly-count-sum-by-dim", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"granularity":"1h","groupBy":["country"],"metrics":[{"agg":"COUNT"},{"agg":"SUM","field":"bytes"}],"limit":10000}`},
	{"top10-sum-in-filter", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"groupBy":["page"],"metrics":[{"agg":"SUM","field":"bytes","as":"b"}],"filter":{"cmp":{"field":"country","op":"IN","values":["US","DE","FR","IN"]}},"orderBy":[{"by":"b","desc":true}],"limit":10}`},
	{"distinct-users-by-dim", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"groupBy":["device"],"metrics":[{"agg":"COUNT_DISTINCT","field":"user_id"}]}`},
	{"hourly-p99", `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"granularity":"1h","metrics":[{"agg":"PERCENTILE","field":"duration_ms","p":0.99}],"limit":10000}`},
}

var (
	benchSrvMu sync.Mutex
	benchSrv   = map[int]*server.Server{}
)

// loadedServer returns a server holding rows pageviews events over benchDay, loaded once per
// size through the store (the load is not what is measured).
func loadedServer(b *testing.B, rows int) *server.Server {
	benchSrvMu.Lock()
	defer benchSrvMu.Unlock()
	if s, ok := benchSrv[rows]; ok {
		return s
	}
	dir, err := os.MkdirTemp("", "olapgate-bench")
	if err != nil {
		b.Fatal(err)
	}
	// Shared by the sub-benchmarks of one run, so it lives until the process exits.
	cfg := config.Default()
	cfg.Server.DataDir, cfg.Server.HTTPAddr, cfg.Server.GRPCAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.Collector.GRPCAddr, cfg.Collector.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Query.Log.Disabled = os.Getenv("OLAPGATE_BENCH_NO_QUERY_LOG") != ""
	s := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := dataset.Sample()
	g := sample.New(5, benchDay, 24*time.Hour, 1_000_000)
	start := time.Now()
	for done := 0; done < rows; {
		n := min(100000, rows-done)
		batch := store.NewBatch(d, n)
		for range n {
			appendEvent(batch, g.Next())
		}
		if _, err := s.Store().Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.Logf("loaded %d rows in %s", rows, time.Since(start).Round(time.Millisecond))
	benchSrv[rows] = s
	return s
}

func appendEvent(b *store.Batch, e sample.Event) {
	for i, c := range b.Dataset.Columns() {
		cb := &b.Cols[i]
		switch c.Name {
		case "time":
			cb.Times = append(cb.Times, e.Time.UnixMicro())
		case "id":
			cb.Strings = append(cb.Strings, e.ID)
		case "page":
			cb.Strings = append(cb.Strings, e.Page)
		case "country":
			cb.Strings = append(cb.Strings, e.Country)
		case "device":
			cb.Strings = append(cb.Strings, e.Device)
		case "user_id":
			cb.Strings = append(cb.Strings, e.UserID)
		case "tenant":
			cb.Strings = append(cb.Strings, e.Tenant)
		case "duration_ms":
			cb.Ints = append(cb.Ints, e.DurationMs)
		case "bytes":
			cb.Ints = append(cb.Ints, e.Bytes)
		}
	}
	b.N++
}

// BenchmarkQueryLatency runs each dashboard shape through the gateway (HTTP and gRPC) and the
// same SQL straight on the store, interleaved query by query (rotating which goes first) so
// that load from elsewhere on a shared machine hits all three alike. It reports p50/p99 of each
// path and the gateway's p50 overhead over direct. Rows per table come from
// OLAPGATE_BENCH_ROWS (comma-separated; default 1000000).
func BenchmarkQueryLatency(b *testing.B) {
	sizes := []int{1_000_000}
	if env := os.Getenv("OLAPGATE_BENCH_ROWS"); env != "" {
		sizes = nil
		for _, f := range bytes.Split([]byte(env), []byte(",")) {
			n, err := strconv.Atoi(string(f))
			if err != nil {
				b.Fatalf("OLAPGATE_BENCH_ROWS: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	paths := []string{"direct", "http", "grpc"}
	for _, rows := range sizes {
		for _, shape := range benchShapes {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, shape.name), func(b *testing.B) {
				srv := loadedServer(b, rows)
				runs := make([]func(), len(paths))
				for k, path := range paths {
					runs[k] = queryRunner(b, srv, shape.json, path)
					runs[k]() // warm
				}
				lat := make([][]time.Duration, len(paths))
				b.ResetTimer()
				for i := range b.N {
					for r := range paths {
						k := (i + r) % len(paths)
						t0 := time.Now()
						runs[k]()
						lat[k] = append(lat[k], time.Since(t0))
					}
				}
				b.StopTimer()
				p50 := make([]float64, len(paths))
				for k, path := range paths {
					sort.Slice(lat[k], func(i, j int) bool { return lat[k][i] < lat[k][j] })
					p50[k] = float64(lat[k][len(lat[k])/2].Microseconds()) / 1000
					b.ReportMetric(p50[k], path+"-p50-ms")
					b.ReportMetric(float64(lat[k][(len(lat[k])*99)/100].Microseconds())/1000, path+"-p99-ms")
				}
				b.ReportMetric(100*(p50[1]/p50[0]-1), "http-overhead-%")
				b.ReportMetric(100*(p50[2]/p50[0]-1), "grpc-overhead-%")
			})
		}
	}
}

func queryRunner(b *testing.B, srv *server.Server, qjson, path string) func() {
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(qjson), pb); err != nil {
		b.Fatal(err)
	}
	switch path {
	case "direct":
		q, err := query.FromProto(pb, dataset.Sample(), query.Options{Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		p, err := planner.New(q, "duckdb")
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			if _, err := srv.Store().Query(context.Background(), p.Stmt); err != nil {
				b.Fatal(err)
			}
		}
	case "http":
		url := "http://" + srv.HTTPAddr() + "/v1/query"
		return func() {
			resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(qjson)))
			if err != nil {
				b.Fatal(err)
			}
			var ans json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 {
				b.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			_ = resp.Body.Close()
		}
	default:
		cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		qc := olapgatev1.NewQueryServiceClient(cc)
		return func() {
			if _, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
