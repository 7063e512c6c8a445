package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/query"
)

// nasty are fragments that would change a statement's structure if they reached its text.
var nasty = []string{
	"'", "''", `"`, `""`, "`", "--", "/*", "*/", ";", `\`, `\'`, "?", "$1", "%s", "\x00", "\n", "\r",
	"é", "🙂", "\u202e", "\u2028", "DROP TABLE clicks", " OR 1=1", ") OR (", "chr(0)", "||", "E'", "$$",
	"\\x27", "ʼ", "＇", " ", "a", "Z", "0",
}

func nastyString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(nasty[r.IntN(len(nasty))])
	}
	return b.String()
}

// shape builds one random query; val and name produce every request string, so the same
// random choices can be replayed with harmless strings.
func shape(r *rand.Rand, val func() string, name func() string) *olapgatev1.Query {
	strField := []string{"campaign", "color", "tenant"}
	var cmp func(depth int) *olapgatev1.Filter
	cmp = func(depth int) *olapgatev1.Filter {
		if depth < 3 && r.IntN(3) == 0 {
			switch r.IntN(3) {
			case 0:
				subs := []*olapgatev1.Filter{cmp(depth + 1), cmp(depth + 1)}
				return &olapgatev1.Filter{Kind: &olapgatev1.Filter_And{And: &olapgatev1.FilterList{Filters: subs}}}
			case 1:
				subs := []*olapgatev1.Filter{cmp(depth + 1), cmp(depth + 1)}
				return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Or{Or: &olapgatev1.FilterList{Filters: subs}}}
			}
			return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Not{Not: cmp(depth + 1)}}
		}
		ops := []string{"EQ", "neq", "In", "NOT_IN", "LT", "GTE", "BETWEEN", "CONTAINS"}
		op := ops[r.IntN(len(ops))]
		n := 1
		switch op {
		case "In", "NOT_IN":
			n = 1 + r.IntN(4)
		case "BETWEEN":
			n = 2
		}
		c := &olapgatev1.Comparison{Field: strField[r.IntN(len(strField))], Op: op}
		for range n {
			c.Values = append(c.Values, structpb.NewStringValue(val()))
		}
		return &olapgatev1.Filter{Kind: &olapgatev1.Filter_Cmp{Cmp: c}}
	}
	q := &olapgatev1.Query{
		Dataset:   "clicks",
		TimeRange: &olapgatev1.TimeRange{Start: "2026-11-22T00:00:00Z", End: "2026-11-23T00:00:00Z"},
		Filter:    cmp(0),
	}
	aggs := []*olapgatev1.Metric{
		{Agg: "COUNT"}, {Agg: "SUM", Field: "qty"}, {Agg: "PERCENTILE", Field: "price", P: 0.9},
		{Agg: "COUNT_DISTINCT", Field: "color"}, {Agg: "MAX", Field: "seen"},
	}
	for i := range 1 + r.IntN(len(aggs)) {
		q.Metrics = append(q.Metrics, &olapgatev1.Metric{Agg: aggs[i].Agg, Field: aggs[i].Field, P: aggs[i].P, As: name()})
	}
	if r.IntN(2) == 0 {
		q.GroupBy = []string{"campaign"}
		q.Granularity = []string{"", "1h", "1d"}[r.IntN(3)]
	}
	if r.IntN(2) == 0 {
		q.OrderBy = []*olapgatev1.OrderBy{{By: q.Metrics[0].As, Desc: r.IntN(2) == 0}}
	}
	if r.IntN(2) == 0 {
		q.Having = &olapgatev1.Filter{Kind: &olapgatev1.Filter_Cmp{Cmp: &olapgatev1.Comparison{
			Field: q.Metrics[0].As, Op: "IS_NULL"}}}
	}
	return q
}

