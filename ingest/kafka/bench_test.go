package kafka

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// The throughput target: Kafka → embedded store events/s per core against franz-go
// reading the same topic and discarding, for 10-field events: ≥ 30% of the baseline and
// ≥ 100k events/s.
//
//	go test -c -o /tmp/kafka.test ./ingest/kafka
//	cd ingest/kafka && /tmp/kafka.test -test.run '^$' -test.bench 'KafkaVsBaseline' -test.benchtime 3x -test.count 3
//
// Each iteration reads the whole topic (benchEvents records, 4 partitions; enough for the
// source's commits to reach their steady size) twice, one right after the other: franz-go
// consuming and discarding, then the source into a fresh embedded store. Both join a new
// consumer group, so both include the group join. A third side, the store floor, writes the
// same events, decoded ahead, straight into another fresh store in 120k-row positioned
// commits: what DuckDB costs with no Kafka and no decoding. "cpu" is the CPU time (user +
// system, getrusage) of the process, i.e. per core; kfake-cpu is the broker's. cpu-ratio is
// baseline CPU ÷ source CPU (the ratio); src/floor-cpu is floor CPU ÷ source CPU, 1
// if reading and decoding cost nothing.
//
// Where kfake runs matters. kfake=inprocess is the broker in the benchmark's own process, as
// the tests use it: the baseline's process CPU is then mostly kfake serving fetches (it
// encodes record batches as a broker would, where a real deployment spends that CPU on
// another machine). kfake=child runs it in a child process (this test binary, see
// TestMain), so the process CPU is the consumer's alone and kfake's is read from
// /proc/<pid>/stat; both still share this machine's cores for wall time.
const benchEvents = 500_000

func benchDataset(tb testing.TB) *dataset.Dataset {
	d := &dataset.Dataset{Name: "bench", TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}, {Name: "country", Type: dataset.String},
			{Name: "device", Type: dataset.String}, {Name: "user_id", Type: dataset.String}, {Name: "referrer", Type: dataset.String},
			{Name: "status", Type: dataset.Int}},
		Metrics: []dataset.Field{{Name: "duration_ms", Type: dataset.Int}, {Name: "bytes", Type: dataset.Int}, {Name: "seq", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		tb.Fatal(err)
	}
	return d
}

func benchEvent(i int) string {
	return fmt.Sprintf(`{"time":%d,"page":"/docs/%d","country":"%s","device":"%s","user_id":"u%d","referrer":"https://example.com/%d","status":%d,"duration_ms":%d,"bytes":%d,"seq":%d}`,
		1_700_000_000_000+i, i%50, []string{"US", "DE", "FR", "JP"}[i%4], []string{"desktop", "mobile"}[i%2], i%10007, i%13, 200+i%3, i%1000, 1000+i%5000, i)
}

// kfakeChildEnv makes the test binary a kfake broker holding the benchmark topic (TestMain).
const kfakeChildEnv = "OLAPGATE_KFAKE_CHILD"

