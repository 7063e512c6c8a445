package query

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

var now = time.Date(2026, 11, 22, 12, 30, 0, 0, time.UTC)

func clicks(t testing.TB) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{
		Name: "clicks", TimeColumn: "time", TenantColumn: "tenant",
		Dimensions: []dataset.Field{
			{Name: "campaign", Type: dataset.String}, {Name: "color", Type: dataset.String},
			{Name: "slot", Type: dataset.Int}, {Name: "mobile", Type: dataset.Bool},
			{Name: "seen", Type: dataset.Timestamp}, {Name: "score", Type: dataset.Float},
		},
		Metrics: []dataset.Field{{Name: "price", Type: dataset.Float}, {Name: "qty", Type: dataset.Int}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func parse(t testing.TB, js string, o Options) (*Query, error) {
	t.Helper()
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(js), pb); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	if o.Now.IsZero() {
		o.Now = now
	}
	return FromProto(pb, clicks(t), o)
}

const rng = `"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}`

// TestDesignExample resolves the query of DESIGN §5.
func TestDesignExample(t *testing.T) {
	q, err := parse(t, `{"dataset": "clicks",
	 "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"},
	 "granularity": "1h",
	 "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "price", "as": "revenue"},
	             {"agg": "PERCENTILE", "field": "price", "p": 0.99}],
	 "groupBy": ["campaign"],
	 "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": ["red", "blue"]}},
	                                {"not": {"cmp": {"field": "campaign", "op": "EQ", "values": ["NONE"]}}}]}},
	 "orderBy": [{"by": "revenue", "desc": true}], "limit": 10,
	 "options": {"timeoutMs": 2000, "maxStalenessMs": 10000}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ResultColumn{
		{Name: "__time", Type: store.TypeTimestamp}, {Name: "campaign", Type: store.TypeString},
		{Name: "n", Type: store.TypeInt64}, {Name: "revenue", Type: store.TypeDouble}, {Name: "p99_price", Type: store.TypeDouble},
	}
	got := q.Outputs()
	if len(got) != len(want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("output %d = %v, want %v", i, got[i], want[i])
		}
	}
	if !q.Start.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) || !q.End.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("range %v..%v", q.Start, q.End)
	}
	if q.Granularity != (Granularity{1, Hour}) || q.Location != time.UTC || q.Limit != 10 {
		t.Errorf("granularity %v location %v limit %d", q.Granularity, q.Location, q.Limit)
	}
	if q.Hints.Timeout != 2*time.Second || q.Hints.MaxStaleness != 10*time.Second || q.Hints.Priority != "interactive" {
		t.Errorf("hints %+v", q.Hints)
	}
	f := q.Filter
	if f.Kind != And || len(f.Filters) != 2 || f.Filters[0].Op != IN || f.Filters[1].Kind != Not || f.Filters[1].Filters[0].Values[0] != "NONE" {
		t.Errorf("filter %+v", f)
	}
	if len(q.OrderBy) != 1 || q.OrderBy[0] != (Order{By: "revenue", Desc: true}) {
		t.Errorf("order %v", q.OrderBy)
	}
}

func TestTimeRange(t *testing.T) {
	for _, tc := range []struct {
		name, rng  string
		start, end time.Time
	}{
		{"rfc3339", `{"start": "2026-11-22T00:00:00+01:00", "end": "2026-11-22T00:00:00.1234567Z"}`,
			time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 0, 0, 0, 123456000, time.UTC)},
		{"epoch ms", `{"start": "1795305600000", "end": "1795309200000"}`,
			time.UnixMilli(1795305600000).UTC(), time.UnixMilli(1795309200000).UTC()},
		{"relative", `{"start": "now-6h", "end": "NOW"}`, now.Add(-6 * time.Hour), now},
		{"relative units", `{"start": "now-2w", "end": "now+1d"}`, now.Add(-14 * 24 * time.Hour), now.Add(24 * time.Hour)},
		{"seconds", `{"start": "now-90s", "end": "now-1m"}`, now.Add(-90 * time.Second), now.Add(-time.Minute)},
		{"default: last hour", `{}`, now.Add(-time.Hour), now},
		{"start only", `{"start": "now-1d"}`, now.Add(-24 * time.Hour), now},
		{"end only", `{"end": "2026-01-01T00:00:00Z"}`, time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parse(t, `{"timeRange": `+tc.rng+`, "metrics": [{"agg": "count"}]}`, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !q.Start.Equal(tc.start) || !q.End.Equal(tc.end) || q.Start.Location() != time.UTC {
				t.Errorf("range %v..%v, want %v..%v", q.Start, q.End, tc.start, tc.end)
			}
		})
	}
}

func TestGranularityAndZone(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Granularity
	}{
		{"15m", Granularity{15, Minute}}, {"1h", Granularity{1, Hour}}, {"1d", Granularity{1, Day}},
		{"2w", Granularity{2, Week}}, {"30s", Granularity{30, Second}}, {"", Granularity{}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			g, err := parseGranularity(tc.in)
			if err != nil || g != tc.want || g.String() != strings.TrimLeft(tc.in, "0") {
				t.Errorf("parseGranularity(%q) = %v, %v; want %v", tc.in, g, err, tc.want)
			}
		})
	}
	q, err := parse(t, `{`+rng+`, "granularity": "1d", "timeZone": "Asia/Kolkata", "metrics": [{"agg": "count"}]}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Location.String() != "Asia/Kolkata" || !q.Granularity.Calendar() || q.Granularity.Step() != 24*time.Hour {
		t.Errorf("location %v granularity %v", q.Location, q.Granularity)
	}
}

func TestPercentName(t *testing.T) {
	for p, want := range map[float64]string{
		0.5: "p50", 0.99: "p99", 0.999: "p99_9", 0.95: "p95", 0.07: "p7", 0.1: "p10", 0.001: "p0_1",
		0.0001: "p0_01", 0.12345: "p12_345", 0.9999: "p99_99",
	} {
		if got := percentName(p); got != want {
			t.Errorf("percentName(%v) = %q, want %q", p, got, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	q, err := parse(t, `{`+rng+`, "metrics": [
		{"agg": "count"}, {"agg": "Count", "field": "color"}, {"agg": "sum", "field": "qty"}, {"agg": "sum", "field": "price"},
		{"agg": "avg", "field": "qty"}, {"agg": "min", "field": "seen"}, {"agg": "max", "field": "price"},
		{"agg": "count_distinct", "field": "campaign"}, {"agg": "approx_count_distinct", "field": "mobile"},
		{"agg": "percentile", "field": "qty", "p": 0.999}, {"agg": "approx_percentile", "field": "price", "p": 0.5}]}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ResultColumn{
		{Name: "count", Type: store.TypeInt64}, {Name: "count_color", Type: store.TypeInt64},
		{Name: "sum_qty", Type: store.TypeInt64}, {Name: "sum_price", Type: store.TypeDouble},
		{Name: "avg_qty", Type: store.TypeDouble}, {Name: "min_seen", Type: store.TypeTimestamp},
		{Name: "max_price", Type: store.TypeDouble}, {Name: "count_distinct_campaign", Type: store.TypeInt64},
		{Name: "approx_count_distinct_mobile", Type: store.TypeInt64, Approximate: true},
		{Name: "p99_9_qty", Type: store.TypeDouble}, {Name: "approx_p50_price", Type: store.TypeDouble, Approximate: true},
	}
	for i, m := range q.Metrics {
		if m.Output() != want[i] {
			t.Errorf("metric %d: %+v, want %+v", i, m.Output(), want[i])
		}
	}
}

func TestValues(t *testing.T) {
	q, err := parse(t, `{`+rng+`, "metrics": [{"agg": "count"}], "filter": {"and": {"filters": [
		{"cmp": {"field": "slot", "op": "in", "values": [1, "9007199254740993", -3]}},
		{"cmp": {"field": "score", "op": "between", "values": [1, 2.5]}},
		{"cmp": {"field": "seen", "op": "gte", "values": ["2026-11-22T01:00:00.0000019+01:00"]}},
		{"cmp": {"field": "seen", "op": "lt", "values": [1795305600000]}},
		{"cmp": {"field": "mobile", "op": "eq", "values": [true]}},
		{"cmp": {"field": "color", "op": "contains", "values": ["%_'\""]}},
		{"cmp": {"field": "campaign", "op": "is_null"}}]}}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := q.Filter.Filters
	check := func(i int, want ...any) {
		t.Helper()
		if len(fs[i].Values) != len(want) {
			t.Fatalf("filter %d values %v, want %v", i, fs[i].Values, want)
		}
		for j := range want {
			if fs[i].Values[j] != want[j] {
				t.Errorf("filter %d value %d = %#v, want %#v", i, j, fs[i].Values[j], want[j])
			}
		}
	}
	check(0, int64(1), int64(9007199254740993), int64(-3))
	check(1, 1.0, 2.5)
	check(2, time.Date(2026, 11, 22, 0, 0, 0, 1000, time.UTC))
	check(3, time.UnixMilli(1795305600000).UTC())
	check(4, true)
	check(5, `%_'"`)
	check(6)
}

// TestErrors checks every validation error is a *Error whose text names the field.
func TestErrors(t *testing.T) {
	m := `"metrics": [{"agg": "count"}]`
	for _, tc := range []struct{ name, js, want string }{
		{"unknown field", `{` + rng + `, "metrics": [{"agg": "count"}, {"agg": "sum", "field": "pricee"}]}`,
			`metrics[1].field: unknown field "pricee" in dataset clicks`},
		{"in without values", `{` + rng + `, ` + m + `, "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": []}}]}}}`,
			`filter.and.filters[0].cmp.values: IN needs at least 1 value`},
		{"limit over max", `{` + rng + `, ` + m + `, "limit": 200000}`, `limit: 200000 is over the maximum 100000`},
		{"negative limit", `{` + rng + `, ` + m + `, "limit": -1}`, `limit: -1 is negative`},
		{"unknown agg", `{` + rng + `, "metrics": [{"agg": "MEDIAN", "field": "qty"}]}`, `metrics[0].agg: unknown aggregation "MEDIAN"`},
		{"sum of string", `{` + rng + `, "metrics": [{"agg": "SUM", "field": "color"}]}`, `metrics[0].field: SUM needs a numeric field; color is string`},
		{"avg of time", `{` + rng + `, "metrics": [{"agg": "avg", "field": "seen"}]}`, `metrics[0].field: AVG needs a numeric field`},
		{"min of bool", `{` + rng + `, "metrics": [{"agg": "min", "field": "mobile"}]}`, `metrics[0].field: MIN needs a numeric or timestamp field`},
		{"sum without field", `{` + rng + `, "metrics": [{"agg": "sum"}]}`, `metrics[0].field: required for SUM`},
		{"p missing", `{` + rng + `, "metrics": [{"agg": "percentile", "field": "qty"}]}`, `metrics[0].p: 0: PERCENTILE needs p in (0, 1)`},
		{"p one", `{` + rng + `, "metrics": [{"agg": "approx_percentile", "field": "qty", "p": 1}]}`, `metrics[0].p: 1: APPROX_PERCENTILE needs p in (0, 1)`},
		{"p on sum", `{` + rng + `, "metrics": [{"agg": "sum", "field": "qty", "p": 0.5}]}`, `metrics[0].p: only PERCENTILE`},
		{"no metrics", `{` + rng + `}`, `metrics: at least one metric is required`},
		{"duplicate names", `{` + rng + `, "metrics": [{"agg": "count"}, {"agg": "sum", "field": "qty", "as": "count"}]}`, `metrics[1].as: output name "count" is used twice`},
		{"duplicate default names", `{` + rng + `, "metrics": [{"agg": "count"}, {"agg": "COUNT"}]}`, `metrics[1]: output name "count" is used twice`},
		{"name clashes with group", `{` + rng + `, "groupBy": ["color"], "metrics": [{"agg": "count", "as": "color"}]}`, `metrics[0].as: output name "color" is used twice`},
		{"reserved name", `{` + rng + `, "metrics": [{"agg": "count", "as": "__time"}]}`, `metrics[0].as: "__time": names starting with __ are reserved`},
		{"group twice", `{` + rng + `, ` + m + `, "groupBy": ["color", "COLOR"]}`, `groupBy[1]: color is grouped by twice`},
		{"unknown group", `{` + rng + `, ` + m + `, "groupBy": ["colour"]}`, `groupBy[0]: unknown field "colour"`},
		{"bad granularity", `{` + rng + `, ` + m + `, "granularity": "5y"}`, `granularity: "5y": want a count and a unit`},
		{"zero granularity", `{` + rng + `, ` + m + `, "granularity": "0m"}`, `granularity: "0m": the count must be at least 1`},
		{"upper-case unit", `{` + rng + `, ` + m + `, "granularity": "1M"}`, `granularity: "1M"`},
		{"bad zone", `{` + rng + `, ` + m + `, "granularity": "1h", "timeZone": "Mars/Olympus"}`, `timeZone: unknown IANA zone "Mars/Olympus"`},
		{"local zone", `{` + rng + `, ` + m + `, "timeZone": "Local"}`, `timeZone: "Local"`},
		{"path zone", `{` + rng + `, ` + m + `, "timeZone": "../../etc/passwd"}`, `timeZone: unknown IANA zone`},
		{"start after end", `{"timeRange": {"start": "now", "end": "now-1h"}, ` + m + `}`, `timeRange: start 2026-11-22T12:30:00Z is not before end 2026-11-22T11:30:00Z`},
		{"empty range", `{"timeRange": {"start": "now", "end": "now"}, ` + m + `}`, `timeRange: start`},
		{"bad start", `{"timeRange": {"start": "yesterday"}, ` + m + `}`, `timeRange.start: "yesterday": want RFC 3339`},
		{"bad end", `{"timeRange": {"end": "now-5y"}, ` + m + `}`, `timeRange.end: "now-5y"`},
		{"year 10000", `{"timeRange": {"end": "253402300800000"}, ` + m + `}`, `timeRange.end: 10000-01-01T00:00:00Z is outside years 1 to 9999`},
		{"overflowing relative", `{"timeRange": {"start": "now-999999999999w"}, ` + m + `}`, `timeRange.start: "now-999999999999w" is too far from now`},
		{"bad op", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "color", "op": "LIKE", "values": ["x"]}}}`, `filter.cmp.op: unknown operator "LIKE"`},
		{"int not integral", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "EQ", "values": [1.5]}}}`, `filter.cmp.values[0]: 1.5: want an integer (int64) (field slot is int)`},
		{"int as text", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "EQ", "values": ["one"]}}}`, `filter.cmp.values[0]: "one": want an integer`},
		{"string as number", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "color", "op": "EQ", "values": [1]}}}`, `filter.cmp.values[0]: 1: want a string (field color is string)`},
		{"null value", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "color", "op": "EQ", "values": [null]}}}`, `filter.cmp.values[0]: null is not a value to compare with; use IS_NULL`},
		{"list value", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "color", "op": "EQ", "values": [["a"]]}}}`, `filter.cmp.values[0]: lists and objects are not values`},
		{"bad time value", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "seen", "op": "GT", "values": ["Monday"]}}}`, `filter.cmp.values[0]: "Monday": want RFC 3339`},
		{"fractional epoch", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "seen", "op": "GT", "values": [1.5]}}}`, `filter.cmp.values[0]: 1.5: want epoch milliseconds`},
		{"bool as string", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": ["true"]}}}`, `filter.cmp.values[0]: "true": want true or false`},
		{"contains on int", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "CONTAINS", "values": [1]}}}`, `filter.cmp.op: CONTAINS needs a string field; slot is int`},
		{"lt on bool", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "mobile", "op": "LT", "values": [true]}}}`, `filter.cmp.op: LT does not apply to bool field mobile`},
		{"between one value", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "BETWEEN", "values": [1]}}}`, `filter.cmp.values: BETWEEN needs 2 values (low, high), got 1`},
		{"eq two values", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "EQ", "values": [1, 2]}}}`, `filter.cmp.values: EQ needs 1 value, got 2`},
		{"is_null with value", `{` + rng + `, ` + m + `, "filter": {"cmp": {"field": "slot", "op": "IS_NULL", "values": [1]}}}`, `filter.cmp.values: IS_NULL takes no values`},
		{"empty filter", `{` + rng + `, ` + m + `, "filter": {}}`, `filter: empty: want one of and, or, not, cmp`},
		{"empty or", `{` + rng + `, ` + m + `, "filter": {"not": {"or": {}}}}`, `filter.not.or.filters: or needs at least 1 filter`},
		{"empty not", `{` + rng + `, ` + m + `, "filter": {"not": {}}}`, `filter.not: needs a filter`},
		{"unknown filter field", `{` + rng + `, ` + m + `, "filter": {"or": {"filters": [{"cmp": {"field": "slot", "op": "EQ", "values": [1]}}, {"cmp": {"field": "x", "op": "EQ", "values": [1]}}]}}}`,
			`filter.or.filters[1].cmp.field: unknown field "x" in dataset clicks`},
		{"having on a field", `{` + rng + `, ` + m + `, "having": {"cmp": {"field": "qty", "op": "GT", "values": [1]}}}`, `having.cmp.field: unknown metric "qty" (having refers to metric output names: count)`},
		{"having value type", `{` + rng + `, ` + m + `, "having": {"cmp": {"field": "count", "op": "GT", "values": [1.5]}}}`, `having.cmp.values[0]: 1.5: want an integer (int64) (field count is int)`},
		{"having contains", `{` + rng + `, ` + m + `, "having": {"cmp": {"field": "count", "op": "CONTAINS", "values": [1]}}}`, `having.cmp.op: CONTAINS needs a string field`},
		{"order by unknown", `{` + rng + `, ` + m + `, "orderBy": [{"by": "revenue"}]}`, `orderBy[0].by: "revenue" is not an output column (count)`},
		{"order by time without buckets", `{` + rng + `, ` + m + `, "orderBy": [{"by": "__time"}]}`, `orderBy[0].by: "__time" is not an output column`},
		{"order twice", `{` + rng + `, ` + m + `, "orderBy": [{"by": "count"}, {"by": "count", "desc": true}]}`, `orderBy[1].by: "count" is ordered by twice`},
		{"order by ungrouped field", `{` + rng + `, ` + m + `, "orderBy": [{"by": "color"}]}`, `orderBy[0].by: "color" is not an output column`},
		{"negative timeout", `{` + rng + `, ` + m + `, "options": {"timeoutMs": -1}}`, `options.timeoutMs: -1`},
		{"bad priority", `{` + rng + `, ` + m + `, "options": {"priority": "urgent"}}`, `options.priority: "urgent": want interactive or bulk`},
		{"other dataset", `{"dataset": "views", ` + rng + `, ` + m + `}`, `dataset: "views" does not match dataset clicks`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.js, Options{})
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %v (%T), want *query.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant prefix\n  %s", err, tc.want)
			}
		})
	}
}

