package planner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/query"
)

// pinot is Apache Pinot's dialect: the broker's SQL on the single-stage (v1) engine, Pinot 1.0
// or later, as store/pinot sends it (POST /query/sql with enableNullHandling=true).
//
// Facts it relies on (apache/pinot and docs.pinot.apache.org):
//
//   - Calcite parses the SQL with Lex.MYSQL_ANSI: identifiers in double quotes ("" inside),
//     string literals in single quotes (a quote inside doubled) with no backslash escapes
//     (CharLiteralStyle STANDARD: 'a\b' is the three characters a, \, b; a stored value
//     é'"\ x was matched by a literal with the quote doubled, on Pinot 1.4 and 1.5). Any
//     other character, NUL and non-ASCII included, stands for itself; the JSON request body
//     carries it as UTF-8 or \u escapes. The broker binds no parameters (a ? fails with 450),
//     so values are inlined literals and Stmt.Args stays empty.
//   - Ordinals in GROUP BY and ORDER BY name select-list items (apache/pinot#6152); ORDER BY
//     honours NULLS LAST (apache/pinot#10817).
//   - Null handling: store/pinot sends enableNullHandling=true on every query, so aggregates
//     skip nulls, an aggregate over no values is null (COUNT-like ones 0), COUNT(col) counts
//     non-null values and DISTINCTCOUNT ignores nulls (apache/pinot#11348). The table must
//     store nulls (schema enableColumnBasedNullHandling, which store/pinot.SchemaFor sets). NOT
//     and <> over nulls follow three-valued logic in Pinot's null-aware filters; their bitmap
//     shortcuts became fully three-valued only with apache/pinot#19440.
//   - Times are LONG epoch milliseconds (store/pinot.SchemaFor maps the time column and
//     timestamp fields to that), so times are integer literals and time buckets are integer
//     arithmetic; results come back as numbers the store turns into time.Time.
//   - Filtered metrics use FILTER (WHERE ...) (Pinot 0.11+); ratios use the planner's
//     CAST(...) / NULLIF(..., 0), and NULLIF exists on the single-stage engine from Pinot 1.3
//     (apache/pinot#14203), so ratio metrics need Pinot 1.3 or later.
//   - The single-stage engine may trim groups on servers (numGroupsLimit, group trim for ORDER
//     BY ... LIMIT): the store reports numGroupsLimitReached as ResultMeta.Trimmed.
type pinot struct{}

func init() { register("pinot", pinot{}) }

// approximate: Pinot's PERCENTILE is the nearest-rank value (values[floor(n*p)] of the sorted
// values, PercentileAggregationFunction), not linear interpolation, so exact percentiles are
// marked approximate too; the APPROX_ forms are sketches.
func (pinot) approximate(m query.Metric) bool {
	return m.Agg.Approximate() || m.Agg == query.Percentile
}

func (pinot) placeholder() string { return "" }

func (pinot) ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// table: the Pinot table (REALTIME, OFFLINE or hybrid: the broker resolves the raw name) is
// named after the dataset.
func (p pinot) table(q *query.Query) string { return p.ident(q.Dataset.Name) }