// serveKfakeChild is the child process: it prints the broker's address, then serves until
// its stdin closes.
func serveKfakeChild() int {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topic))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	produce(panicTB{}, c, 4, 0, benchEvents, benchEvent)
	fmt.Printf("ADDR %s\n", strings.Join(c.ListenAddrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// panicTB is enough of a testing.TB for produce outside a test.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                   {}
func (panicTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// broker is where a benchmark reads its topic from.
type broker struct {
	addrs []string
	pid   int // the child process, 0 when in process
}

func benchBroker(b *testing.B, child bool) broker {
	if !child {
		c := newCluster(b, 4)
		produce(b, c, 4, 0, benchEvents, benchEvent)
		return broker{addrs: c.ListenAddrs()}
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), kfakeChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "ADDR ") {
		b.Fatalf("kfake child: %q, %v", line, err)
	}
	return broker{addrs: strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")), ","), pid: cmd.Process.Pid}
}

// cpuSeconds is the CPU time used so far by this process and by the broker's child process.
func (br broker) cpuSeconds(tb testing.TB) (self, child float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	if br.pid == 0 {
		return self, 0
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(br.pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name (in parentheses): utime and stime are the 12th and 13th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return self, (ut + st) / 100 // USER_HZ
}

// phase is what one way of reading the topic cost over a benchmark.
type phase struct{ wall, cpu, kfake float64 }

func (br broker) measure(tb testing.TB, p *phase, f func()) {
	c0, k0 := br.cpuSeconds(tb)
	t0 := time.Now()
	f()
	p.wall += time.Since(t0).Seconds()
	c1, k1 := br.cpuSeconds(tb)
	p.cpu += c1 - c0
	p.kfake += k1 - k0
}

// consumeAndDiscard is the baseline: franz-go reads every record of the topic and drops it.
// It returns the client, to be closed (leaving the group) off the clock.
func consumeAndDiscard(tb testing.TB, addrs []string, group string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		tb.Fatal(err)
	}
	for n := 0; n < benchEvents; {
		f := cl.PollRecords(context.Background(), DefaultMaxEvents)
		n += f.NumRecords()
	}
	return cl
}

// consumeIntoStore runs the source over the topic until every record is committed (the
// accepted counter moves after the store commit). It returns the source, to be shut down
// off the clock.
func consumeIntoStore(tb testing.TB, addrs []string, group string, st *embedded.Store, d *dataset.Dataset, maxEvents int) *Source {
	cfg := Config{Name: "bench", Brokers: addrs, Group: group, Topics: []Topic{{Topic: topic, Dataset: d.Name}},
		Batch: BatchConfig{MaxEvents: maxEvents}}
	src := startSource(tb, cfg, st, []*dataset.Dataset{d}, nil)
	accepted := src.m.events.WithLabelValues(src.name, d.Name, "accepted")
	deadline := time.Now().Add(5 * time.Minute)
	for testutil.ToFloat64(accepted) < benchEvents {
		if time.Now().After(deadline) {
			tb.Fatalf("%v of %d events committed after 5 minutes", testutil.ToFloat64(accepted), benchEvents)
		}
		time.Sleep(time.Millisecond)
	}
	return src
}

func BenchmarkKafkaVsBaseline(b *testing.B) {
	for _, child := range []bool{true, false} {
		name := "kfake=inprocess"
		if child {
			name = "kfake=child"
		}
		b.Run(name, func(b *testing.B) {
			br := benchBroker(b, child)
			d := benchDataset(b)
			var base, src, floor phase
			var commits int64
			batches := floorBatches(b, d)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var cl *kgo.Client
				br.measure(b, &base, func() { cl = consumeAndDiscard(b, br.addrs, "base"+strconv.Itoa(i)) })
				b.StopTimer()
				cl.Close()
				st := openStore(b, b.TempDir(), d)
				b.StartTimer()
				var s *Source
				br.measure(b, &src, func() { s = consumeIntoStore(b, br.addrs, "src"+strconv.Itoa(i), st, d, 0) })
				b.StopTimer()
				commits += st.Stats().Commits
				closeAll(b, s, st)
				st = openStore(b, b.TempDir(), d)
				b.StartTimer()
				br.measure(b, &floor, func() { storeFloor(b, st, batches) })
				b.StopTimer()
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			n := float64(benchEvents * b.N)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(n/base.wall, "base-ev/s")
			b.ReportMetric(n/src.wall, "src-ev/s")
			b.ReportMetric(base.wall/src.wall, "wall-ratio")
			b.ReportMetric(n/base.cpu, "base-ev/cpu-s")
			b.ReportMetric(n/src.cpu, "src-ev/cpu-s")
			b.ReportMetric(base.cpu/src.cpu, "cpu-ratio")
			if child {
				b.ReportMetric(base.kfake/float64(b.N), "base-kfake-cpu-s/op")
				b.ReportMetric(src.kfake/float64(b.N), "src-kfake-cpu-s/op")
			}
			b.ReportMetric(n/float64(commits), "src-ev/commit")
			b.ReportMetric(n/floor.wall, "floor-ev/s")
			b.ReportMetric(n/floor.cpu, "floor-ev/cpu-s")
			b.ReportMetric(floor.cpu/src.cpu, "src/floor-cpu")
			b.ReportMetric(base.cpu/float64(b.N), "base-cpu-s/op")
			b.ReportMetric(src.cpu/float64(b.N), "src-cpu-s/op")
		})
	}
}

// floorBatches are the topic's events decoded ahead (10k-event batches), for storeFloor.
func floorBatches(tb testing.TB, d *dataset.Dataset) []*store.Batch {
	var out []*store.Batch
	dec := decode.NewDecoder()
	for from := 0; from < benchEvents; from += 10_000 {
		var body []byte
		for i := from; i < min(from+10_000, benchEvents); i++ {
			body = append(append(body, benchEvent(i)...), '\n')
		}
		b, rej, err := dec.JSON(d, body, decode.FormatNDJSON, 0, decode.Limits{})
		if err != nil || len(rej) > 0 {
			tb.Fatalf("decode: %v %v", err, rej)
		}
		out = append(out, b)
	}
	return out
}

// storeFloor is what the store alone does with the same events, decoded ahead: positioned
// writes of 12 batches (120k rows, about the largest commit the source makes) each.
func storeFloor(tb testing.TB, st *embedded.Store, batches []*store.Batch) {
	prev := ""
	for i := 0; i < len(batches); i += 12 {
		next := strconv.Itoa(i)
		if _, err := st.WritePositioned(context.Background(), "floor", batches[i:min(i+12, len(batches))],
			[]store.Position{{Partition: "p", Prev: prev, Next: next}}); err != nil {
			tb.Fatal(err)
		}
		prev = next
	}
}

func closeAll(tb testing.TB, src *Source, st *embedded.Store) {
	shutdown(tb, src)
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkConsume is the source alone, with kfake in a child process: the one to profile
// (-test.cpuprofile sees the consumer, not the broker). maxEvents=0 is the default
// (DefaultMaxEvents).
func BenchmarkConsume(b *testing.B) {
	br := benchBroker(b, true)
	d := benchDataset(b)
	for _, maxEvents := range []int{0, 50_000} {
		b.Run("maxEvents="+strconv.Itoa(maxEvents), func(b *testing.B) {
			var p phase
			var commits int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := openStore(b, b.TempDir(), d)
				b.StartTimer()
				var src *Source
				br.measure(b, &p, func() {
					src = consumeIntoStore(b, br.addrs, "bench"+strconv.Itoa(maxEvents)+"-"+strconv.Itoa(i), st, d, maxEvents)
				})
				b.StopTimer()
				commits += st.Stats().Commits
				closeAll(b, src, st)
				b.StartTimer()
			}
			b.ReportMetric(float64(benchEvents*b.N)/float64(commits), "events/commit")
			b.ReportMetric(float64(benchEvents*b.N)/p.wall, "events/s")
			b.ReportMetric(float64(benchEvents*b.N)/p.cpu, "events/cpu-s")
		})
	}
}

// BenchmarkFreshness measures the time from producing an event to seeing it in an aggregate
// query on the store (issue target: p99 < 1 s). A producer writes rate events/s, in a burst
// every 10 ms, round-robin over 4 partitions, noting when it produced each; a reader runs
//
//	SELECT seq % 4, max(seq) FROM bench GROUP BY 1
//
// every 10 ms: a partition's rows are a prefix of what it was sent (the source commits
// offsets in order), so every event of partition p up to max(seq) is visible, and becomes
// visible at the first query that shows it. The figure includes up to one query interval.
//
//	/tmp/kafka.test -test.run '^$' -test.bench Freshness -test.benchtime 1x -test.count 3
func BenchmarkFreshness(b *testing.B) {
	for _, rate := range []int{10_000, 50_000} {
		for _, wait := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, DefaultMaxWait} {
			b.Run(fmt.Sprintf("rate=%d/maxWait=%s", rate, wait), func(b *testing.B) {
				var lat []time.Duration
				for i := 0; i < b.N; i++ {
					lat = append(lat, freshness(b, rate, wait, 10*time.Second)...)
				}
				slices.Sort(lat)
				q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(q(0.50), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(q(1), "max-ms")
			})
		}
	}
}

// freshness produces rate events/s for dur and returns each event's produce → visible time.
func freshness(b *testing.B, rate int, wait, dur time.Duration) []time.Duration {
	const partitions = 4
	c := newCluster(b, partitions)
	d := benchDataset(b)
	st := openStore(b, b.TempDir(), d)
	defer func() {
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}()
	// Warnings (a failed commit, a fetch error) would explain an outlier: show them.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := New(Config{Name: "fresh", Brokers: c.ListenAddrs(), Group: "fresh",
		Topics: []Topic{{Topic: topic, Dataset: d.Name}}, Batch: BatchConfig{MaxWait: wait}}, st, []*dataset.Dataset{d}, nil, log)
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer shutdown(b, src)
	// Produce once the source owns the partitions: the group join is not freshness.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		src.mu.Lock()
		owned := len(src.parts)
		src.mu.Unlock()
		if owned == partitions {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the source owns %d of %d partitions after 30s", owned, partitions)
		}
	}
	pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()

	total := int(float64(rate) * dur.Seconds())
	produced := make([]time.Time, total)
	visible := make([]time.Time, total)
	var mu sync.Mutex // guards produced (written by the producer, read by the reader)
	done := make(chan struct{})
	go func() { // the producer
		defer close(done)
		const tick = 10 * time.Millisecond
		per := rate / int(time.Second/tick)
		t := time.NewTicker(tick)
		defer t.Stop()
		for seq := 0; seq < total; {
			<-t.C
			now := time.Now()
			for k := 0; k < per && seq < total; k, seq = k+1, seq+1 {
				mu.Lock()
				produced[seq] = now
				mu.Unlock()
				pr.Produce(context.Background(), &kgo.Record{Partition: int32(seq % partitions), Value: []byte(benchEvent(seq))}, nil)
			}
		}
		if err := pr.Flush(context.Background()); err != nil {
			panic(err)
		}
	}()
	// The reader.
	next := [partitions]int{0, 1, 2, 3} // the lowest seq of each partition not seen yet
	seen := 0
	deadline := time.Now().Add(dur + 30*time.Second)
	for seen < total {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events visible", seen, total)
		}
		res, err := st.Query(context.Background(), store.Statement{SQL: `SELECT seq % 4, max(seq) FROM bench GROUP BY 1`,
			Output: []store.ResultColumn{{Name: "p", Type: store.TypeInt64}, {Name: "m", Type: store.TypeInt64}}})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, row := range res.Rows {
			p, m := int(row[0].(int64)), int(row[1].(int64))
			for ; next[p] <= m; next[p] += partitions {
				visible[next[p]] = now
				seen++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-done
	out := make([]time.Duration, total)
	mu.Lock()
	defer mu.Unlock()
	for i := range out {
		out[i] = visible[i].Sub(produced[i])
	}
	return out
}
