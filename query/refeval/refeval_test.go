package refeval_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/query/refeval"
)

func events(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "events", TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "country", Type: dataset.String}, {Name: "ok", Type: dataset.Bool}},
		Metrics:    []dataset.Field{{Name: "ms", Type: dataset.Int}, {Name: "price", Type: dataset.Float}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func row(tm string, country any, ms any, price any) map[string]any {
	return map[string]any{"time": at(tm), "country": country, "ms": ms, "price": price, "ok": nil}
}

// run evaluates a query and prints the answer as one line per row, times in RFC 3339.
func run(t *testing.T, js string, rows []map[string]any) string {
	t.Helper()
	d := events(t)
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(js), pb); err != nil {
		t.Fatal(err)
	}
	q, err := query.FromProto(pb, d, query.Options{Now: at("2026-12-01T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := refeval.Eval(q, d, rows)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range res.Columns {
		fmt.Fprintf(&b, "%s:%s ", c.Name, c.Type)
	}
	for _, r := range res.Rows {
		b.WriteString("\n")
		for j, v := range r {
			if j > 0 {
				b.WriteString(" ")
			}
			switch x := v.(type) {
			case time.Time:
				b.WriteString(x.Format(time.RFC3339))
			case nil:
				b.WriteString("null")
			default:
				fmt.Fprint(&b, x)
			}
		}
	}
	return b.String()
}

const fallBack = `"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-04T00:00:00Z"}`

func TestEval(t *testing.T) {
	dst := []map[string]any{
		row("2026-11-01T03:59:00Z", "US", int64(1), 1.0), // 23:59 EDT Oct 31
		row("2026-11-01T05:30:00Z", "US", int64(2), 2.0), // 01:30 EDT, the first 01:00 hour
		row("2026-11-01T06:30:00Z", "US", int64(3), 3.0), // 01:30 EST, the second
		row("2026-11-02T04:59:00Z", "US", int64(4), 4.0), // 23:59 EST Nov 1
		row("2026-11-02T05:00:00Z", "US", int64(5), 5.0), // 00:00 EST Nov 2
		row("2026-11-04T00:00:00Z", "US", int64(6), 6.0), // at the range's end: excluded
		row("2026-10-30T23:59:59Z", "US", int64(7), 7.0), // before its start: excluded
		{"time": nil, "country": "US", "ms": int64(8)},   // no time: in no range
	}
	nulls := []map[string]any{
		row("2026-11-01T00:00:00Z", "US", int64(10), 1.5),
		row("2026-11-01T00:01:00Z", "DE", int64(20), nil),
		row("2026-11-01T00:02:00Z", nil, nil, 2.5),
		row("2026-11-01T00:03:00Z", "US", int64(30), 3.5),
		row("2026-11-01T00:04:00Z", "FR", int64(40), 4.5),
	}
	for _, tc := range []struct {
		name, query string
		rows        []map[string]any
		want        string
	}{
		{"hours across fall-back are distinct instants",
			`{` + fallBack + `, "granularity": "1h", "timeZone": "America/New_York", "metrics": [{"agg": "SUM", "field": "ms"}]}`, dst,
			`__time:TIMESTAMP sum_ms:INT64 
2026-10-31T23:00:00-04:00 1
2026-11-01T01:00:00-04:00 2
2026-11-01T01:00:00-05:00 3
2026-11-01T23:00:00-05:00 4
2026-11-02T00:00:00-05:00 5`},
		{"days are local calendar days",
			`{` + fallBack + `, "granularity": "1d", "timeZone": "America/New_York", "metrics": [{"agg": "SUM", "field": "ms"}, {"agg": "count"}]}`, dst,
			`__time:TIMESTAMP sum_ms:INT64 count:INT64 
2026-10-31T00:00:00-04:00 1 1
2026-11-01T00:00:00-04:00 9 3
2026-11-02T00:00:00-05:00 5 1`},
		{"weeks start on Monday",
			`{` + fallBack + `, "granularity": "1w", "timeZone": "America/New_York", "metrics": [{"agg": "count"}]}`, dst,
			`__time:TIMESTAMP count:INT64 
2026-10-26T00:00:00-04:00 4
2026-11-02T00:00:00-05:00 1`},
		{"two weeks align to 2000-01-03 (9793 days before 2026-10-26, 9793 mod 14 = 7)",
			`{` + fallBack + `, "granularity": "2w", "metrics": [{"agg": "count"}]}`, dst,
			`__time:TIMESTAMP count:INT64 
2026-10-19T00:00:00Z 3
2026-11-02T00:00:00Z 2`},
		{"hours in Kolkata start at :30 UTC",
			`{` + fallBack + `, "granularity": "1h", "timeZone": "Asia/Kolkata", "metrics": [{"agg": "count"}], "limit": 2}`, dst,
			`__time:TIMESTAMP count:INT64 
2026-11-01T09:00:00+05:30 1
2026-11-01T11:00:00+05:30 1`},
		{"15 minutes in UTC",
			`{` + fallBack + `, "granularity": "15m", "metrics": [{"agg": "count"}], "limit": 1}`, dst,
			`__time:TIMESTAMP count:INT64 
2026-11-01T03:45:00Z 1`},
		{"aggregates ignore nulls",
			`{` + fallBack + `, "metrics": [{"agg": "count"}, {"agg": "count", "field": "price"}, {"agg": "SUM", "field": "price"}, {"agg": "AVG", "field": "ms"},
			 {"agg": "MIN", "field": "price"}, {"agg": "MAX", "field": "ms"}, {"agg": "COUNT_DISTINCT", "field": "country"}, {"agg": "APPROX_COUNT_DISTINCT", "field": "country"}]}`, nulls,
			`count:INT64 count_price:INT64 sum_price:DOUBLE avg_ms:DOUBLE min_price:DOUBLE max_ms:INT64 count_distinct_country:INT64 approx_count_distinct_country:INT64 
5 4 12 25 1.5 40 3 3`},
		{"percentiles interpolate linearly",
			`{` + fallBack + `, "metrics": [{"agg": "PERCENTILE", "field": "ms", "p": 0.5}, {"agg": "PERCENTILE", "field": "ms", "p": 0.9}, {"agg": "APPROX_PERCENTILE", "field": "price", "p": 0.25}]}`, nulls,
			// ms 10 20 30 40: rank 1.5 → 25, rank 2.7 → 37; price 1.5 2.5 3.5 4.5: rank 0.75 → 2.25
			`p50_ms:DOUBLE p90_ms:DOUBLE approx_p25_price:DOUBLE 
25 37 2.25`},
		{"no rows, no groups: one row",
			`{"timeRange": {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}, "metrics": [{"agg": "count"}, {"agg": "SUM", "field": "ms"}, {"agg": "COUNT_DISTINCT", "field": "country"}]}`, nulls,
			`count:INT64 sum_ms:INT64 count_distinct_country:INT64 
0 null 0`},
		{"no rows, grouped: no rows",
			`{"timeRange": {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}, "groupBy": ["country"], "metrics": [{"agg": "count"}]}`, nulls,
			`country:STRING count:INT64 `},
		{"NEQ does not match nulls",
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"cmp": {"field": "country", "op": "NEQ", "values": ["US"]}}}`, nulls,
			"count:INT64 \n2"},
		{"NOT does not match nulls",
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"not": {"cmp": {"field": "country", "op": "IN", "values": ["US"]}}}}`, nulls,
			"count:INT64 \n2"},
		{"NOT_IN does not match nulls",
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"cmp": {"field": "country", "op": "NOT_IN", "values": ["US", "FR"]}}}`, nulls,
			"count:INT64 \n1"},
		{"OR rescues unknown",
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"or": {"filters": [{"cmp": {"field": "country", "op": "NEQ", "values": ["US"]}}, {"cmp": {"field": "country", "op": "IS_NULL"}}]}}}`, nulls,
			"count:INT64 \n3"},
		{"NOT of AND with unknown",
			// The AND is false on US/10, DE and FR (NOT: true), true on US/30 (NOT: false), and
			// unknown on the row whose country and ms are null (NOT unknown: no match).
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"not": {"and": {"filters": [{"cmp": {"field": "country", "op": "EQ", "values": ["US"]}}, {"cmp": {"field": "ms", "op": "GT", "values": [15]}}]}}}}`, nulls,
			"count:INT64 \n3"},
		{"BETWEEN includes both ends; CONTAINS is a substring",
			`{` + fallBack + `, "metrics": [{"agg": "count"}], "filter": {"and": {"filters": [{"cmp": {"field": "ms", "op": "BETWEEN", "values": [10, 30]}}, {"cmp": {"field": "country", "op": "CONTAINS", "values": ["U"]}}]}}}`, nulls,
			"count:INT64 \n2"},
		{"group order: nulls last, then having and limit",
			`{` + fallBack + `, "groupBy": ["country"], "metrics": [{"agg": "count"}, {"agg": "SUM", "field": "price", "as": "p"}]}`, nulls,
			`country:STRING count:INT64 p:DOUBLE 
