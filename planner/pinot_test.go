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
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/query"
)

func TestPinotLiterals(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"it's", `'it''s'`},
		{`back\slash "q"`, `'back\slash "q"'`},
		{"a\x00b'", "'a\x00b'''"},
		{"é🙂\u2028", "'é🙂\u2028'"},
		{int64(-42), "-42"},
		{int64(math.MinInt64), "(-9223372036854775807 - 1)"},
		{1.5, "1.5"},
		{1e21, "1e+21"},
		{math.Inf(-1), "CAST('-Inf' AS DOUBLE)"},
		{true, "TRUE"},
		{false, "FALSE"},
		{time.Date(2026, 11, 22, 1, 2, 3, 0, time.FixedZone("x", 3600)), "1795305723000"},
		{time.Date(2026, 11, 22, 1, 2, 3, 456000, time.UTC), "1795309323001"},
		{time.UnixMilli(-1500).UTC(), "-1500"},
		{time.UnixMicro(-1500).UTC(), "-1"},
		{nil, "NULL"},
	} {
		if got := (pinot{}).literal(tc.v); got != tc.want {
			t.Errorf("literal(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestPinotPercentRank(t *testing.T) {
	for p, want := range map[float64]string{0.5: "50", 0.99: "99", 0.999: "99.9", 0.9999: "99.99", 0.001: "0.1", 1e-7: "1e-05", 0.123456789: "12.3456789"} {
		if got := percentRank(p); got != want {
			t.Errorf("percentRank(%v) = %s, want %s", p, got, want)
		}
	}
}

func TestPinotRegexQuote(t *testing.T) {
	if got, want := regexQuote(`50%_off.(x)[y]{2}*+?|^$\é`), `50%_off\.\(x\)\[y\]\{2\}\*\+\?\|\^\$\\é`; got != want {
		t.Errorf("regexQuote = %s, want %s", got, want)
	}
}

// TestPinotBuckets evaluates the planned __time expression (a small interpreter of the
// integer arithmetic it uses, with Java's % for MOD) for instants across each range, and
// compares the finished bucket with the rule in the package documentation.
func TestPinotBuckets(t *testing.T) {
	cases := []struct{ rng, gran, zone string }{
		{day, "30s", ""}, {day, "15m", ""}, {day, "1h", ""}, {day, "1d", ""}, {day, "2w", ""},
		{day, "1h", "Asia/Kolkata"}, {day, "45m", "Asia/Kathmandu"}, {day, "1d", "Europe/London"},
		{fallBack, "15m", "America/New_York"}, {fallBack, "2h", "America/New_York"},
		{fallBack, "1d", "America/New_York"}, {fallBack, "1h", "Australia/Lord_Howe"},
		{`"timeRange": {"start": "2026-03-07T00:00:00Z", "end": "2026-03-10T00:00:00Z"}`, "2h", "America/New_York"},
		{`"timeRange": {"start": "2026-03-07T00:00:00Z", "end": "2026-03-10T00:00:00Z"}`, "1d", "America/New_York"},
		{`"timeRange": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}`, "1w", "America/New_York"},
		{`"timeRange": {"start": "1969-12-25T00:00:00Z", "end": "1970-01-05T00:00:00Z"}`, "1d", "Pacific/Chatham"},
		{`"timeRange": {"start": "1999-12-25T00:00:00.123456Z", "end": "2000-01-20T00:00:00Z"}`, "1w", "America/Sao_Paulo"},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		name := tc.gran + "/" + tc.zone + "/" + tc.rng[len(tc.rng)-26:]
		t.Run(name, func(t *testing.T) {
			js := `{` + tc.rng + `, "granularity": "` + tc.gran + `", "metrics": [{"agg": "COUNT"}]`
			if tc.zone != "" {
				js += `, "timeZone": "` + tc.zone + `"`
			}
			q := resolve(t, js+`}`, query.Options{})
			p, err := New(q, "pinot")
			if err != nil {
				t.Fatal(err)
			}
			sql := p.Stmt.SQL
			expr := sql[len("SELECT "):strings.Index(sql, ` AS "__time"`)]
			start, end := ceilMilli(q.Start), q.End.UnixMilli()
			for i := range 3000 {
				ms := start + r.Int64N(end-start)
				if i < 2 {
					ms = []int64{start, end - 1}[i]
				}
				v, err := evalPinotInt(expr, ms)
				if err != nil {
					t.Fatalf("%v in %s", err, expr)
				}
				got := time.UnixMilli(v).UTC()
				if q.Granularity.Calendar() {
					got = time.Date(got.Year(), got.Month(), got.Day(), got.Hour(), got.Minute(), got.Second(), got.Nanosecond(), q.Location)
				}
				if want := wantBucket(time.UnixMilli(ms), q); !got.Equal(want) {
					t.Fatalf("t=%s: bucket %s, want %s\n%s", time.UnixMilli(ms).In(q.Location), got.In(q.Location), want, expr)
				}
			}
		})
	}
}

func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// wantBucket is the documented rule, computed with Go's zone data.
func wantBucket(t time.Time, q *query.Query) time.Time {
	l := t.In(q.Location)
	wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
	step := q.Granularity.Step().Milliseconds()
	since := wall.UnixMilli() - query.BucketOrigin.UnixMilli()
	into := ((since % step) + step) % step
	if q.Granularity.Calendar() {
		b := wall.Add(-time.Duration(into) * time.Millisecond)
		return time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), q.Location)
	}
	return t.Add(-time.Duration(into) * time.Millisecond)
}

