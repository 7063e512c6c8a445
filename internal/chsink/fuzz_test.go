package chsink

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/olapgate/olapgate/collector/otelrows"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/clickhouse"
)

var update = flag.Bool("update", false, "rewrite testdata/fuzz/FuzzServeConn from recorded client sessions")

// FuzzServeConn feeds bytes to a connection as a client's side of it: whatever they are, the
// sink answers or ends the connection with an error, without a panic. The seeds are sessions
// recorded from ch-go's client and from olapgate's ClickHouse store (TestFuzzSeeds -update).
func FuzzServeConn(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := New(Config{MaxBlockRows: 10_000, MaxStringBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			done <- s.serveConn(struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(in), io.Discard})
		}()
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("serveConn still running after 5s")
		}
		if err != nil && strings.Contains(err.Error(), "panic serving") {
			t.Fatal(err)
		}
	})
}

// FuzzParseStatement: any text parses or is refused with an exception, without a panic.
func FuzzParseStatement(f *testing.F) {
	for _, stmt := range (clickhouse.OTelSchema{ClusterName: "c"}).OTelDDL("x") {
		f.Add(stmt)
	}
	f.Add(eventsDDL)
	f.Add("INSERT INTO `default`.`otel_traces` (`Timestamp`, `Events.Name`) VALUES")
	f.Add("insert into table a.\"b\" settings x = 'y' format Native")
	f.Add("DESC TABLE \"default\".\"otel_logs\" SETTINGS a = 1 FORMAT Native")
	f.Add("CREATE TABLE t (a DateTime DEFAULT now() COMMENT 'x' CODEC(Delta(8), ZSTD(1)) TTL a + 1, n Nested (b UInt8) CODEC(LZ4)) ENGINE = Memory")
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := parseStatement(sql, "default")
		if err == nil {
			if st == nil {
				t.Fatal("no statement and no error")
			}
			return
		}
		if exceptionOf(err).Code == proto.ErrUnknownException {
			t.Fatalf("error without an exception code: %v", err)
		}
	})
}

// recorder is a listener whose connections keep what the client sent.
type recorder struct {
	net.Listener
	mu       sync.Mutex
	sessions []*bytes.Buffer
}

type recordedConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (r *recorder) Accept() (net.Conn, error) {
	nc, err := r.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	buf := new(bytes.Buffer)
	r.sessions = append(r.sessions, buf)
	return recordedConn{Conn: nc, mu: &r.mu, buf: buf}, nil
}

// TestFuzzSeeds records client sessions as FuzzServeConn's seed corpus with -update, and
// otherwise checks the corpus is there.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzServeConn")
	if !*update {
		seeds, err := os.ReadDir(dir)
		if err != nil || len(seeds) == 0 {
			t.Fatalf("no seed corpus in %s (go test -run TestFuzzSeeds -update): %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	record := func(name string, session func(addr string)) {
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{Listener: ln}
		served := make(chan error, 1)
		go func() { served <- s.Serve(rec) }()
		session(ln.Addr().String())
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(c); err != nil {
			t.Fatal(err)
		}
		<-served
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i, buf := range rec.sessions {
			file := filepath.Join(dir, fmt.Sprintf("%s-%d", name, i))
			if err := os.WriteFile(file, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", buf.Bytes()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	clientSession := func(opt ch.Options) func(string) {
		return func(addr string) {
			c := dial(t, addr, opt)
			if err := c.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if err := c.Do(ctx(t), ch.Query{Body: eventsDDL}); err != nil {
				t.Fatal(err)
			}
			id, name := new(proto.ColUInt64), new(proto.ColStr).LowCardinality()
			attrs := proto.NewMap[string, string](new(proto.ColStr).LowCardinality(), new(proto.ColStr))
			for i, n := range []string{"a", "b", "a"} {
				id.Append(uint64(i))
				name.Append(n)
				attrs.Append(map[string]string{"k": n})
			}
			in := proto.Input{{Name: "id", Data: id}, {Name: "name", Data: name}, {Name: "attrs", Data: attrs}}
			if err := c.Do(ctx(t), ch.Query{Body: "INSERT INTO events (id, name, attrs) VALUES", Input: in}); err != nil {
				t.Fatal(err)
			}
			if err := c.Do(ctx(t), ch.Query{Body: "SELECT 1"}); !ch.IsErr(err, proto.ErrNotImplemented) {
				t.Fatal(err)
			}
		}
	}
	record("client-lz4", clientSession(ch.Options{Compression: ch.CompressionLZ4}))
	record("client-plain-54451", clientSession(ch.Options{ProtocolVersion: 54451}))
	record("otel", func(addr string) {
		st, err := clickhouse.Open(ctx(t), clickhouse.Config{Addr: addr, MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		tables, err := st.OTelTables(clickhouse.OTelSchema{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tables.EnsureDataset(ctx(t), otelrows.TracesDataset()); err != nil {
			t.Fatal(err)
		}
		td, ld, _ := otelData(1, 2)
		spans, logs := store.NewBatch(otelrows.TracesDataset(), 0), store.NewBatch(otelrows.LogsDataset(), 0)
		otelrows.AppendTraces(spans, td, otelrows.Options{})
		otelrows.AppendLogs(logs, ld, otelrows.Options{})
		for _, b := range []*store.Batch{spans, logs} {
			if _, err := tables.Write(ctx(t), b); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