func TestLimitsAndRange(t *testing.T) {
	o := Options{Limits: Limits{DefaultLimit: 5, MaxLimit: 50, MaxRange: 24 * time.Hour}}
	q, err := parse(t, `{`+rng+`, "metrics": [{"agg": "count"}]}`, o)
	if err != nil || q.Limit != 5 {
		t.Fatalf("limit %v, %v; want the default 5", q, err)
	}
	if _, err := parse(t, `{`+rng+`, "metrics": [{"agg": "count"}], "limit": 51}`, o); err == nil || err.Error() != "limit: 51 is over the maximum 50" {
		t.Errorf("limit 51: %v", err)
	}
	if _, err := parse(t, `{"timeRange": {"start": "now-25h"}, "metrics": [{"agg": "count"}]}`, o); err == nil || !strings.HasPrefix(err.Error(), "timeRange: 25h0m0s is longer than the maximum 24h0m0s") {
		t.Errorf("25h range: %v", err)
	}
	q, err = parse(t, `{`+rng+`, "metrics": [{"agg": "count"}]}`, Options{})
	if err != nil || q.Limit != DefaultLimit {
		t.Errorf("zero limits: limit %d, %v", q.Limit, err)
	}
}

func TestTooManyZoneChanges(t *testing.T) {
	_, err := parse(t, `{"timeRange": {"start": "1900-01-01T00:00:00Z", "end": "2500-01-01T00:00:00Z"}, "granularity": "1d",
		"timeZone": "America/New_York", "metrics": [{"agg": "count"}]}`, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "timeRange: zone America/New_York changes its UTC offset more than 1000 times") {
		t.Errorf("error %v", err)
	}
	// Without buckets the zone only formats output times: no bound.
	if _, err := parse(t, `{"timeRange": {"start": "1900-01-01T00:00:00Z", "end": "2500-01-01T00:00:00Z"},
		"timeZone": "America/New_York", "metrics": [{"agg": "count"}]}`, Options{}); err != nil {
		t.Error(err)
	}
}

