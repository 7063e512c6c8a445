package chsink

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
)

// start serves a sink on a loopback port until the test ends; OnError fails the test unless
// the test expects connection errors (allowErrors).
func start(t *testing.T, cfg Config, allowErrors bool) (*Server, string) {
	t.Helper()
	if cfg.OnError == nil && !allowErrors {
		cfg.OnError = func(err error) { t.Errorf("connection error: %v", err) }
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("second shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t *testing.T, addr string, opt ch.Options) *ch.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opt.Address = addr
	c, err := ch.Dial(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close client: %v", err)
		}
	})
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

const eventsDDL = "CREATE TABLE IF NOT EXISTS `events` (\n" +
	"  id UInt64 CODEC(Delta, ZSTD(1)),\n" +
	"  name LowCardinality(String),\n" +
	"  body String,\n" +
	"  ts DateTime64(9) CODEC(Delta, ZSTD(1)),\n" +
	"  day Date DEFAULT toDate(ts),\n" +
	"  hour DateTime MATERIALIZED toStartOfHour(ts),\n" +
	"  attrs Map(LowCardinality(String), String),\n" +
	"  ev Nested (at DateTime64(9), attrs Map(LowCardinality(String), String)),\n" +
	"  INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8\n" +
	") ENGINE = MergeTree() PARTITION BY toDate(ts) ORDER BY (name, ts) SETTINGS index_granularity = 8192"

// TestClient drives the sink with ch-go's own client, at each compression and at an older
// protocol revision: ping, DDL, an INSERT of a few columns (the hook sees the values), and the
// exceptions that leave the connection usable.
func TestClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  ch.Options
	}{
		{"lz4", ch.Options{Compression: ch.CompressionLZ4}},
		{"zstd", ch.Options{Compression: ch.CompressionZSTD}},
		{"none", ch.Options{}},
		{"checksummed", ch.Options{Compression: ch.CompressionNone}},
		{"revision54451", ch.Options{Compression: ch.CompressionLZ4, ProtocolVersion: 54451}},
		{"revision54429", ch.Options{ProtocolVersion: 54429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			s, addr := start(t, Config{OnBlock: func(b Block) error {
				mu.Lock()
				defer mu.Unlock()
				names := b.Columns[1].Data.(proto.ColumnOf[string])
				for i := 0; i < b.Rows; i++ {
					seen = append(seen, names.Row(i))
				}
				return nil
			}}, false)
			c := dial(t, addr, tc.opt)
			if err := c.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
			for _, ddl := range []string{"CREATE DATABASE IF NOT EXISTS other", eventsDDL, eventsDDL, "CREATE TABLE other.t (a UInt8) ENGINE = Memory"} {
				if err := c.Do(ctx(t), ch.Query{Body: ddl}); err != nil {
					t.Fatalf("%.40s: %v", ddl, err)
				}
			}

			id, name, ts := new(proto.ColUInt64), new(proto.ColStr).LowCardinality(), new(proto.ColDateTime64).WithPrecision(proto.PrecisionNano)
			attrs := proto.NewMap[string, string](new(proto.ColStr).LowCardinality(), new(proto.ColStr))
			evAt := proto.NewArray[time.Time](new(proto.ColDateTime64).WithPrecision(proto.PrecisionNano))
			now := time.Unix(1_700_000_000, 123).UTC()
			for i, n := range []string{"a", "b", "a"} {
				id.Append(uint64(i))
				name.Append(n)
				ts.Append(now)
				attrs.Append(map[string]string{"k": n})
				evAt.Append([]time.Time{now, now})
			}
			input := proto.Input{{Name: "id", Data: id}, {Name: "name", Data: name}, {Name: "ts", Data: ts}, {Name: "attrs", Data: attrs}, {Name: "ev.at", Data: evAt}}
			if err := c.Do(ctx(t), ch.Query{Body: "INSERT INTO events (id, name, ts, attrs, `ev.at`) VALUES", Input: input}); err != nil {
				t.Fatal(err)
			}
			if got := s.Rows("events"); got != 3 {
				t.Errorf("rows = %d, want 3", got)
			}
			if strings.Join(seen, ",") != "a,b,a" {
				t.Errorf("hook saw names %q", seen)
			}

			// Refused before any data: the connection stays usable after each.
			for _, bad := range []struct {
				body string
				code proto.Error
			}{
				{"SELECT 1", proto.ErrNotImplemented},
				{"INSERT INTO missing (id) VALUES", proto.ErrUnknownTable},
				{"INSERT INTO nodb.events (id) VALUES", proto.ErrUnknownDatabase},
				{"INSERT INTO events (id, nope) VALUES", proto.ErrNoSuchColumnInTable},
				{"INSERT INTO events (hour) VALUES", proto.ErrIllegalColumn},
				{"INSERT INTO events (id) VALUES (1)", proto.ErrNotImplemented},
				{"INSERT INTO events SELECT 1", proto.ErrNotImplemented},
				{"CREATE TABLE events (a UInt8) ENGINE = Memory", proto.ErrTableAlreadyExists},
				{"CREATE TABLE t2 (a Object('json')) ENGINE = Memory", proto.ErrUnknownType},
				{"ALTER TABLE events ADD COLUMN x UInt8", proto.ErrNotImplemented},
			} {
				// Without Input: ch-go's client, refused before the header, may leave its
				// unsent input in its write buffer for the next query (with ClickHouse too).
				err := c.Do(ctx(t), ch.Query{Body: bad.body})
				if !ch.IsErr(err, bad.code) {
					t.Errorf("%s: got %v, want exception %s", bad.body, err, bad.code)
				}
				if err := c.Ping(ctx(t)); err != nil {
					t.Fatalf("ping after %s: %v", bad.body, err)
				}
			}
			if got := s.Rows("default.events"); got != 3 {
				t.Errorf("rows after refusals = %d, want 3", got)
			}
		})
	}
}