DE 1 null
FR 1 4.5
US 2 5
null 1 2.5`},
		{"order desc keeps nulls last; ties break on the group",
			`{` + fallBack + `, "groupBy": ["country"], "metrics": [{"agg": "count"}, {"agg": "SUM", "field": "price", "as": "p"}],
			 "orderBy": [{"by": "p", "desc": true}], "limit": 3}`, nulls,
			`country:STRING count:INT64 p:DOUBLE 
US 2 5
FR 1 4.5
null 1 2.5`},
		{"ties on the order key break on group columns",
			`{` + fallBack + `, "groupBy": ["country"], "metrics": [{"agg": "count"}], "orderBy": [{"by": "count"}], "limit": 2}`, nulls,
			`country:STRING count:INT64 
DE 1
FR 1`},
		{"having drops groups whose test is unknown",
			`{` + fallBack + `, "groupBy": ["country"], "metrics": [{"agg": "count"}, {"agg": "SUM", "field": "price", "as": "p"}],
			 "having": {"not": {"cmp": {"field": "p", "op": "LT", "values": [3]}}}}`, nulls,
			`country:STRING count:INT64 p:DOUBLE 
FR 1 4.5
US 2 5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(t, tc.query, tc.rows); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestSumOverflow(t *testing.T) {
	d := events(t)
	pb := &olapgatev1.Query{TimeRange: &olapgatev1.TimeRange{Start: "2026-01-01T00:00:00Z", End: "2027-01-01T00:00:00Z"},
		Metrics: []*olapgatev1.Metric{{Agg: "sum", Field: "ms"}}}
	q, err := query.FromProto(pb, d, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string]any{row("2026-06-01T00:00:00Z", "US", int64(1<<62), nil), row("2026-06-01T00:00:00Z", "US", int64(1<<62), nil)}
	if _, err := refeval.Eval(q, d, rows); err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Errorf("error %v", err)
	}
}