// TestRequestStringsNeverReachSQL plans random queries full of quotes, comment markers and
// odd unicode as filter values, output names and tenants, and checks that (1) the statement
// is exactly the one planned for the same query with harmless strings, (2) every value is an
// argument, in order, and (3) the Explain rendering lexes back into the same statement and
// the same values.
func TestRequestStringsNeverReachSQL(t *testing.T) {
	d := clicks(t)
	for seed := range uint64(400) {
		var vals []string
		names := map[string]bool{}
		// r draws the query's shape, rs its strings, so the shape replays without them.
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
		nastyVal := func() string {
			s := strings.ToValidUTF8(nastyString(rs), "?")
			vals = append(vals, s)
			return s
		}
		pbNasty := shape(r, nastyVal, nastyName)
		tenant := strings.ToValidUTF8("t"+nastyString(rs), "?")

		n := 0
		r = rand.New(rand.NewPCG(seed, 1))
		pbPlain := shape(r, func() string { return "v" }, func() string { n++; return fmt.Sprintf("n%d", n) })

		o := query.Options{Now: now, Tenant: tenant}
		qNasty, err := query.FromProto(pbNasty, d, o)
		if err != nil {
			raw, _ := protojson.Marshal(pbNasty)
			t.Fatalf("seed %d: %v\n%s", seed, err, raw)
		}
		o.Tenant = "t"
		qPlain, err := query.FromProto(pbPlain, d, o)
		if err != nil {
			t.Fatalf("seed %d: plain: %v", seed, err)
		}
		pn, err := New(qNasty, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		pp, err := New(qPlain, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		if pn.Stmt.SQL != pp.Stmt.SQL {
			t.Fatalf("seed %d: request strings changed the statement:\n%s\n---\n%s", seed, pn.Stmt.SQL, pp.Stmt.SQL)
		}
		var strArgs []string
		for _, a := range pn.Stmt.Args {
			if s, ok := a.(string); ok {
				strArgs = append(strArgs, s)
			}
		}
		wantArgs := append([]string{tenant}, vals...) // the tenant predicate comes first
		if fmt.Sprintf("%q", strArgs) != fmt.Sprintf("%q", wantArgs) {
			t.Fatalf("seed %d: string args %q, want %q", seed, strArgs, wantArgs)
		}
		for i, m := range qNasty.Metrics {
			if pn.Stmt.Output[len(pn.Stmt.Output)-len(qNasty.Metrics)+i].Name != m.Name {
				t.Fatalf("seed %d: output names %v", seed, pn.Stmt.Output)
			}
		}

		skel, lits, err := lexRendered(Render(pn))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, Render(pn))
		}
		if skel != pn.Stmt.SQL {
			i := 0
			for i < len(skel) && i < len(pn.Stmt.SQL) && skel[i] == pn.Stmt.SQL[i] {
				i++
			}
			t.Fatalf("seed %d: rendering does not lex back into the statement at byte %d (%q):\n%s\n---\n%s", seed, i, Render(pn), skel, pn.Stmt.SQL)
		}
		if len(lits) != len(pn.Stmt.Args) {
			t.Fatalf("seed %d: %d literals, %d args", seed, len(lits), len(pn.Stmt.Args))
		}
		for i, a := range pn.Stmt.Args {
			want := fmt.Sprint(a)
			if tm, ok := a.(time.Time); ok {
				want = tm.Format("2006-01-02 15:04:05.999999")
			}
			if lits[i] != want {
				t.Fatalf("seed %d: literal %d is %q, want %q", seed, i, lits[i], want)
			}
		}
	}
}

// lexRendered undoes Render under DuckDB's lexical rules. It returns the text with each
// literal replaced by ? (a quoted string with doubled quotes inside, TIMESTAMP and a quoted
// string, or a parenthesised chr(0) concatenation), and the literals' values. The bucket origin
// stays as it is; quoted identifiers are copied whole, so a quote inside one starts nothing.
func lexRendered(s string) (string, []string, error) {
	var out strings.Builder
	var lits []string
	str := func(i int) (string, int, error) { // s[i] == '\''
		var v strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] != '\'' {
				v.WriteByte(s[j])
				continue
			}
			if j+1 < len(s) && s[j+1] == '\'' {
				v.WriteByte('\'')
				j++
				continue
			}
			return v.String(), j + 1, nil
		}
		return "", 0, errors.New("unterminated string literal")
	}
	const ts, nul = "TIMESTAMP '", " || chr(0) || "
	for i := 0; i < len(s); {
		switch {
		case s[i] == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return "", nil, errors.New("unterminated identifier")
			}
			out.WriteString(s[i : j+1])
			i = j + 1
		case strings.HasPrefix(s[i:], origin):
			// The bucket origin is the statement's own literal, not an argument.
			out.WriteString(origin)
			i += len(origin)
		case strings.HasPrefix(s[i:], ts):
			v, j, err := str(i + len(ts) - 1)
			if err != nil {
				return "", nil, err
			}
			lits = append(lits, v)
			out.WriteByte('?')
			i = j
		case strings.HasPrefix(s[i:], "('"):
			v, j, err := str(i + 1)
			if err != nil {
				return "", nil, err
			}
			if !strings.HasPrefix(s[j:], nul) {
				out.WriteByte('(') // an IN list; its literals come next
				i++
				continue
			}
			parts := []string{v}
			for strings.HasPrefix(s[j:], nul) {
				if v, j, err = str(j + len(nul)); err != nil {
					return "", nil, err
				}
				parts = append(parts, v)
			}
			if j >= len(s) || s[j] != ')' {
				return "", nil, errors.New("unterminated chr(0) group")
			}
			lits = append(lits, strings.Join(parts, "\x00"))
			out.WriteByte('?')
			i = j + 1
		case s[i] == '\'':
			v, j, err := str(i)
			if err != nil {
				return "", nil, err
			}
			lits = append(lits, v)
			out.WriteByte('?')
			i = j
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			out.WriteString(s[i : i+size])
			i += size
		}
	}
	return out.String(), lits, nil
}

// FuzzPlan: any request either fails validation with a *query.Error or plans into a statement
// whose placeholders match its arguments.
func FuzzPlan(f *testing.F) {
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
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is %T, want *query.Error", err, err)
			}
			return
		}
		_ = q.Key()
		p, err := New(q, "duckdb")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(p.Stmt.SQL, "?"); n != len(p.Stmt.Args) || n != len(p.params) {
			t.Fatalf("%d placeholders, %d args", n, len(p.Stmt.Args))
		}
		_ = Render(p)
	})
}