// evalPinotInt interprets the bucket expression's grammar: "time", integers, + and -, MOD(a, b)
// as Java's %, and CASE WHEN "time" < n THEN n ... ELSE n END.
func evalPinotInt(s string, tm int64) (int64, error) {
	toks := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ", ",", " , ").Replace(s))
	i := 0
	peek := func() string {
		if i < len(toks) {
			return toks[i]
		}
		return ""
	}
	expect := func(w string) error {
		if peek() != w {
			return fmt.Errorf("at token %d: %q, want %q", i, peek(), w)
		}
		i++
		return nil
	}
	var expr func() (int64, error)
	term := func() (int64, error) {
		tok := peek()
		i++
		switch {
		case tok == `"time"`:
			return tm, nil
		case tok == "MOD":
			if err := expect("("); err != nil {
				return 0, err
			}
			a, err := expr()
			if err != nil {
				return 0, err
			}
			if err := expect(","); err != nil {
				return 0, err
			}
			b, err := expr()
			if err != nil {
				return 0, err
			}
			if a < 0 {
				return 0, fmt.Errorf("MOD of negative %d", a)
			}
			if a >= 1<<53 {
				return 0, fmt.Errorf("MOD dividend %d is not exact in DOUBLE", a)
			}
			return a % b, expect(")")
		case tok == "CASE":
			var val int64
			found := false
			for peek() == "WHEN" {
				i++
				if err := expect(`"time"`); err != nil {
					return 0, err
				}
				if err := expect("<"); err != nil {
					return 0, err
				}
				lim, err := strconv.ParseInt(peek(), 10, 64)
				if err != nil {
					return 0, err
				}
				i++
				if err := expect("THEN"); err != nil {
					return 0, err
				}
				v, err := strconv.ParseInt(peek(), 10, 64)
				if err != nil {
					return 0, err
				}
				i++
				if !found && tm < lim {
					val, found = v, true
				}
			}
			if err := expect("ELSE"); err != nil {
				return 0, err
			}
			v, err := strconv.ParseInt(peek(), 10, 64)
			if err != nil {
				return 0, err
			}
			i++
			if !found {
				val = v
			}
			return val, expect("END")
		}
		return strconv.ParseInt(tok, 10, 64)
	}
	expr = func() (int64, error) {
		v, err := term()
		if err != nil {
			return 0, err
		}
		for peek() == "+" || peek() == "-" {
			op := peek()
			i++
			w, err := term()
			if err != nil {
				return 0, err
			}
			if op == "+" {
				v += w
			} else {
				v -= w
			}
		}
		return v, nil
	}
	v, err := expr()
	if err == nil && i != len(toks) {
		err = fmt.Errorf("trailing %q", toks[i:])
	}
	return v, err
}