// TestRefusedInsert: an INSERT with its input, refused before the header, fails with the
// exception. (ch-go's client may then still send its input, racing its own cancellation: the
// sink, as ClickHouse, ends that connection, which is why connection errors are allowed here.)
func TestRefusedInsert(t *testing.T) {
	s, addr := start(t, Config{}, true)
	c := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
	if err := c.Do(ctx(t), ch.Query{Body: "CREATE TABLE t (id UInt64) ENGINE = Null"}); err != nil {
		t.Fatal(err)
	}
	id := new(proto.ColUInt64)
	id.Append(1)
	for body, code := range map[string]proto.Error{
		"INSERT INTO missing (id) VALUES": proto.ErrUnknownTable,
		"INSERT INTO t (id, x) VALUES":    proto.ErrNoSuchColumnInTable,
	} {
		other := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
		if err := other.Do(ctx(t), ch.Query{Body: body, Input: proto.Input{{Name: "id", Data: id}}}); !ch.IsErr(err, code) {
			t.Errorf("%s: got %v, want %s", body, err, code)
		}
	}
	if n := s.Rows("t"); n != 0 {
		t.Errorf("rows = %d", n)
	}
}

// TestInsertHeader checks the header the sink answers an INSERT with: the named columns in
// the INSERT's order with the DDL's types (Nested expanded), or every ordinary and DEFAULT
// column when the INSERT names none.
func TestInsertHeader(t *testing.T) {
	s, addr := start(t, Config{}, false)
	c := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
	if err := c.Do(ctx(t), ch.Query{Body: eventsDDL}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, want string }{
		{"INSERT INTO events (ts, `ev.attrs`, id) VALUES", "ts DateTime64(9); ev.attrs Array(Map(LowCardinality(String), String)); id UInt64"},
		{"INSERT INTO `default`.events VALUES", "id UInt64; name LowCardinality(String); body String; ts DateTime64(9); day Date; " +
			"attrs Map(LowCardinality(String), String); ev.at Array(DateTime64(9)); ev.attrs Array(Map(LowCardinality(String), String))"},
	} {
		// A raw exchange: ch-go's client only returns the header through type inference.
		got := rawInsertHeader(t, addr, tc.body)
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
	if n := s.Rows("events"); n != 0 {
		t.Errorf("rows = %d, want 0", n)
	}
}

// rawInsertHeader sends an INSERT's query and empty external-data block over a bare
// connection, reads the header block the sink answers with, and ends the INSERT without data.
func rawInsertHeader(t *testing.T, addr, body string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nc.Close() }()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	ver := proto.Version
	var b proto.Buffer
	proto.ClientHello{Name: "test", ProtocolVersion: ver, Database: "default", User: "default"}.Encode(&b)
	if _, err := nc.Write(b.Buf); err != nil {
		t.Fatal(err)
	}
	r := proto.NewReader(nc)
	if code, err := r.UVarInt(); err != nil || proto.ServerCode(code) != proto.ServerCodeHello {
		t.Fatalf("hello: code %d, %v", code, err)
	}
	var hello proto.ServerHello
	if err := hello.DecodeAware(r, ver); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.PutString("") // addendum: quota key
	proto.Query{ID: "q", Body: body, Stage: proto.StageComplete, Info: proto.ClientInfo{ProtocolVersion: ver, Interface: proto.InterfaceTCP, Query: proto.ClientQueryInitial}}.EncodeAware(&b, ver)
	proto.ClientCodeData.Encode(&b)
	proto.ClientData{}.EncodeAware(&b, ver)
	proto.Block{}.EncodeAware(&b, ver)
	if _, err := nc.Write(b.Buf); err != nil {
		t.Fatal(err)
	}
	code, err := r.UVarInt()
	if err != nil || proto.ServerCode(code) != proto.ServerCodeData {
		t.Fatalf("%s: code %d, %v, want a Data packet", body, code, err)
	}
	if _, err := r.Str(); err != nil {
		t.Fatal(err)
	}
	var info proto.ColInfoInput
	var block proto.Block
	if err := block.DecodeBlock(r, ver, &info); err != nil {
		t.Fatal(err)
	}
	// End the INSERT: the empty block, then EndOfStream.
	b.Reset()
	proto.ClientCodeData.Encode(&b)
	proto.ClientData{}.EncodeAware(&b, ver)
	proto.Block{}.EncodeAware(&b, ver)
	if _, err := nc.Write(b.Buf); err != nil {
		t.Fatal(err)
	}
	if code, err := r.UVarInt(); err != nil || proto.ServerCode(code) != proto.ServerCodeEndOfStream {
		t.Fatalf("%s: code %d, %v, want EndOfStream", body, code, err)
	}
	var parts []string
	for _, c := range info {
		parts = append(parts, c.Name+" "+string(c.Type))
	}
	return strings.Join(parts, "; ")
}