func (p pinot) agg(m query.Metric, col string) string {
	switch m.Agg {
	case query.Count:
		if col == "" {
			return "COUNT(*)"
		}
		return "COUNT(" + col + ")"
	case query.Sum:
		// DOUBLE in Pinot; the store turns it into INT64 for int fields (exact up to 2^53).
		return "SUM(" + col + ")"
	case query.Avg:
		return "AVG(" + col + ")"
	case query.Min:
		// Numeric MIN/MAX answer DOUBLE; timestamps are LONG millis, so they work too and the
		// store turns the value back into a time.
		return "MIN(" + col + ")"
	case query.Max:
		return "MAX(" + col + ")"
	case query.CountDistinct:
		return "DISTINCTCOUNT(" + col + ")"
	case query.ApproxCountDistinct:
		// HyperLogLog++ with p=14 (about 0.8% standard error; DISTINCTCOUNTHLL's default
		// log2m=8 is about 6.5%), spelled out so a broker default cannot change it.
		return "DISTINCTCOUNTHLLPLUS(" + col + ", 14)"
	case query.Percentile:
		return "PERCENTILE(" + col + ", " + percentRank(m.P) + ")"
	case query.ArgMax, query.ArgMin:
		// EXPR_MAX(projection, measuring...): the field, from the row with the largest by,
		// then the largest field among ties (query.ArgMax). The broker needs Pinot's
		// ExprMinMaxRewriter and ParentAggregationResultRewriter enabled (docs.pinot.apache.org,
		// functions/aggregation/arg_min-arg_max); with null handling on, rows where either
		// column is null are skipped.
		fn := "EXPR_MAX("
		if m.Agg == query.ArgMin {
			fn = "EXPR_MIN("
		}
		f := p.ident(m.Field.Name)
		return fn + f + ", " + col + ", " + f + ")"
	case query.ApproxPercentile:
		return "PERCENTILETDIGEST(" + col + ", " + percentRank(m.P) + ")"
	}
	panic(fmt.Sprintf("planner: aggregation %v has no Pinot form", m.Agg))
}

