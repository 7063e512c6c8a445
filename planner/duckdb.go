package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
)

// duckdb is the embedded store's dialect (DuckDB 2.0 via duckdb-go v2). No TIMESTAMPTZ or AT
// TIME ZONE: DuckDB 1.1 had no ICU, and with ICU (1.5 and later) they would depend on the session
// TimeZone; zone offsets are computed in Go, so answers do not depend on the host's zone.
type duckdb struct{}

func init() { register("duckdb", duckdb{}) }

// approximate: DuckDB's exact forms are the definitions; only the APPROX_ aggregates estimate.
func (duckdb) approximate(m query.Metric) bool { return m.Agg.Approximate() }

func (duckdb) placeholder() string { return "?" }

func (duckdb) ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// table: the embedded store names a dataset's table after the dataset.
func (d duckdb) table(q *query.Query) string { return d.ident(q.Dataset.Name) }

func (d duckdb) agg(m query.Metric, col string) string {
	switch m.Agg {
	case query.Count:
		if col == "" {
			return "count(*)"
		}
		return "count(" + col + ")"
	case query.Sum:
		if m.Field.Type == dataset.Int {
			// sum(BIGINT) is HUGEINT in DuckDB; the answer type is INT64 (overflow is an error).
			return "CAST(sum(" + col + ") AS BIGINT)"
		}
		return "sum(" + col + ")"
	case query.Avg:
		return "avg(" + col + ")"
	case query.Min:
		return "min(" + col + ")"
	case query.Max:
		return "max(" + col + ")"
	case query.CountDistinct:
		return "count(DISTINCT " + col + ")"
	case query.ApproxCountDistinct:
		return "approx_count_distinct(" + col + ")"
	case query.Percentile:
		// The rank must be a constant in DuckDB (a parameter does not bind); it is a validated
		// float64, so its shortest spelling is digits, '.', 'e' and '-' only.
		return "quantile_cont(CAST(" + col + " AS DOUBLE), " + floatLit(m.P) + ")"
	case query.ApproxPercentile:
		// On BIGINT input approx_quantile answers BIGINT; the answer type is DOUBLE.
		return "approx_quantile(CAST(" + col + " AS DOUBLE), " + floatLit(m.P) + ")"
	case query.ArgMax, query.ArgMin:
		// The extreme of (by, field) structs, which compare field by field: ties on by go to
		// the extreme field value (query.ArgMax), where arg_max would pick any tied row.
		f := d.ident(m.Field.Name)
		fn := "max"
		if m.Agg == query.ArgMin {
			fn = "min"
		}
		return "struct_extract(" + fn + "(CASE WHEN " + col + " IS NOT NULL AND " + f + " IS NOT NULL THEN struct_pack(b := " + col + ", v := " + f + ") END), 'v')"
	}
	panic(fmt.Sprintf("planner: aggregation %v has no DuckDB form", m.Agg))
}

func floatLit(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// origin is query.BucketOrigin as a DuckDB literal.
var origin = "TIMESTAMP '" + query.BucketOrigin.Format("2006-01-02 15:04:05") + "'"

func (d duckdb) bucket(w *writer, q *query.Query, col string) error {
	step := "to_microseconds(" + strconv.FormatInt(q.Granularity.Step().Microseconds(), 10) + ")"
	var spans []query.ZoneSpan
	if q.Location != time.UTC {
		var err error
		if spans, err = query.ZoneSpans(q.Location, q.Start, q.End, query.MaxZoneChanges); err != nil {
			return fmt.Errorf("time buckets in %s: %w", q.Location, err)
		}
	}
	if len(spans) == 0 || (len(spans) == 1 && spans[0].Offset == 0) {
		w.s("time_bucket(", step, ", ", col, ", ", origin, ")")
		return nil
	}
	w.s("time_bucket(", step, ", ", col, " + ")
	offset(w, col, spans)
	w.s(", ", origin, ")")
	if !q.Granularity.Calendar() {
		w.s(" - ")
		offset(w, col, spans)
	}
	return nil
}

// offset writes off(t) as a DuckDB interval.
func offset(w *writer, col string, spans []query.ZoneSpan) {
	zoneOffset(w, col, spans, func(sec int) string { return "to_microseconds(" + strconv.FormatInt(int64(sec)*1e6, 10) + ")" })
}

func (duckdb) contains(w *writer, col string, v any) {
	// contains() has no pattern characters, unlike LIKE.
	w.s("contains(", col, ", ")
	w.arg(v)
	w.s(")")
}

func (duckdb) literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return duckString(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return "CAST(" + floatLit(x) + " AS DOUBLE)"
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	case time.Time:
		return "TIMESTAMP '" + x.UTC().Format("2006-01-02 15:04:05.999999") + "'"
	}
	panic(fmt.Sprintf("planner: no DuckDB literal for %T", v))
}

// duckString quotes a string literal. DuckDB strings have no backslash escapes; a NUL byte
// would end the statement at the C boundary, so it is spelled chr(0).
func duckString(s string) string {
	if !strings.ContainsRune(s, 0) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	parts := strings.Split(s, "\x00")
	for i, p := range parts {
		parts[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "(" + strings.Join(parts, " || chr(0) || ") + ")"
}