// TestRefusedBlock: an OnBlock error fails the INSERT once the client has sent all of it; the
// blocks before stay counted; the connection stays usable.
func TestRefusedBlock(t *testing.T) {
	blocks := 0
	s, addr := start(t, Config{OnBlock: func(b Block) error {
		blocks++
		if blocks == 2 {
			return &Error{Code: proto.ErrTooManyParts, Message: "too many parts"}
		}
		return nil
	}}, false)
	c := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
	if err := c.Do(ctx(t), ch.Query{Body: "CREATE TABLE t (a UInt32, b String) ENGINE = Null"}); err != nil {
		t.Fatal(err)
	}
	a, b := new(proto.ColUInt32), new(proto.ColStr)
	sent := 0
	next := func(context.Context) error {
		a.Reset()
		b.Reset()
		if sent == 3 {
			return io.EOF
		}
		sent++
		for i := 0; i < 10; i++ {
			a.Append(uint32(i))
			b.Append("x")
		}
		return nil
	}
	err := c.Do(ctx(t), ch.Query{Body: "INSERT INTO t (a, b) VALUES", Input: proto.Input{{Name: "a", Data: a}, {Name: "b", Data: b}}, OnInput: next})
	if !ch.IsErr(err, proto.ErrTooManyParts) {
		t.Fatalf("got %v, want TOO_MANY_PARTS", err)
	}
	if blocks != 3 && blocks != 2 {
		t.Errorf("hook ran %d times", blocks)
	}
	if got := s.Rows("t"); got != 10 {
		t.Errorf("rows = %d, want 10 (the first block)", got)
	}
	if err := c.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if len(st) != 1 || st[0] != (TableStats{Table: "default.t", Rows: 10, Blocks: 1}) {
		t.Errorf("stats = %+v", st)
	}
}

