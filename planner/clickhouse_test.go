package planner

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/query"
)

// TestClickHouseRequestStringsNeverReachSQL is TestRequestStringsNeverReachSQL for the
// ClickHouse dialect, which inlines values as literals: random queries full of quotes,
// backslashes, comment markers and odd unicode as filter values, output names and tenants must
// (1) lex, under ClickHouse's rules (backslash escapes in strings and quoted names; --, # and
// /* comments), into the same skeleton as the query planned with harmless strings, (2) carry
// every request value, in order, as a literal in the place of the harmless one, and (3) be
// printable ASCII, so no byte of a value is left to the server's interpretation.
func TestClickHouseRequestStringsNeverReachSQL(t *testing.T) {
	d := clicks(t)
	for seed := range uint64(400) {
		var vals []string
		names := map[string]bool{}
		r := rand.New(rand.NewPCG(seed, 1))
		rs := rand.New(rand.NewPCG(seed, 2))
		nastyName := func() string {
			for {
				s := strings.ToValidUTF8(nastyString(rs), "?")
				if s != "" && !strings.HasPrefix(s, "__") && !strings.HasSuffix(s, "__prev") && !names[s] {
					names[s] = true
					return s
				}
			}
		}
		nastyVal := func() string {
			s := strings.ToValidUTF8(nastyString(rs), "?")
			vals = append(vals, s)
			return s
		}
		pbNasty := shape(r, nastyVal, nastyName)
		tenant := strings.ToValidUTF8("t"+nastyString(rs), "?")

		n := 0
		r = rand.New(rand.NewPCG(seed, 1))
		const plainVal, plainTenant = "\x01v", "\x01t" // never a literal olapgate writes itself
		pbPlain := shape(r, func() string { return plainVal }, func() string { n++; return fmt.Sprintf("n%d", n) })

		o := query.Options{Now: now, Tenant: tenant}
		qNasty, err := query.FromProto(pbNasty, d, o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		o.Tenant = plainTenant
		qPlain, err := query.FromProto(pbPlain, d, o)
		if err != nil {
			t.Fatalf("seed %d: plain: %v", seed, err)
		}
		pn, err := New(qNasty, "clickhouse")
		if err != nil {
			t.Fatal(err)
		}
		pp, err := New(qPlain, "clickhouse")
		if err != nil {
			t.Fatal(err)
		}
		if len(pn.Stmt.Args) != 0 || Render(pn) != pn.Stmt.SQL {
			t.Fatalf("seed %d: the ClickHouse dialect binds no arguments; Render must be the statement", seed)
		}
		for i := 0; i < len(pn.Stmt.SQL); i++ {
			if c := pn.Stmt.SQL[i]; (c < 0x20 && c != '\n') || c >= 0x7f {
				t.Fatalf("seed %d: byte %#x at %d is not printable ASCII:\n%s", seed, c, i, pn.Stmt.SQL)
			}
		}
		skelN, litsN, err := lexClickHouse(pn.Stmt.SQL)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, pn.Stmt.SQL)
		}
		skelP, litsP, err := lexClickHouse(pp.Stmt.SQL)
		if err != nil {
			t.Fatalf("seed %d: plain: %v\n%s", seed, err, pp.Stmt.SQL)
		}
		if skelN != skelP {
			t.Fatalf("seed %d: request strings changed the statement's structure:\n%s\n---\n%s", seed, skelN, skelP)
		}
		if len(litsN) != len(litsP) {
			t.Fatalf("seed %d: %d literals, plain has %d", seed, len(litsN), len(litsP))
		}
		want := append([]string{tenant}, vals...) // the tenant predicate comes first
		var got []string
		for i, lp := range litsP {
			switch lp {
			case plainVal, plainTenant:
				got = append(got, litsN[i])
			default:
				if litsN[i] != lp {
					t.Fatalf("seed %d: literal %d is %q, plain has %q", seed, i, litsN[i], lp)
				}
			}
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("seed %d: string literals %q, want %q", seed, got, want)
		}
		for i, m := range qNasty.Metrics {
			if pn.Stmt.Output[len(pn.Stmt.Output)-len(qNasty.Metrics)+i].Name != m.Name {
				t.Fatalf("seed %d: output names %v", seed, pn.Stmt.Output)
			}
		}
	}
}

