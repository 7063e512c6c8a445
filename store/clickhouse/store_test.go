package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/chpool"
	"github.com/ClickHouse/ch-go/proto"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

func TestConvertValue(t *testing.T) {
	ts := time.Date(2026, 11, 22, 1, 2, 3, 4000, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		in   any
		typ  store.ColumnType
		want any
		err  string
	}{
		{nil, store.TypeInt64, nil, ""},
		{uint64(7), store.TypeInt64, int64(7), ""}, // count()
		{uint64(math.MaxUint64), store.TypeInt64, nil, "overflows"},
		{int64(-3), store.TypeInt64, int64(-3), ""},
		{uint8(1), store.TypeInt64, int64(1), ""},
		{float64(4), store.TypeInt64, int64(4), ""},
		{1.5, store.TypeInt64, nil, "not an integral"},
		{float32(1.5), store.TypeDouble, 1.5, ""}, // quantileTDigest
		{int64(2), store.TypeDouble, 2.0, ""},
		{uint64(2), store.TypeDouble, 2.0, ""},
		{"x", store.TypeString, "x", ""},
		{true, store.TypeString, "true", ""},
		{int64(12), store.TypeString, "12", ""},
		{true, store.TypeBool, true, ""},
		{uint8(0), store.TypeBool, false, ""},
		{uint8(2), store.TypeBool, nil, "cannot convert"},
		{ts, store.TypeTimestamp, ts.UTC(), ""},
		{"2026", store.TypeTimestamp, nil, "cannot convert"},
		{"x", store.TypeInt64, nil, "cannot convert"},
		{"x", store.ColumnType(0), nil, "not a result column type"},
	} {
		got, err := ConvertValue(tc.in, tc.typ)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ConvertValue(%#v, %s) error %v, want %q", tc.in, tc.typ, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ConvertValue(%#v, %s) = %#v, %v; want %#v", tc.in, tc.typ, got, err, tc.want)
		}
		if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("timestamp not in UTC: %v", tm)
		}
	}
}

// TestColumnValue reads the columns ch-go's inference builds for the types olapgate's SQL
// yields, through a native-format round trip.
func TestColumnValue(t *testing.T) {
	ts := time.Date(2026, 11, 22, 1, 2, 3, 4000, time.UTC)
	for _, tc := range []struct {
		typ  proto.ColumnType
		fill func() proto.ColInput
		want []any
	}{
		{"UInt64", func() proto.ColInput { c := &proto.ColUInt64{}; c.Append(5); return c }, []any{uint64(5)}},
		{"Nullable(Int64)", func() proto.ColInput {
			c := new(proto.ColInt64).Nullable()
			c.Append(proto.NewNullable[int64](-1))
			c.Append(proto.Null[int64]())
			return c
		}, []any{int64(-1), nil}},
		{"Nullable(Float64)", func() proto.ColInput {
			c := new(proto.ColFloat64).Nullable()
			c.Append(proto.NewNullable(2.5))
			return c
		}, []any{2.5}},
		{"Nullable(Float32)", func() proto.ColInput {
			c := new(proto.ColFloat32).Nullable()
			c.Append(proto.NewNullable[float32](0.5))
			return c
		}, []any{float32(0.5)}},
		{"Nullable(String)", func() proto.ColInput {
			c := new(proto.ColStr).Nullable()
			c.Append(proto.NewNullable("a"))
			c.Append(proto.Null[string]())
			return c
		}, []any{"a", nil}},
		{"Nullable(Bool)", func() proto.ColInput {
			c := new(proto.ColBool).Nullable()
			c.Append(proto.NewNullable(true))
			return c
		}, []any{true}},
		{"String", func() proto.ColInput { c := &proto.ColStr{}; c.Append("b"); return c }, []any{"b"}},
		{"DateTime64(6, 'UTC')", func() proto.ColInput {
			c := new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC)
			c.Append(ts)
			return c
		}, []any{ts}},
		{"Nullable(DateTime64(6, 'UTC'))", func() proto.ColInput {
			c := new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC).Nullable()
			c.Append(proto.Null[time.Time]())
			c.Append(proto.NewNullable(ts))
			return c
		}, []any{nil, ts}},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			src := tc.fill()
			var buf proto.Buffer
			src.EncodeColumn(&buf)
			auto := &proto.ColAuto{}
			if err := auto.Infer(tc.typ); err != nil {
				t.Fatal(err)
			}
			if err := auto.DecodeColumn(proto.NewReader(strings.NewReader(string(buf.Buf))), src.Rows()); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				got, err := columnValue(auto.Data, i)
				if err != nil {
					t.Fatal(err)
				}
				if g, ok := got.(time.Time); ok {
					if !g.Equal(want.(time.Time)) {
						t.Errorf("row %d: %v, want %v", i, g, want)
					}
					continue
				}
				if got != want {
					t.Errorf("row %d: %#v, want %#v", i, got, want)
				}
			}
		})
	}
	if _, err := columnValue(&proto.ColUUID{}, 0); err == nil {
		t.Error("UUID column read without error")
	}
}