// percentRank is p on Pinot's 0-100 scale, spelled with p's decimal digits (0.999 is 99.9,
// not the 99.89999999999999 of p*100).
func percentRank(p float64) string {
	s := strconv.FormatFloat(p, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(s, "e")
	e, err := strconv.Atoi(exp)
	if err != nil {
		panic("planner: percentile rank " + s)
	}
	v, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(e+2), 64)
	if err != nil {
		panic("planner: percentile rank " + s)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// bucket is integer arithmetic on the epoch-millisecond time column t:
//
//	s, m, h: t - MOD(t + off(t) - base, step)
//	d, w:    t + off(t) - MOD(t + off(t) - base, step)   (wall-clock midnight labelled UTC)
//
// base is a wall-clock instant aligned to query.BucketOrigin at or before the local start of
// the range, so MOD's dividend is never negative (Pinot's mod, ModuloTransformFunction, is
// Java's % on doubles, which keeps the dividend's sign) and stays far below 2^53, where DOUBLE
// holds integers exactly. The answer is a LONG or DOUBLE of epoch milliseconds.
func (p pinot) bucket(w *writer, q *query.Query, col string) error {
	step := q.Granularity.Step().Milliseconds()
	spans := []query.ZoneSpan{{From: q.Start, Offset: 0}}
	if q.Location != time.UTC {
		var err error
		if spans, err = query.ZoneSpans(q.Location, q.Start, q.End, query.MaxZoneChanges); err != nil {
			return fmt.Errorf("time buckets in %s: %w", q.Location, err)
		}
	}
	minOff := int64(spans[0].Offset)
	for _, s := range spans {
		minOff = min(minOff, int64(s.Offset))
	}
	origin := query.BucketOrigin.UnixMilli()
	x := q.Start.UnixMilli() + minOff*1000 - origin
	k := x / step
	if x%step < 0 {
		k--
	}
	base := origin + k*step

	stepLit := strconv.FormatInt(step, 10)
	if len(spans) == 1 {
		off := int64(spans[0].Offset) * 1000
		if q.Granularity.Calendar() {
			w.s(col, signed(off), " - ")
		} else {
			w.s(col, " - ")
		}
		w.s("MOD(", col, signed(off-base), ", ", stepLit, ")")
		return nil
	}
	if q.Granularity.Calendar() {
		w.s(col, " + ")
		p.offset(w, col, spans)
		w.s(" - ")
	} else {
		w.s(col, " - ")
	}
	w.s("MOD(", col, " + ")
	p.offset(w, col, spans)
	w.s(signed(-base), ", ", stepLit, ")")
	return nil
}

// signed writes " + n" or " - |n|", nothing for 0.
func signed(n int64) string {
	switch {
	case n > 0:
		return " + " + strconv.FormatInt(n, 10)
	case n < 0:
		return " - " + strconv.FormatUint(uint64(-n), 10)
	}
	return ""
}

// offset writes off(t) in milliseconds: a CASE over the instants where it changes.
func (p pinot) offset(w *writer, col string, spans []query.ZoneSpan) {
	zoneOffset(w, col, spans, func(sec int) string { return strconv.FormatInt(int64(sec)*1000, 10) })
}

// contains is REGEXP_LIKE with the pattern's metacharacters escaped. Pinot's REGEXP_LIKE is
// a find (a match anywhere in the value: RegexpLikePredicateEvaluatorFactory calls
// Matcher.find), so the escaped pattern is a substring test. It was case-insensitive by
// default until apache/pinot#16276 (and LIKE still is on older brokers), so the pattern starts
// with the embedded flag (?-i), which java.util.regex and RE2 both read as "case-sensitive";
// a third match-parameter argument would fail on brokers that predate it. REGEXP_LIKE is a
// predicate on the column, so with null handling a null value does not match and NOT (...) of
// it is unknown, as three-valued logic wants (a scalar function such as STRPOS would see the
// column's default value on engines without null-aware transforms).
func (p pinot) contains(w *writer, col string, v any) {
	s, ok := v.(string)
	if !ok {
		panic(fmt.Sprintf("planner: CONTAINS value %T", v))
	}
	w.s("REGEXP_LIKE(", col, ", ")
	w.arg(caseSensitive + regexQuote(s))
	w.s(")")
}

// caseSensitive turns off case-insensitive matching for the rest of a pattern.
const caseSensitive = "(?-i)"

// regexQuote escapes the regular-expression metacharacters outside character classes with
// backslashes (a backslash before punctuation is the character itself in java.util.regex and
// RE2 alike); everything else, NUL, newlines and non-ASCII included, stands for itself.
func regexQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && strings.ContainsRune(`\^$.|?*+()[]{}`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// literal renders a value for Pinot's parser. Strings are quoted with each quote doubled and nothing
// else (no backslash escapes exist). Times are epoch milliseconds, rounded up when the value
// has a sub-millisecond part: stored times are whole milliseconds, so t >= x and t < x (the
// range bounds) stay exact; a sub-millisecond filter value with another operator is off by
// that fraction.
func (pinot) literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case int64:
		if x == math.MinInt64 {
			// 9223372036854775808 is not a LONG literal.
			return "(-9223372036854775807 - 1)"
		}
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "CAST('" + strconv.FormatFloat(x, 'g', -1, 64) + "' AS DOUBLE)"
		}
		// Shortest round-trip spelling: digits, '.', 'e', '+', '-'. Calcite reads 1.5 as an
		// exact DECIMAL and 1e+21 as a DOUBLE; both become the same double.
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	case time.Time:
		ms := x.UnixMilli()
		if x.Sub(time.UnixMilli(ms)) > 0 {
			ms++
		}
		return strconv.FormatInt(ms, 10)
	}
	panic(fmt.Sprintf("planner: no Pinot literal for %T", v))
}

// ratio avoids NULLIF, which Pinot's single-stage engine only has from 1.3
// (apache/pinot#14203): CASE WHEN den = 0 THEN NULL ELSE num / den END. A null denominator
// makes the comparison unknown and the division null, as the meaning asks. The denominator is
// written twice, which is safe here: Pinot statements carry no bound parameters.
func (pinot) ratio(w *writer, num, den func()) {
	w.s("CASE WHEN ")
	den()
	w.s(" = 0 THEN NULL ELSE CAST(")
	num()
	w.s(" AS DOUBLE) / CAST(")
	den()
	w.s(" AS DOUBLE) END")
}
