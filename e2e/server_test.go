package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/internal/sample"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/query/refeval"
	"github.com/olapgate/olapgate/store"
)

// The data spans the 2026-11-01 DST change in America/New_York.
var dataStart = time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)

const dataSpan = 72 * time.Hour

// testEvents returns JSON objects and the rows the reference evaluator sees. Some events omit
// fields (nulls) and some are resent with the same id (stored once).
func testEvents(seed uint64, n int) (objs []map[string]any, rows []map[string]any) {
	g := sample.New(seed, dataStart, dataSpan, 300)
	g.Tenants = []string{"acme", "globex"}
	for i := range n {
		e := g.Next()
		obj := map[string]any{
			"id": e.ID, "page": e.Page, "country": e.Country, "device": e.Device, "user_id": e.UserID,
			"tenant": e.Tenant, "duration_ms": e.DurationMs, "bytes": e.Bytes,
		}
		// Alternate the two accepted time forms.
		if i%2 == 0 {
			obj["time"] = e.Time.Format(time.RFC3339Nano)
		} else {
			obj["time"] = e.Time.UnixMilli()
		}
		row := e.Map()
		if i%13 == 0 {
			delete(obj, "country")
			row["country"] = nil
		}
		if i%17 == 0 {
			obj["duration_ms"] = nil
			row["duration_ms"] = nil
		}
		objs = append(objs, obj)
		rows = append(rows, row)
	}
	// Resend 5% of events: acknowledged again, stored once.
	for i := 0; i < n; i += 20 {
		objs = append(objs, objs[i])
	}
	return objs, rows
}