func TestMapError(t *testing.T) {
	bg := context.Background()
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	expired, cancel2 := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel2()
	exc := func(code proto.Error) error {
		return fmt.Errorf("decode block: %w", &ch.Exception{Code: code, Name: code.String(), Message: "boom"})
	}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		code     codes.Code
		overload bool
		chCode   int
	}{
		{"too many queries", bg, exc(202), codes.ResourceExhausted, true, 202},
		{"memory", bg, exc(241), codes.ResourceExhausted, true, 241},
		{"timeout", bg, exc(159), codes.DeadlineExceeded, false, 159},
		{"unknown table", bg, exc(60), codes.NotFound, false, 60},
		{"syntax", bg, exc(62), codes.Internal, false, 62},
		{"cancelled", bg, exc(394), codes.Canceled, false, 394},
		{"unlisted", bg, exc(1000), codes.Internal, false, 1000},
		{"auth", bg, exc(516), codes.Unauthenticated, false, 516},
		{"refused", bg, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, codes.Unavailable, false, 0},
		{"eof", bg, fmt.Errorf("read: %w", io.EOF), codes.Unavailable, false, 0},
		{"ctx cancelled", cancelled, fmt.Errorf("canceled: %w", context.Canceled), codes.Canceled, false, 0},
		{"ctx expired beats server", expired, exc(394), codes.DeadlineExceeded, false, 0},
		{"other", bg, errors.New("odd"), codes.Internal, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mapError(tc.ctx, "do thing", tc.err)
			st, ok := status.FromError(err)
			if !ok || st.Code() != tc.code {
				t.Fatalf("status %v (%v), want %s", st, ok, tc.code)
			}
			if IsOverload(err) != tc.overload {
				t.Errorf("IsOverload %v", IsOverload(err))
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.chCode {
				t.Errorf("code %+v, want %d", e, tc.chCode)
			}
			if !strings.HasPrefix(err.Error(), "do thing: ") {
				t.Errorf("message %q does not say what was being done", err)
			}
			if !errors.Is(err, tc.err) && tc.ctx == bg {
				t.Errorf("%v does not wrap its cause", err)
			}
		})
	}
	if err := mapError(bg, "again", mapError(bg, "first", exc(202))); !strings.HasPrefix(err.Error(), "first") {
		t.Errorf("mapped twice: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{}, ""},
		{Config{Addr: "ch:9440", TLS: true, TLSServerName: "ch.example", MaxConns: 4}, ""},
		{Config{Addr: "nohost"}, "want host:port"},
		{Config{Database: "a`b"}, "backquotes"},
		{Config{MaxConns: -1}, "maxConns"},
		{Config{DialTimeout: -time.Second}, "dialTimeout"},
		{Config{ExecutionMargin: -1}, "executionMargin"},
		{Config{MaxExecutionTime: -1}, "maxExecutionTime"},
		{Config{InsertRows: -1}, "insertRows"},
		{Config{DedupWindow: -1}, "dedupWindow"},
		{Config{TLSCAFile: "ca.pem"}, "need tls"},
		{Config{Compression: "zstd"}, ""},
		{Config{Compression: "none"}, ""},
		{Config{Compression: "gzip"}, `compression "gzip": want lz4, zstd or none`},
	} {
		err := tc.cfg.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.err)
		}
	}
	d := Config{}.withDefaults()
	if d.Addr != DefaultAddr || d.Database != "default" || d.User != "default" || d.MaxConns != DefaultMaxConns ||
		d.DialTimeout != DefaultDialTimeout || d.ExecutionMargin != DefaultExecutionMargin || d.InsertRows != DefaultInsertRows ||
		d.DedupWindow != DefaultDedupWindow || d.MaxExecutionTime != 0 {
		t.Errorf("defaults: %+v", d)
	}
	if _, err := Open(context.Background(), Config{Addr: "x"}); err == nil {
		t.Error("Open with an invalid config succeeded")
	}
}