func TestZoneSpans(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		name       string
		loc        *time.Location
		start, end string
		want       []ZoneSpan
	}{
		{"no change", ny, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z", []ZoneSpan{{utc("2026-06-01T00:00:00Z"), -4 * 3600}}},
		{"fall back", ny, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z", []ZoneSpan{
			{utc("2026-10-31T00:00:00Z"), -4 * 3600}, {utc("2026-11-01T06:00:00Z"), -5 * 3600}}},
		{"a year", ny, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", []ZoneSpan{
			{utc("2026-01-01T00:00:00Z"), -5 * 3600}, {utc("2026-03-08T07:00:00Z"), -4 * 3600}, {utc("2026-11-01T06:00:00Z"), -5 * 3600}}},
		{"end on the change is excluded", ny, "2026-10-31T00:00:00Z", "2026-11-01T06:00:00Z", []ZoneSpan{{utc("2026-10-31T00:00:00Z"), -4 * 3600}}},
		{"start on the change", ny, "2026-11-01T06:00:00Z", "2026-11-02T00:00:00Z", []ZoneSpan{{utc("2026-11-01T06:00:00Z"), -5 * 3600}}},
		{"fixed", kolkata, "1990-01-01T00:00:00Z", "2030-01-01T00:00:00Z", []ZoneSpan{{utc("1990-01-01T00:00:00Z"), 19800}}},
		{"utc", time.UTC, "1990-01-01T00:00:00Z", "2030-01-01T00:00:00Z", []ZoneSpan{{utc("1990-01-01T00:00:00Z"), 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ZoneSpans(tc.loc, utc(tc.start), utc(tc.end), MaxZoneChanges)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("spans %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].From.Equal(tc.want[i].From) || got[i].Offset != tc.want[i].Offset {
					t.Errorf("span %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestTenant(t *testing.T) {
	js := `{` + rng + `, "metrics": [{"agg": "count"}], "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}}`
	q, err := parse(t, js, Options{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	f := q.Filter
	if f.Kind != And || f.Filters[0].Field != "tenant" || f.Filters[0].Op != EQ || f.Filters[0].Values[0] != "acme" || f.Filters[1].Field != "color" {
		t.Errorf("filter %+v", f)
	}
	other, _ := parse(t, js, Options{Tenant: "globex"})
	none, _ := parse(t, js, Options{})
	if q.Key() == other.Key() || q.Key() == none.Key() {
		t.Error("tenants share a cache key")
	}
	if none.Filter.Kind != Cmp {
		t.Errorf("without a tenant: filter %+v", none.Filter)
	}
	q, err = parse(t, `{`+rng+`, "metrics": [{"agg": "count"}]}`, Options{Tenant: "acme"})
	if err != nil || q.Filter == nil || q.Filter.Kind != Cmp || q.Filter.Field != "tenant" {
		t.Errorf("tenant alone: %+v, %v", q.Filter, err)
	}
}

func TestKey(t *testing.T) {
	base := `{` + rng + `, "metrics": [{"agg": "count"}], "filter": {"cmp": {"field": "seen", "op": "GT", "values": ["2026-11-22T01:00:00+01:00"]}}}`
	q1, err := parse(t, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The same query spelled differently: epoch ms, other case, relative bounds that resolve the same.
	q2, err := parse(t, `{"timeRange": {"start": "1795305600000", "end": "now+690m"}, "metrics": [{"agg": "COUNT"}],
		"filter": {"cmp": {"field": "SEEN", "op": "gt", "values": [1795305600000]}}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if q1.Key() != q2.Key() {
		t.Errorf("equal queries, different keys:\n%s\n%s", q1.Key(), q2.Key())
	}
	for name, js := range map[string]string{
		"limit":       `{` + rng + `, "metrics": [{"agg": "count"}], "limit": 5}`,
		"zone":        `{` + rng + `, "metrics": [{"agg": "count"}], "timeZone": "Asia/Kolkata"}`,
		"granularity": `{` + rng + `, "metrics": [{"agg": "count"}], "granularity": "1h"}`,
		"name":        `{` + rng + `, "metrics": [{"agg": "count", "as": "n"}]}`,
		"value type":  `{` + rng + `, "metrics": [{"agg": "count"}], "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["1"]}}}`,
		"having":      `{` + rng + `, "metrics": [{"agg": "count"}], "having": {"cmp": {"field": "count", "op": "GT", "values": [1]}}}`,
	} {
		q, err := parse(t, js, Options{})
		if err != nil {
			t.Fatal(name, err)
		}
		if q.Key() == q1.Key() {
			t.Errorf("%s: same key as the base query", name)
		}
	}
	// Hints do not change the answer, so not the key.
	q3, err := parse(t, base[:len(base)-1]+`, "options": {"timeoutMs": 5, "noCache": true}}`, Options{})
	if err != nil || q3.Key() != q1.Key() {
		t.Errorf("hints changed the key: %v", err)
	}
}

// TestZoneSpansBruteForce checks the walk against the zone's offset every hour from 1990 to
// 2070, through Go's zone-rule extension past 2037 (and its leap-year quirk).
func TestZoneSpansBruteForce(t *testing.T) {
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Apia"} {
		t.Run(name, func(t *testing.T) {
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Fatal(err)
			}
			spans, err := ZoneSpans(loc, start, end, MaxZoneChanges)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for tm := start; tm.Before(end); tm = tm.Add(time.Hour) {
				for i+1 < len(spans) && !tm.Before(spans[i+1].From) {
					i++
				}
				if _, off := tm.In(loc).Zone(); off != spans[i].Offset {
					t.Fatalf("at %v: offset %d, spans say %d", tm, off, spans[i].Offset)
				}
			}
			for i := 1; i < len(spans); i++ {
				if spans[i].Offset == spans[i-1].Offset || !spans[i].From.After(spans[i-1].From) {
					t.Fatalf("spans %d and %d: %v %v", i-1, i, spans[i-1], spans[i])
				}
			}
		})
	}
}