// lexClickHouse splits ClickHouse SQL into a skeleton, with every string literal replaced by
// ?, and the literals' decoded values. It follows ClickHouse's lexer: in '…', `…` and "…" a
// backslash escapes the next character and a doubled quote is one quote; --, # and /* start
// comments. The planner writes no comments and no semicolons, so either outside a literal is
// an error: it would mean a value got out of its literal.
func lexClickHouse(s string) (string, []string, error) {
	var out strings.Builder
	var lits []string
	quoted := func(i int) (string, int, error) { // s[i] is the opening quote
		q := s[i]
		var v strings.Builder
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '\\':
				if j+1 >= len(s) {
					return "", 0, errors.New("backslash at the end")
				}
				j++
				switch e := s[j]; e {
				case 'x':
					if j+2 >= len(s) {
						return "", 0, errors.New("short \\x escape")
					}
					b, err := strconv.ParseUint(s[j+1:j+3], 16, 8)
					if err != nil {
						return "", 0, fmt.Errorf("bad \\x escape %q", s[j+1:j+3])
					}
					v.WriteByte(byte(b))
					j += 2
				case 'n':
					v.WriteByte('\n')
				case 't':
					v.WriteByte('\t')
				case 'r':
					v.WriteByte('\r')
				case '0':
					v.WriteByte(0)
				case 'b', 'f', 'a', 'v', 'e':
					return "", 0, fmt.Errorf("escape \\%c is not one the dialect writes", e)
				default:
					v.WriteByte(e)
				}
			case c == q:
				if j+1 < len(s) && s[j+1] == q {
					v.WriteByte(q)
					j++
					continue
				}
				return v.String(), j + 1, nil
			default:
				v.WriteByte(c)
			}
		}
		return "", 0, fmt.Errorf("unterminated %c", q)
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\'':
			v, j, err := quoted(i)
			if err != nil {
				return "", nil, err
			}
			lits = append(lits, v)
			out.WriteByte('?')
			i = j
		case c == '`' || c == '"':
			_, j, err := quoted(i)
			if err != nil {
				return "", nil, err
			}
			out.WriteString(s[i:j])
			i = j
		case strings.HasPrefix(s[i:], "--"), c == '#', strings.HasPrefix(s[i:], "/*"):
			return "", nil, fmt.Errorf("comment outside a literal at byte %d", i)
		case c == ';':
			return "", nil, fmt.Errorf("semicolon outside a literal at byte %d", i)
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String(), lits, nil
}

func TestClickHouseLiterals(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"it's", `'it\'s'`},
		{`back\slash "q"`, `'back\\slash "q"'`},
		{"a\x00b\n", `'a\x00b\x0A'`},
		{"é🙂", `'\xC3\xA9\xF0\x9F\x99\x82'`},
		{"--/*#;?", `'--/*#;?'`},
		{int64(math.MinInt64), "-9223372036854775808"},
		{1.5, "toFloat64(1.5)"},
		{1e21, "toFloat64(1e+21)"},
		{float64(3), "toFloat64(3)"},
		{true, "true"},
		{time.Date(2026, 11, 22, 1, 2, 3, 456000, time.UTC), "toDateTime64('2026-11-22 01:02:03.000456', 6, 'UTC')"},
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.FixedZone("x", 3600)), "toDateTime64('2026-11-21 23:00:00.000000', 6, 'UTC')"},
		{nil, "NULL"},
	} {
		if got := (clickhouse{}).literal(tc.v); got != tc.want {
			t.Errorf("literal(%#v) = %s, want %s", tc.v, got, tc.want)
		}
		if s, ok := tc.v.(string); ok {
			_, lits, err := lexClickHouse(chsql.String(s))
			if err != nil || len(lits) != 1 || lits[0] != s {
				t.Errorf("chsql.String(%q) lexes back as %q, %v", s, lits, err)
			}
		}
	}
	if got := (clickhouse{}).ident("a`b\\c"); got != "`a\\`b\\\\c`" {
		t.Errorf("ident: %s", got)
	}
}

// TestClickHouseApproximate: exactly the APPROX_ aggregates are marked.
func TestClickHouseApproximate(t *testing.T) {
	for a := query.Count; a <= query.ApproxPercentile; a++ {
		if got := (clickhouse{}).approximate(query.Metric{Agg: a}); got != a.Approximate() {
			t.Errorf("%s: approximate %v", a, got)
		}
	}
}