// TestOpenUnreachable: a refused connection is Unavailable, and says where.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Config{Addr: addr, DialTimeout: time.Second})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || !strings.Contains(err.Error(), addr) {
		t.Errorf("open %s: %v (%s)", addr, err, st.Code())
	}
}

func TestExecutionSettings(t *testing.T) {
	s := &Store{cfg: Config{}.withDefaults()}
	if set, err := s.executionSettings(context.Background()); err != nil || set != nil {
		t.Errorf("no deadline: %v %v", set, err)
	}
	s.cfg.MaxExecutionTime = 30 * time.Second
	if set, err := s.executionSettings(context.Background()); err != nil || len(set) != 1 || set[0].Value != "30.000" {
		t.Errorf("default limit: %v %v", set, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	set, err := s.executionSettings(ctx)
	if err != nil || len(set) != 1 || set[0].Key != "max_execution_time" || set[0].Value > "1.900" || set[0].Value < "1.800" {
		t.Errorf("deadline in 2s: %v %v", set, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := s.executionSettings(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline within the margin: %v", err)
	}
}

func TestQueryID(t *testing.T) {
	a, b := queryID(context.Background()), queryID(context.Background())
	if a == b || !strings.HasPrefix(a, "olapgate-") {
		t.Errorf("random ids %q %q", a, b)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	if id := queryID(ctx); !strings.HasPrefix(id, "4bf92f3577b34da6a3ce929d0e0e4736-") || id == queryID(ctx) {
		t.Errorf("traced id %q", id)
	}
}

func TestClosed(t *testing.T) {
	s := &Store{cfg: Config{}.withDefaults(), closed: true}
	if _, err := s.Query(context.Background(), store.Statement{SQL: "SELECT 1"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("query after close: %v", err)
	}
	if _, err := s.Write(context.Background(), &store.Batch{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	if err := s.EnsureDataset(context.Background(), allTypes(t)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("ensure after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if st, _ := status.FromError(func() error { _, err := s.Query(context.Background(), store.Statement{}); return err }()); st.Code() != codes.Unavailable {
		t.Errorf("closed store status %s", st.Code())
	}
}

// batchOf builds a batch of allTypes with nulls in every nullable column on odd rows.
func batchOf(t *testing.T, d *dataset.Dataset, n int) *store.Batch {
	t.Helper()
	b := store.NewBatch(d, n)
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixMicro()
	for ci, c := range d.Columns() {
		cb := &b.Cols[ci]
		if ci > 0 {
			cb.Null = make([]bool, n)
		}
		for i := range n {
			if ci > 0 {
				cb.Null[i] = i%2 == 1
			}
			switch c.Type {
			case dataset.String:
				cb.Strings = append(cb.Strings, fmt.Sprintf("%s-%d", c.Name, i))
			case dataset.Int:
				cb.Ints = append(cb.Ints, int64(i))
			case dataset.Float:
				cb.Floats = append(cb.Floats, float64(i)/2)
			case dataset.Bool:
				cb.Bools = append(cb.Bools, i%3 == 0)
			case dataset.Timestamp:
				cb.Times = append(cb.Times, base+int64(i)*1_000_001)
			}
		}
	}
	b.N = n
	return b
}

func TestBlockInput(t *testing.T) {
	d := allTypes(t)
	b := batchOf(t, d, 6)
	in, err := blockInput(d, b, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != len(d.Columns()) {
		t.Fatalf("%d columns", len(in))
	}
	for i, c := range d.Columns() {
		want, _ := ColumnType(c, i == 0)
		if in[i].Name != c.Name || normalizeType(string(in[i].Data.Type())) != normalizeType(want) || in[i].Data.Rows() != 3 {
			t.Errorf("column %d: %s %s %d rows, want %s %s", i, in[i].Name, in[i].Data.Type(), in[i].Data.Rows(), c.Name, want)
		}
	}
	// Rows 2, 3, 4: the middle one null everywhere but the time column.
	s := in[1].Data.(*proto.ColNullable[string])
	if s.Row(0).Value != "s-2" || s.Row(1).Set || s.Row(2).Value != "s-4" {
		t.Errorf("strings %v %v %v", s.Row(0), s.Row(1), s.Row(2))
	}
	ts := in[5].Data.(*proto.ColNullable[time.Time])
	if got := ts.Row(2).Value; !ts.Row(2).Set || got.UnixMicro() != b.Cols[5].Times[4] {
		t.Errorf("timestamp %v, want %d", got, b.Cols[5].Times[4])
	}
	tm := in[0].Data.(*proto.ColDateTime64)
	if tm.Row(0).UnixMicro() != b.Cols[0].Times[2] {
		t.Errorf("time %v", tm.Row(0))
	}
	if got := insertSQL(d.Name, in); !strings.HasPrefix(got, "INSERT INTO `events` (`time`, `s`, ") || !strings.HasSuffix(got, ") VALUES") {
		t.Errorf("insert SQL %s", got)
	}

	// Tokens: equal blocks, equal tokens; any change, another token.
	again, _ := blockInput(d, batchOf(t, d, 6), 2, 5)
	other, _ := blockInput(d, b, 1, 4)
	if contentToken(in) != contentToken(again) || contentToken(in) == contentToken(other) {
		t.Error("content tokens do not follow the content")
	}
	b.Cols[2].Ints[3] = 99 // under a null: not data
	b.Cols[2].Null[3] = false
	changed, _ := blockInput(d, b, 2, 5)
	if contentToken(in) == contentToken(changed) {
		t.Error("un-nulling a value kept the token")
	}

	b.Cols[0].Null = make([]bool, 6)
	b.Cols[0].Null[2] = true
	if _, err := blockInput(d, b, 0, 6); err == nil || !strings.Contains(err.Error(), "time column") {
		t.Errorf("null time: %v", err)
	}
}

// TestCloseWaits: Close waits for an operation in flight, refuses new ones, and is idempotent.
func TestCloseWaits(t *testing.T) {
	pool, err := chpool.New(context.Background(), chpool.Options{ClientOptions: ch.Options{Address: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	abort, stop := context.WithCancel(context.Background())
	s := &Store{cfg: Config{}.withDefaults(), pool: pool, abort: abort, stop: stop}
	ctx, end, err := s.begin(context.Background(), "op")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned with an operation in flight")
	default:
	}
	if ctx.Err() != nil {
		t.Fatal("the operation was cancelled before the grace period")
	}
	if _, _, err := s.begin(context.Background(), "late"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("begin after Close: %v", err)
	}
	end()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
