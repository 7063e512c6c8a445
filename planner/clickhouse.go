package planner

import (
	"fmt"
	"strconv"
	"time"

	"github.com/olapgate/olapgate/internal/chsql"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
)

// clickhouse is store/clickhouse's dialect (checked on ClickHouse 26.7 through chdb).
//
// Values are written as escaped literals, not bound: ClickHouse's server-side parameters
// travel in the native protocol as setting strings that the server unquotes and then parses
// in the type's escaped text format, a second encoding ch-go does not do for its callers, and
// one no engine here could check. With literals, the SQL checked on chdb is byte for byte the
// SQL the store sends. Every literal is printable ASCII (see chString), so no request value
// can end a literal or start a comment, whatever ClickHouse's lexer does with other bytes.
//
// Semantics, against package query's definitions:
//   - Aggregates over no non-null values are NULL (the OrNull combinator), not ClickHouse's
//     defaults (0, 1970-01-01, nan), except the COUNT-like ones.
//   - SUM of an int column is summed in Int128 and cast back with accurateCast, so an overflow
//     is an error, as in DuckDB, rather than a silent wrap.
//   - Time buckets are computed on epoch microseconds (positiveModulo keeps instants before the
//     origin in the right bucket): exact, and free of the server's time zone data.
type clickhouse struct{}

func init() { register("clickhouse", clickhouse{}) }

// approximate: uniq and quantileTDigest are estimates; every other form is exact. (uniq is
// exact below 65,536 distinct values per group, but that is its implementation, not a promise.)
func (clickhouse) approximate(m query.Metric) bool { return m.Agg.Approximate() }

func (clickhouse) placeholder() string { return "" }

// ident quotes with backquotes; schema names never need the escapes, but they are there.
func (clickhouse) ident(name string) string { return chsql.Ident(name) }

// table: store/clickhouse names a dataset's table after the dataset, in the connection's
// default database.
func (c clickhouse) table(q *query.Query) string { return c.ident(q.Dataset.Name) }

func (c clickhouse) agg(m query.Metric, col string) string {
	switch m.Agg {
	case query.Count:
		if col == "" {
			return "count()"
		}
		return "count(" + col + ")"
	case query.Sum:
		if m.Field.Type == dataset.Int {
			return "accurateCast(sumOrNull(toInt128(" + col + ")), 'Nullable(Int64)')"
		}
		return "sumOrNull(" + col + ")"
	case query.Avg:
		return "avgOrNull(" + col + ")"
	case query.Min:
		return "minOrNull(" + col + ")"
	case query.Max:
		return "maxOrNull(" + col + ")"
	case query.CountDistinct:
		return "uniqExact(" + col + ")"
	case query.ApproxCountDistinct:
		return "uniq(" + col + ")"
	case query.Percentile:
		// Type 7 (inclusive) linear interpolation, as DuckDB's quantile_cont. The level must
		// be a constant; it is a validated float64 written in its shortest spelling.
		return "quantileExactInclusiveOrNull(" + floatLit(m.P) + ")(toFloat64(" + col + "))"
	case query.ApproxPercentile:
		// quantileTDigest answers Float32; the answer type is DOUBLE.
		return "toFloat64(quantileTDigestOrNull(" + floatLit(m.P) + ")(toFloat64(" + col + ")))"
	case query.ArgMax, query.ArgMin:
		// Ordered by the (by, field) tuple, so ties on by go to the extreme field value
		// (query.ArgMax); -OrNull answers null for no rows instead of the type's default.
		f := c.ident(m.Field.Name)
		fn := "argMaxIfOrNull("
		if m.Agg == query.ArgMin {
			fn = "argMinIfOrNull("
		}
		return fn + f + ", tuple(" + col + ", " + f + "), " + col + " IS NOT NULL AND " + f + " IS NOT NULL)"
	}
	panic(fmt.Sprintf("planner: aggregation %v has no ClickHouse form", m.Agg))
}

// chOrigin is query.BucketOrigin in epoch microseconds.
var chOrigin = strconv.FormatInt(query.BucketOrigin.UnixMicro(), 10)

// bucket writes, with us = toUnixTimestamp64Micro(col) and off(t) in microseconds:
//
//	s, m, h: us - positiveModulo(us + off - origin, step)         the bucket's instant
//	d, w:    us + off - positiveModulo(us + off - origin, step)   its wall-clock midnight
//
// as a DateTime64(6, 'UTC').
func (c clickhouse) bucket(w *writer, q *query.Query, col string) error {
	step := strconv.FormatInt(q.Granularity.Step().Microseconds(), 10)
	var spans []query.ZoneSpan
	if q.Location != time.UTC {
		var err error
		if spans, err = query.ZoneSpans(q.Location, q.Start, q.End, query.MaxZoneChanges); err != nil {
			return fmt.Errorf("time buckets in %s: %w", q.Location, err)
		}
	}
	us := "toUnixTimestamp64Micro(" + col + ")"
	w.s("fromUnixTimestamp64Micro(", us)
	if len(spans) == 0 || (len(spans) == 1 && spans[0].Offset == 0) {
		w.s(" - positiveModulo(", us, " - ", chOrigin, ", ", step, "), 'UTC')")
		return nil
	}
	if q.Granularity.Calendar() {
		w.s(" + ")
		c.offset(w, col, spans)
	}
	w.s(" - positiveModulo(", us, " + ")
	c.offset(w, col, spans)
	w.s(" - ", chOrigin, ", ", step, "), 'UTC')")
	return nil
}

// offset writes off(t) in microseconds.
func (clickhouse) offset(w *writer, col string, spans []query.ZoneSpan) {
	zoneOffset(w, col, spans, func(sec int) string { return "(" + strconv.FormatInt(int64(sec)*1e6, 10) + ")" })
}

func (clickhouse) contains(w *writer, col string, v any) {
	// position() is a byte substring search with no pattern characters, unlike LIKE; it is
	// NULL for a NULL column, so the comparison is unknown there, as the filter rules want.
	w.s("position(", col, ", ")
	w.arg(v)
	w.s(") > 0")
}

func (clickhouse) literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return chsql.String(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		// toFloat64 pins the type: an integral value would otherwise read as an integer.
		return "toFloat64(" + floatLit(x) + ")"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case time.Time:
		return "toDateTime64(" + chsql.String(x.UTC().Format("2006-01-02 15:04:05.000000")) + ", 6, 'UTC')"
	}
	panic(fmt.Sprintf("planner: no ClickHouse literal for %T", v))
}

// ratio: toFloat64 keeps a Nullable part Nullable, where the generic CAST(x AS DOUBLE) throws
// on a NULL in ClickHouse (CAST to a non-Nullable type, cast_keep_nullable being off).
// nullIf turns a zero denominator into NULL rather than inf or nan.
func (clickhouse) ratio(w *writer, num, den func()) {
	w.s("(toFloat64(")
	num()
	w.s(") / nullIf(toFloat64(")
	den()
	w.s("), 0))")
}