// TestPinotRequestStringsNeverReachSQL is TestRequestStringsNeverReachSQL for the Pinot
// dialect, which inlines values: the statement lexed under Pinot's rules (single-quoted
// strings, each quote inside doubled, double-quoted identifiers, no backslash escapes, -- and /* */
// comments) with each string literal replaced by a marker must equal the statement planned
// for the same query with harmless strings, lexed the same way; the literals must decode to
// the request's values in order; and no comment may start outside a literal.
func TestPinotRequestStringsNeverReachSQL(t *testing.T) {
	d := clicks(t)
	for seed := range uint64(400) {
		var vals []string
		names := map[string]bool{}
		r := rand.New(rand.NewPCG(seed, 1))
		rs := rand.New(rand.NewPCG(seed, 2))
		nastyName := func() string {
			for {
				s := strings.ToValidUTF8(nastyString(rs), "?")
				if s != "" && !strings.HasPrefix(s, "__") && !names[s] {
					names[s] = true
					return s
				}
			}
		}
		pbNasty := shape(r, func() string {
			s := strings.ToValidUTF8(nastyString(rs), "?")
			vals = append(vals, s)
			return s
		}, nastyName)
		tenant := strings.ToValidUTF8("t"+nastyString(rs), "?")
		n := 0
		r = rand.New(rand.NewPCG(seed, 1))
		pbPlain := shape(r, func() string { return "v" }, func() string { n++; return fmt.Sprintf("n%d", n) })

		o := query.Options{Now: now, Tenant: tenant}
		qNasty, err := query.FromProto(pbNasty, d, o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		o.Tenant = "t"
		qPlain, err := query.FromProto(pbPlain, d, o)
		if err != nil {
			t.Fatalf("seed %d: plain: %v", seed, err)
		}
		pn, err := New(qNasty, "pinot")
		if err != nil {
			t.Fatal(err)
		}
		pp, err := New(qPlain, "pinot")
		if err != nil {
			t.Fatal(err)
		}
		if len(pn.Stmt.Args) != 0 {
			t.Fatalf("seed %d: %d args", seed, len(pn.Stmt.Args))
		}
		skelN, litsN, err := lexPinot(pn.Stmt.SQL)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, pn.Stmt.SQL)
		}
		skelP, litsP, err := lexPinot(pp.Stmt.SQL)
		if err != nil {
			t.Fatalf("seed %d: plain: %v\n%s", seed, err, pp.Stmt.SQL)
		}
		if skelN != skelP {
			t.Fatalf("seed %d: request strings changed the statement:\n%s\n---\n%s", seed, skelN, skelP)
		}
		if len(litsN) != len(litsP) {
			t.Fatalf("seed %d: %d literals, plain %d", seed, len(litsN), len(litsP))
		}
		// Literals in order: the tenant, then the filter values; CONTAINS values are patterns.
		want := append([]string{tenant}, vals...)
		if len(litsN) != len(want) {
			t.Fatalf("seed %d: literals %q, want %q", seed, litsN, want)
		}
		for i, l := range litsN {
			if l != want[i] && !(strings.HasPrefix(l, caseSensitive) && unquoteRegex(strings.TrimPrefix(l, caseSensitive)) == want[i]) {
				t.Fatalf("seed %d: literal %d is %q, want %q", seed, i, l, want[i])
			}
		}
		if Render(pn) != pn.Stmt.SQL {
			t.Fatalf("seed %d: Render changed an inlined statement", seed)
		}
	}
}

func unquoteRegex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lexPinot replaces each string literal of s with ? under Calcite's standard lexical rules and
// returns the literals' values. A comment start outside literals and identifiers is an error:
// the planner writes none.
func lexPinot(s string) (string, []string, error) {
	var out strings.Builder
	var lits []string
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\'' || s[i] == '"':
			q := s[i]
			var v strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == q {
					if j+1 < len(s) && s[j+1] == q {
						v.WriteByte(q)
						j++
						continue
					}
					break
				}
				v.WriteByte(s[j])
			}
			if j >= len(s) {
				return "", nil, errors.New("unterminated quote")
			}
			if q == '"' {
				out.WriteString(s[i : j+1])
			} else {
				lits = append(lits, v.String())
				out.WriteByte('?')
			}
			i = j + 1
		case strings.HasPrefix(s[i:], "--"), strings.HasPrefix(s[i:], "/*"), s[i] == ';', s[i] == '`', s[i] == '?':
			return "", nil, fmt.Errorf("%q outside a literal at byte %d", s[i:i+1], i)
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			if size > 1 {
				return "", nil, fmt.Errorf("non-ASCII outside a literal at byte %d", i)
			}
			out.WriteByte(s[i])
			i++
		}
	}
	return out.String(), lits, nil
}

// FuzzPlanPinot: any valid request plans into Pinot SQL that lexes cleanly (every quote
// closed, no comment, semicolon or placeholder outside a literal) and has no arguments.
func FuzzPlanPinot(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add([]byte(tc.query), tc.tenant)
	}
	d := clicks(f)
	f.Fuzz(func(t *testing.T, raw []byte, tenant string) {
		pb := &olapgatev1.Query{}
		if protojson.Unmarshal(raw, pb) != nil {
			return
		}
		q, err := query.FromProto(pb, d, query.Options{Now: now, Tenant: tenant})
		if err != nil {
			return
		}
		p, err := New(q, "pinot")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Stmt.Args) != 0 {
			t.Fatalf("%d args", len(p.Stmt.Args))
		}
		if _, _, err := lexPinot(p.Stmt.SQL); err != nil {
			t.Fatalf("%v\n%s", err, p.Stmt.SQL)
		}
	})
}