// TestBadStream: a stream the sink cannot follow gets an exception and a closed connection.
func TestBadStream(t *testing.T) {
	errs := make(chan error, 4)
	_, addr := start(t, Config{MaxBlockRows: 5, OnError: func(err error) { errs <- err }}, true)
	c := dial(t, addr, ch.Options{Compression: ch.CompressionLZ4})
	if err := c.Do(ctx(t), ch.Query{Body: "CREATE TABLE t (a UInt32) ENGINE = Null"}); err != nil {
		t.Fatal(err)
	}
	a := new(proto.ColUInt32)
	for i := 0; i < 6; i++ {
		a.Append(1)
	}
	err := c.Do(ctx(t), ch.Query{Body: "INSERT INTO t (a) VALUES", Input: proto.Input{{Name: "a", Data: a}}})
	if !ch.IsErr(err, proto.ErrTooManyRows) {
		t.Fatalf("got %v, want TOO_MANY_ROWS", err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "6 rows") {
			t.Errorf("connection error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not end")
	}
}

// TestDescribe: DESCRIBE TABLE answers every column of the table as ClickHouse lists them
// (Nested expanded, MATERIALIZED ones too, with their clauses), compressed or not; an unknown
// table or database and a view are exceptions that leave the connection usable. The
// OpenTelemetry Collector's ClickHouse exporter detects the logs table's schema this way.
func TestDescribe(t *testing.T) {
	for _, opt := range []ch.Options{{Compression: ch.CompressionLZ4}, {Compression: ch.CompressionZSTD}, {}} {
		t.Run(opt.Compression.String(), func(t *testing.T) {
			_, addr := start(t, Config{}, false)
			c := dial(t, addr, opt)
			for _, ddl := range []string{eventsDDL, "CREATE MATERIALIZED VIEW v TO events AS SELECT 1"} {
				if err := c.Do(ctx(t), ch.Query{Body: ddl}); err != nil {
					t.Fatal(err)
				}
			}
			cols := make([]proto.ColStr, len(describeColumns))
			result := make(proto.Results, len(describeColumns))
			for i, name := range describeColumns {
				result[i] = proto.ResultColumn{Name: name, Data: &cols[i]}
			}
			var rows []string
			err := c.Do(ctx(t), ch.Query{Body: "DESC TABLE `default`.\"events\"", Result: result, OnResult: func(context.Context, proto.Block) error {
				for r := 0; r < cols[0].Rows(); r++ {
					var f []string
					for i := range cols {
						f = append(f, cols[i].Row(r))
					}
					rows = append(rows, strings.Join(f, "|"))
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"id|UInt64||||Delta, ZSTD(1)|",
				"name|LowCardinality(String)||||",
				"body|String||||",
				"ts|DateTime64(9)||||Delta, ZSTD(1)|",
				"day|Date|DEFAULT|toDate(ts)|||",
				"hour|DateTime|MATERIALIZED|toStartOfHour(ts)|||",
				"attrs|Map(LowCardinality(String), String)|||||",
				"ev.at|Array(DateTime64(9))|||||",
				"ev.attrs|Array(Map(LowCardinality(String), String))|||||",
			}
			want[1], want[2] = want[1]+"|", want[2]+"|"
			if strings.Join(rows, "\n") != strings.Join(want, "\n") {
				t.Errorf("DESC:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
			}
			for body, code := range map[string]proto.Error{
				"DESCRIBE missing":         proto.ErrUnknownTable,
				"DESCRIBE nodb.events":     proto.ErrUnknownDatabase,
				"DESCRIBE v":               proto.ErrNotImplemented,
				"DESCRIBE (SELECT 1)":      proto.ErrNotImplemented,
				"DESCRIBE TABLE events 1":  proto.ErrSyntaxError,
				"DESCRIBE TABLE numbers()": proto.ErrNotImplemented,
			} {
				if err := c.Do(ctx(t), ch.Query{Body: body}); !ch.IsErr(err, code) {
					t.Errorf("%s: got %v, want %s", body, err, code)
				}
				if err := c.Ping(ctx(t)); err != nil {
					t.Fatalf("ping after %s: %v", body, err)
				}
			}
		})
	}
}

// TestOnQuery: the hook sees every query's text, its settings in order with their flag, and
// whether its blocks are compressed, before the statement runs (a refused one too).
func TestOnQuery(t *testing.T) {
	var mu sync.Mutex
	var seen []Query
	_, addr := start(t, Config{OnQuery: func(q Query) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, q)
	}}, false)
	for _, opt := range []ch.Options{{Compression: ch.CompressionLZ4}, {}} {
		c := dial(t, addr, opt)
		settings := []ch.Setting{{Key: "async_insert", Value: "1"}, {Key: "max_execution_time", Value: "9", Important: true}}
		if err := c.Do(ctx(t), ch.Query{Body: "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Null", Settings: settings}); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx(t), ch.Query{Body: "SELECT 1"}); !ch.IsErr(err, proto.ErrNotImplemented) {
			t.Fatalf("SELECT 1: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []Query{
		{Body: "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Null", Compressed: true, Settings: []Setting{{Key: "async_insert", Value: "1"}, {Key: "max_execution_time", Value: "9", Important: true}}},
		{Body: "SELECT 1", Compressed: true},
		{Body: "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Null", Settings: []Setting{{Key: "async_insert", Value: "1"}, {Key: "max_execution_time", Value: "9", Important: true}}},
		{Body: "SELECT 1"},
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("seen %+v\nwant %+v", seen, want)
	}
}
