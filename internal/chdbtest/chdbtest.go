// Package chdbtest runs ClickHouse SQL on chdb (ClickHouse as a library, npm package chdb)
// through the node runner in tools/chdb, for tests of olapgate's ClickHouse SQL and DDL.
package chdbtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/nodetool"
)

// DirEnv overrides where the runner (run.js and its node_modules) is; default tools/chdb at
// the module root.
const DirEnv = "OLAPGATE_CHDB_DIR"

// Runner runs statements on chdb.
type Runner struct {
	node string
	dir  string
}

// Find locates node and the runner, with an error saying what is missing and how to install it.
func Find() (*Runner, error) {
	tool, err := nodetool.Find("chdb", DirEnv, "chdb")
	if err != nil {
		return nil, err
	}
	return &Runner{node: tool.Node, dir: tool.Dir}, nil
}

// Require returns a runner, or skips the test when there is none; under CI=true a missing
// runner fails the test instead, so CI cannot pass without checking the SQL.
func Require(t testing.TB) *Runner {
	t.Helper()
	r, err := Find()
	if err != nil {
		nodetool.Missing(t, "chdb", "the ClickHouse SQL check", err)
	}
	return r
}

// Column is a result column as ClickHouse names and types it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is one statement's outcome. Rows hold the values as ClickHouse's JSONCompact printed
// them (json.Number for numbers); Values converts them to Go types.
type Result struct {
	// Err is the statement's error (with Code, the ClickHouse error code), nil on success.
	Err     error
	Code    int
	Columns []Column
	Rows    [][]any
}

// Session is a running chdb runner with one in-memory session: tables created by one Run are
// there for the next.
type Session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// Start starts a session; Close ends it.
func (r *Runner) Start(ctx context.Context) (*Session, error) {
	s := &Session{cmd: exec.CommandContext(ctx, r.node, filepath.Join(r.dir, "run.js"))}
	s.cmd.Dir = r.dir
	s.cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start chdb: %w", err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start chdb: %w", err)
	}
	s.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chdb: %w", err)
	}
	return s, nil
}

// Close ends the session and waits for the runner to exit.
func (s *Session) Close() error {
	if err := s.stdin.Close(); err != nil {
		return fmt.Errorf("close chdb input: %w", err)
	}
	if err := s.cmd.Wait(); err != nil {
		return fmt.Errorf("chdb runner: %w\n%s", err, s.stderr.String())
	}
	return nil
}

// Run runs the statements in order. A failing statement does not stop the others; its Result
// carries the error. The error returned is the runner's (it died, or answered nonsense).
func (s *Session) Run(statements ...string) ([]Result, error) {
	in, err := json.Marshal(map[string]any{"statements": statements})
	if err != nil {
		return nil, fmt.Errorf("encode chdb request: %w", err)
	}
	if _, err := s.stdin.Write(append(in, '\n')); err != nil {
		return nil, fmt.Errorf("send chdb request: %w\n%s", err, s.stderr.String())
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("read chdb answer: %w\n%s", err, s.stderr.String())
	}
	var raw []struct {
		OK    bool   `json:"ok"`
		Code  *int   `json:"code"`
		Error string `json:"error"`
		Text  string `json:"text"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, fmt.Errorf("decode chdb answer: %w", err)
	}
	if len(raw) != len(statements) {
		return nil, fmt.Errorf("chdb answered %d statements of %d", len(raw), len(statements))
	}
	out := make([]Result, len(raw))
	for i, x := range raw {
		if !x.OK {
			if x.Code != nil {
				out[i].Code = *x.Code
			}
			out[i].Err = fmt.Errorf("chdb: %s", x.Error)
			continue
		}
		if strings.TrimSpace(x.Text) == "" {
			continue
		}
		var res struct {
			Meta []Column `json:"meta"`
			Data [][]any  `json:"data"`
		}
		dec := json.NewDecoder(strings.NewReader(x.Text))
		dec.UseNumber()
		if err := dec.Decode(&res); err != nil {
			return nil, fmt.Errorf("decode chdb result of statement %d: %w", i, err)
		}
		out[i].Columns, out[i].Rows = res.Meta, res.Data
	}
	return out, nil
}

// Values converts the rows to the Go values ch-go's columns hold for the same ClickHouse types
// (nil, int8-int64, uint8-uint64, float32, float64, string, bool, time.Time in UTC), so a
// caller converts them further by the store's own rules.
func (r Result) Values() ([][]any, error) {
	rows := make([][]any, len(r.Rows))
	for i, row := range r.Rows {
		if len(row) != len(r.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(r.Columns))
		}
		rows[i] = make([]any, len(row))
		for j, v := range row {
			x, err := goValue(v, r.Columns[j].Type)
			if err != nil {
				return nil, fmt.Errorf("row %d column %s: %w", i, r.Columns[j].Name, err)
			}
			rows[i][j] = x
		}
	}
	return rows, nil
}

func goValue(v any, typ string) (any, error) {
	for _, wrap := range []string{"Nullable(", "LowCardinality("} {
		if strings.HasPrefix(typ, wrap) && strings.HasSuffix(typ, ")") {
			typ = typ[len(wrap) : len(typ)-1]
		}
	}
	if v == nil {
		return nil, nil
	}
	num := func(bits int, signed bool) (any, error) {
		n, ok := v.(json.Number)
		if !ok {
			s, isStr := v.(string) // quoted 64-bit integers
			if !isStr {
				return nil, fmt.Errorf("%s value %v (%T) is not a number", typ, v, v)
			}
			n = json.Number(s)
		}
		if signed {
			x, err := strconv.ParseInt(string(n), 10, bits)
			return x, err
		}
		x, err := strconv.ParseUint(string(n), 10, bits)
		return x, err
	}
	switch {
	case typ == "String":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("String value %v is %T", v, v)
		}
		return s, nil
	case typ == "Bool":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("Bool value %v is %T", v, v)
		}
		return b, nil
	case typ == "Int64":
		return num(64, true)
	case typ == "Int32":
		x, err := num(32, true)
		if err != nil {
			return nil, err
		}
		return int32(x.(int64)), nil
	case typ == "Int16":
		x, err := num(16, true)
		if err != nil {
			return nil, err
		}
		return int16(x.(int64)), nil
	case typ == "Int8":
		x, err := num(8, true)
		if err != nil {
			return nil, err
		}
		return int8(x.(int64)), nil
	case typ == "UInt64":
		return num(64, false)
	case typ == "UInt32":
		x, err := num(32, false)
		if err != nil {
			return nil, err
		}
		return uint32(x.(uint64)), nil
	case typ == "UInt16":
		x, err := num(16, false)
		if err != nil {
			return nil, err
		}
		return uint16(x.(uint64)), nil
	case typ == "UInt8":
		x, err := num(8, false)
		if err != nil {
			return nil, err
		}
		return uint8(x.(uint64)), nil
	case typ == "Float64" || typ == "Float32":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s value %v is %T", typ, v, v)
		}
		bits := 64
		if typ == "Float32" {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(n), bits)
		if err != nil {
			return nil, err
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case strings.HasPrefix(typ, "DateTime64(") && strings.HasSuffix(typ, "'UTC')"):
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s value %v is %T", typ, v, v)
		}
		tm, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC)
		if err != nil {
			return nil, err
		}
		return tm, nil
	}
	return nil, fmt.Errorf("ClickHouse type %s is not one the chdb check reads", typ)
}