func ndjson(objs []map[string]any) []byte {
	var b bytes.Buffer
	for _, o := range objs {
		raw, _ := json.Marshal(o)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func postJSON(t testing.TB, url, contentType string, body []byte, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

type ingestAnswer struct {
	Accepted int64 `json:"accepted"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
	Ack string `json:"ack"`
}

// ingestAll sends a quarter of the events each way: HTTP NDJSON, HTTP JSON array, gRPC Ingest
// with structs, gRPC IngestStream with json_lines.
func ingestAll(t *testing.T, httpBase string, cc *grpc.ClientConn, objs []map[string]any) {
	t.Helper()
	q := len(objs) / 4
	parts := [][]map[string]any{objs[:q], objs[q : 2*q], objs[2*q : 3*q], objs[3*q:]}

	code, out := postJSON(t, httpBase+"/v1/datasets/pageviews/events", "application/x-ndjson", ndjson(parts[0]))
	checkIngest(t, "http ndjson", code, out, len(parts[0]))
	arr, _ := json.Marshal(parts[1])
	code, out = postJSON(t, httpBase+"/v1/datasets/pageviews/events", "application/json", arr)
	checkIngest(t, "http array", code, out, len(parts[1]))

	client := olapgatev1.NewIngestServiceClient(cc)
	ctx := context.Background()
	req := &olapgatev1.IngestRequest{Dataset: "pageviews"}
	for _, o := range parts[2] {
		s, err := structpb.NewStruct(o)
		if err != nil {
			t.Fatal(err)
		}
		req.Events = append(req.Events, s)
	}
	resp, err := client.Ingest(ctx, req)
	if err != nil {
		t.Fatalf("grpc Ingest: %v", err)
	}
	if resp.Accepted != int64(len(parts[2])) || len(resp.Rejected) != 0 || resp.Ack != "committed" {
		t.Fatalf("grpc Ingest: %v", resp)
	}

	stream, err := client.IngestStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(parts[3]); i += 100 {
		chunk := parts[3][i:min(i+100, len(parts[3]))]
		if err := stream.Send(&olapgatev1.IngestStreamRequest{Dataset: "pageviews", JsonLines: ndjson(chunk)}); err != nil {
			t.Fatalf("stream send: %v", err)
		}
	}
	sresp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("grpc IngestStream: %v", err)
	}
	if sresp.Accepted != int64(len(parts[3])) || len(sresp.Rejected) != 0 {
		t.Fatalf("grpc IngestStream: %v", sresp)
	}
}

func checkIngest(t *testing.T, what string, code int, out []byte, want int) {
	t.Helper()
	var a ingestAnswer
	if err := json.Unmarshal(out, &a); err != nil || code != 200 {
		t.Fatalf("%s: status %d body %s", what, code, out)
	}
	if a.Accepted != int64(want) || len(a.Rejected) != 0 || a.Ack != "committed" {
		t.Fatalf("%s: want %d accepted, got %s", what, want, out)
	}
}

// randomQuery builds a query in the HTTP JSON form.
func randomQuery(r *rand.Rand) map[string]any {
	q := map[string]any{"dataset": "pageviews"}
	// Mostly the whole data span, sometimes a window that cuts buckets.
	start := dataStart.Add(-time.Hour)
	end := dataStart.Add(dataSpan + time.Hour)
	if r.IntN(3) == 0 {
		start = dataStart.Add(time.Duration(r.IntN(24)) * time.Hour).Add(17 * time.Minute)
		end = start.Add(time.Duration(6+r.IntN(40)) * time.Hour)
	}
	q["timeRange"] = map[string]any{"start": start.Format(time.RFC3339), "end": fmt.Sprint(end.UnixMilli())}
	all := []map[string]any{
		{"agg": "COUNT"},
		{"agg": "sum", "field": "bytes"},
		{"agg": "AVG", "field": "duration_ms"},
		{"agg": "MIN", "field": "duration_ms"},
		{"agg": "max", "field": "bytes", "as": "biggest"},
		{"agg": "COUNT_DISTINCT", "field": "user_id"},
		{"agg": "PERCENTILE", "field": "duration_ms", "p": 0.99},
		{"agg": "PERCENTILE", "field": "duration_ms", "p": 0.5},
		{"agg": "MAX", "field": "time"},
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	q["metrics"] = all[:1+r.IntN(4)]
	dims := []string{"country", "device", "page"}
	r.Shuffle(len(dims), func(i, j int) { dims[i], dims[j] = dims[j], dims[i] })
	if k := r.IntN(3); k > 0 {
		q["groupBy"] = dims[:k]
	}
	switch r.IntN(4) {
	case 1:
		q["granularity"] = "1h"
	case 2:
		q["granularity"] = "15m"
	case 3:
		q["granularity"] = "1d"
	}
	if _, ok := q["granularity"]; ok {
		q["timeZone"] = []string{"UTC", "America/New_York", "Asia/Kolkata"}[r.IntN(3)]
	}
	filters := []map[string]any{
		{"cmp": map[string]any{"field": "country", "op": "IN", "values": []any{"US", "DE", "IN"}}},
		{"not": map[string]any{"cmp": map[string]any{"field": "device", "op": "EQ", "values": []any{"tablet"}}}},
		{"cmp": map[string]any{"field": "duration_ms", "op": "GTE", "values": []any{100}}},
		{"cmp": map[string]any{"field": "page", "op": "CONTAINS", "values": []any{"docs"}}},
		{"cmp": map[string]any{"field": "country", "op": "IS_NULL"}},
		{"cmp": map[string]any{"field": "bytes", "op": "BETWEEN", "values": []any{1000, 90000}}},
		{"or": map[string]any{"filters": []any{
			map[string]any{"cmp": map[string]any{"field": "device", "op": "NEQ", "values": []any{"mobile"}}},
			map[string]any{"cmp": map[string]any{"field": "country", "op": "NOT_IN", "values": []any{"US"}}},
		}}},
	}
	switch r.IntN(3) {
	case 1:
		q["filter"] = filters[r.IntN(len(filters))]
	case 2:
		a, b := filters[r.IntN(len(filters))], filters[r.IntN(len(filters))]
		q["filter"] = map[string]any{"and": map[string]any{"filters": []any{a, b}}}
	}
	if r.IntN(2) == 0 {
		m := q["metrics"].([]map[string]any)[0]
		name := metricName(m)
		q["orderBy"] = []map[string]any{{"by": name, "desc": true}}
		q["limit"] = 1 + r.IntN(20)
	}
	return q
}

func metricName(m map[string]any) string {
	if as, ok := m["as"].(string); ok {
		return as
	}
	agg := strings.ToLower(m["agg"].(string))
	switch agg {
	case "count":
		return "count"
	case "percentile":
		return fmt.Sprintf("p%g_%s", m["p"].(float64)*100, m["field"])
	}
	return agg + "_" + m["field"].(string)
}

// TestEndToEndProperty ingests random events over HTTP and gRPC, then checks random queries
// through both APIs against the reference evaluator over the same events.
func TestEndToEndProperty(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			srv := startServer(t, t.TempDir())
			base := "http://" + srv.HTTPAddr()
			cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cc.Close() }()

			objs, rows := testEvents(seed, 4000)
			ingestAll(t, base, cc, objs)

			d := dataset.Sample()
			qc := olapgatev1.NewQueryServiceClient(cc)
			r := rand.New(rand.NewPCG(seed, 99))
			compared := 0
			for i := range 40 {
				qj := randomQuery(r)
				raw, _ := json.Marshal(qj)
				pb := &olapgatev1.Query{}
				if err := protojson.Unmarshal(raw, pb); err != nil {
					t.Fatalf("query %d: %v: %s", i, err, raw)
				}
				q, err := query.FromProto(pb, d, query.Options{Now: time.Now()})
				if err != nil {
					t.Fatalf("query %d: %v: %s", i, err, raw)
				}
				want, err := refeval.Eval(q, d, rows)
				if err != nil {
					t.Fatalf("query %d: refeval: %v", i, err)
				}
				_, ordered := qj["orderBy"]

				code, out := postJSON(t, base+"/v1/query", "application/json", raw)
				if code != 200 {
					t.Fatalf("query %d: HTTP %d: %s\nquery: %s", i, code, out, raw)
				}
				gotHTTP := decodeHTTPResult(t, out)
				compareResults(t, fmt.Sprintf("query %d over HTTP: %s", i, raw), want, gotHTTP, ordered)

				resp, err := qc.Aggregate(context.Background(), &olapgatev1.AggregateRequest{Query: pb})
				if err != nil {
					t.Fatalf("query %d: gRPC: %v", i, err)
				}
				compareResults(t, fmt.Sprintf("query %d over gRPC: %s", i, raw), want, grpcResult(resp, q.Location), ordered)
				compared += len(want.Rows)
			}
			// Guard against a vacuous pass (e.g. every query matching nothing).
			if compared < 200 {
				t.Fatalf("only %d result rows compared over 40 queries", compared)
			}
			t.Logf("%d result rows compared over HTTP and gRPC", compared)
		})
	}
}

// decodeHTTPResult reads the HTTP answer into typed rows, checking the JSON types as it goes.
func decodeHTTPResult(t *testing.T, raw []byte) *store.Result {
	t.Helper()
	var ans struct {
		Columns []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"columns"`
		Rows [][]json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatalf("decode answer: %v: %s", err, raw)
	}
	res := &store.Result{}
	types := map[string]store.ColumnType{"STRING": store.TypeString, "INT64": store.TypeInt64, "DOUBLE": store.TypeDouble, "BOOL": store.TypeBool, "TIMESTAMP": store.TypeTimestamp}
	for _, c := range ans.Columns {
		res.Columns = append(res.Columns, store.ResultColumn{Name: c.Name, Type: types[c.Type]})
	}
	for _, row := range ans.Rows {
		vals := make([]any, len(row))
		for j, v := range row {
			if string(v) == "null" {
				continue
			}
			var err error
			switch res.Columns[j].Type {
			case store.TypeString:
				var s string
				err = json.Unmarshal(v, &s)
				vals[j] = s
			case store.TypeInt64:
				var n int64
				err = json.Unmarshal(v, &n) // fails on "123" or 1.5: ints must be JSON integers
				vals[j] = n
			case store.TypeDouble:
				var f float64
				err = json.Unmarshal(v, &f)
				vals[j] = f
			case store.TypeBool:
				var b bool
				err = json.Unmarshal(v, &b)
				vals[j] = b
			case store.TypeTimestamp:
				var s string
				if err = json.Unmarshal(v, &s); err == nil {
					var tm time.Time
					tm, err = time.Parse(time.RFC3339Nano, s)
					vals[j] = tm
				}
			}
			if err != nil {
				t.Fatalf("column %s value %s: %v", res.Columns[j].Name, v, err)
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	return res
}

func grpcResult(resp *olapgatev1.AggregateResponse, loc *time.Location) *store.Result {
	res := &store.Result{}
	n := int(resp.RowCount)
	res.Rows = make([][]any, n)
	for i := range res.Rows {
		res.Rows[i] = make([]any, len(resp.Columns))
	}
	for j, c := range resp.Columns {
		res.Columns = append(res.Columns, store.ResultColumn{Name: c.Name, Type: store.ColumnType(c.Type)})
		nulls := map[int32]bool{}
		for _, k := range c.NullRows {
			nulls[k] = true
		}
		for i := range n {
			if nulls[int32(i)] {
				continue
			}
			switch c.Type {
			case olapgatev1.ColumnType_COLUMN_TYPE_STRING:
				res.Rows[i][j] = c.StringValues[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_INT64:
				res.Rows[i][j] = c.Int64Values[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_DOUBLE:
				res.Rows[i][j] = c.DoubleValues[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_BOOL:
				res.Rows[i][j] = c.BoolValues[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_TIMESTAMP:
				res.Rows[i][j] = time.UnixMicro(c.TimestampValues[i]).In(loc)
			}
		}
	}
	return res
}

func compareResults(t *testing.T, what string, want, got *store.Result, ordered bool) {
	t.Helper()
	if len(want.Columns) != len(got.Columns) {
		t.Fatalf("%s: columns %v, want %v", what, got.Columns, want.Columns)
	}
	for j := range want.Columns {
		if want.Columns[j].Name != got.Columns[j].Name || want.Columns[j].Type != got.Columns[j].Type {
			t.Fatalf("%s: column %d is %s %s, want %s %s", what, j, got.Columns[j].Name, got.Columns[j].Type, want.Columns[j].Name, want.Columns[j].Type)
		}
	}
	if len(want.Rows) != len(got.Rows) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", what, len(got.Rows), len(want.Rows), head(got.Rows), head(want.Rows))
	}
	wr, gr := want.Rows, got.Rows
	if !ordered {
		wr, gr = sortedRows(wr), sortedRows(gr)
	}
	for i := range wr {
		for j := range wr[i] {
			if !sameValue(wr[i][j], gr[i][j]) {
				t.Fatalf("%s: row %d column %s = %v, want %v\ngot row  %v\nwant row %v", what, i, want.Columns[j].Name, gr[i][j], wr[i][j], gr[i], wr[i])
			}
		}
	}
}

func head(rows [][]any) [][]any { return rows[:min(5, len(rows))] }

func sortedRows(rows [][]any) [][]any {
	out := append([][]any(nil), rows...)
	sort.SliceStable(out, func(a, b int) bool { return rowKey(out[a]) < rowKey(out[b]) })
	return out
}

// rowKey orders rows the same way whichever side they came from: instants not zone names,
// floats rounded past the comparison tolerance.
func rowKey(row []any) string {
	var b strings.Builder
	for _, v := range row {
		switch x := v.(type) {
		case time.Time:
			fmt.Fprintf(&b, "%020d|", x.UnixMicro())
		case float64:
			fmt.Fprintf(&b, "%.6g|", x)
		default:
			fmt.Fprintf(&b, "%v|", x)
		}
	}
	return b.String()
}

func sameValue(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case float64:
		g, ok := got.(float64)
		return ok && (w == g || math.Abs(w-g) <= 1e-9*math.Max(math.Abs(w), math.Abs(g)))
	case time.Time:
		g, ok := got.(time.Time)
		// Same instant and the same printed offset: output times carry the query zone's offset.
		return ok && w.Equal(g) && w.Format(time.RFC3339) == g.Format(time.RFC3339)
	}
	return want == got
}
