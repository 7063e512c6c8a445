package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/olapgate/olapgate/gateway"
	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/query"
	"github.com/olapgate/olapgate/query/refeval"
	"github.com/olapgate/olapgate/store"
	"github.com/olapgate/olapgate/store/embedded"
)

// TestBucketReuseAgainstReference slides random bucketed queries like a dashboard refreshing a
// relative range: each query runs, then again over its range moved by a random amount, both
// accepting cached answers. The moved query is answered partly from the first one's final
// buckets; every answer must equal the reference evaluator's over the same rows.
func TestBucketReuseAgainstReference(t *testing.T) {
	ctx := context.Background()
	d := propDataset(t)
	st, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	}()
	if err := st.EnsureDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	rows := randomRows(rand.New(rand.NewPCG(21, 7)), 4000)
	if _, err := st.Write(ctx, toBatch(d, rows)); err != nil {
		t.Fatal(err)
	}
	// The rows are months old, so every bucket is final: reuse is at its most aggressive.
	g := gateway.New(gateway.Config{Lateness: time.Minute}, st, []*dataset.Dataset{d}, nil)

	r := rand.New(rand.NewPCG(21, 11))
	reusedQueries := 0
	for i := range 150 {
		rq := newDashboardQuery(r)
		pb := rq.pb
		pb.SeriesLimit, pb.Compare = 0, ""
		if pb.Granularity == "" {
			pb.Granularity = []string{"15m", "1h", "6h", "1d"}[r.IntN(4)]
		}
		// A window of the data, as a dashboard range.
		w := windows[r.IntN(len(windows))]
		start := w[0].Add(time.Duration(r.IntN(48)) * time.Hour).Add(time.Duration(r.IntN(4)) * 7 * time.Minute)
		length := time.Duration(6+r.IntN(60)) * time.Hour
		shift := time.Duration(r.IntN(8*60)) * time.Minute
		pb.Options = &olapgatev1.QueryOptions{MaxStalenessMs: 600000}
		qctx := ctx
		if rq.tenant != "" {
			qctx = metadata.NewIncomingContext(ctx, metadata.Pairs(gateway.TenantMetadata, rq.tenant))
		}
		for step, s := range []time.Time{start, start.Add(shift)} {
			run := proto.Clone(pb).(*olapgatev1.Query)
			run.TimeRange = &olapgatev1.TimeRange{Start: s.Format(time.RFC3339), End: s.Add(length).Format(time.RFC3339)}
			raw, _ := protojson.Marshal(run)
			what := fmt.Sprintf("query %d step %d (tenant %q): %s", i, step, rq.tenant, raw)
			q, err := resolveDashboard(run, d, query.Options{Now: time.Now(), Tenant: rq.tenant})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			want, werr := refeval.Eval(q, d, rows)
			a, gerr := g.Aggregate(qctx, &olapgatev1.AggregateRequest{Query: run})
			switch {
			case werr != nil && gerr != nil:
				continue // both refuse a filled answer over the limit
			case werr != nil:
				t.Fatalf("%s: refeval: %v", what, werr)
			case gerr != nil:
				t.Fatalf("%s: aggregate: %v", what, gerr)
			}
			if step == 1 && a.GetStats().GetReusedBuckets() > 0 {
				reusedQueries++
			}
			compareAnswers(t, what, q, d, rows, want, fromProto(a))
		}
	}
	if reusedQueries < 30 {
		t.Errorf("only %d of 150 moved queries reused buckets", reusedQueries)
	}
	t.Logf("%d of 150 moved queries reused buckets", reusedQueries)
}

// fromProto turns a gRPC answer back into rows (times in the answer's zone).
func fromProto(a *olapgatev1.AggregateResponse) *store.Result {
	loc, err := time.LoadLocation(a.GetStats().GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	res := &store.Result{}
	for _, c := range a.GetColumns() {
		res.Columns = append(res.Columns, store.ResultColumn{Name: c.GetName(), Type: store.ColumnType(c.GetType()), Approximate: c.GetApproximate()})
	}
	for i := range int(a.GetRowCount()) {
		row := make([]any, len(a.GetColumns()))
		for j, c := range a.GetColumns() {
			switch c.GetType() {
			case olapgatev1.ColumnType_COLUMN_TYPE_STRING:
				row[j] = c.GetStringValues()[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_INT64:
				row[j] = c.GetInt64Values()[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_DOUBLE:
				row[j] = c.GetDoubleValues()[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_BOOL:
				row[j] = c.GetBoolValues()[i]
			case olapgatev1.ColumnType_COLUMN_TYPE_TIMESTAMP:
				row[j] = time.UnixMicro(c.GetTimestampValues()[i]).In(loc)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	for j, c := range a.GetColumns() {
		for _, n := range c.GetNullRows() {
			res.Rows[n][j] = nil
		}
	}
	return res
}

// TestLatenessWindowRecomputesRecentBuckets: buckets younger than the lateness window are not
// final, so data arriving late into them is seen by the next refresh, while older buckets are
// reused (and a late arrival there is not seen until the extent expires).
func TestLatenessWindowRecomputesRecentBuckets(t *testing.T) {
	ctx := context.Background()
	d := dataset.Sample()
	st, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.EnsureDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	write := func(id string, at time.Time) {
		b := store.NewBatch(d, 1)
		for i, c := range d.Columns() {
			switch c.Name {
			case "time":
				b.Cols[i].Times = append(b.Cols[i].Times, at.UnixMicro())
			case "id":
				b.Cols[i].Strings = append(b.Cols[i].Strings, id)
			default:
				switch c.Type {
				case dataset.String:
					b.Cols[i].Strings = append(b.Cols[i].Strings, "x")
				case dataset.Int:
					b.Cols[i].Ints = append(b.Cols[i].Ints, 1)
				}
			}
		}
		b.N = 1
		if _, err := st.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for m := range 60 {
		write(fmt.Sprintf("e%d", m), now.Add(-time.Duration(m)*time.Minute+time.Second))
	}
	g := gateway.New(gateway.Config{Lateness: 10 * time.Minute}, st, []*dataset.Dataset{d}, nil)
	count := func(start time.Time) (map[int64]int64, int64) {
		pb := &olapgatev1.Query{Dataset: "pageviews", Granularity: "1m", Metrics: []*olapgatev1.Metric{{Agg: "COUNT"}},
			TimeRange: &olapgatev1.TimeRange{Start: start.Format(time.RFC3339), End: start.Add(time.Hour).Format(time.RFC3339)},
			Options:   &olapgatev1.QueryOptions{MaxStalenessMs: 600000}}
		a, err := g.Aggregate(ctx, &olapgatev1.AggregateRequest{Query: pb})
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]int64{}
		for i, ts := range a.GetColumns()[0].GetTimestampValues() {
			out[ts] = a.GetColumns()[1].GetInt64Values()[i]
		}
		return out, a.GetStats().GetReusedBuckets()
	}
	first, reused := count(now.Add(-59 * time.Minute))
	if reused != 0 || len(first) != 60 {
		t.Fatalf("first: %d buckets, %d reused", len(first), reused)
	}
	// Late arrivals: one into a bucket 3 minutes old (within the window), one 30 minutes old.
	recent, old := now.Add(-3*time.Minute), now.Add(-30*time.Minute)
	write("late-recent", recent.Add(2*time.Second))
	write("late-old", old.Add(2*time.Second))
	second, reused := count(now.Add(-58 * time.Minute))
	// Buckets that ended 10 minutes before the first query are reused: [now-59m, now-10m).
	if reused < 45 || reused > 50 {
		t.Errorf("reused %d buckets, want the ~49 older than the lateness window", reused)
	}
	if got := second[recent.UnixMicro()]; got != 2 {
		t.Errorf("bucket %s (inside the lateness window) counts %d, want 2: the late event must be seen", recent.Format(time.TimeOnly), got)
	}
	if got := second[old.UnixMicro()]; got != 1 {
		t.Errorf("bucket %s (final) counts %d, want the reused 1", old.Format(time.TimeOnly), got)
	}
	// A client that wants it fresh gets everything.
	pb := &olapgatev1.Query{Dataset: "pageviews", Granularity: "1m", Metrics: []*olapgatev1.Metric{{Agg: "COUNT"}},
		TimeRange: &olapgatev1.TimeRange{Start: now.Add(-58 * time.Minute).Format(time.RFC3339), End: now.Add(2 * time.Minute).Format(time.RFC3339)}}
	a, err := g.Aggregate(ctx, &olapgatev1.AggregateRequest{Query: pb})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetStats().GetReusedBuckets() != 0 {
		t.Errorf("a query without maxStalenessMs reused %d buckets", a.GetStats().GetReusedBuckets())
	}
	for i, ts := range a.GetColumns()[0].GetTimestampValues() {
		if ts == old.UnixMicro() && a.GetColumns()[1].GetInt64Values()[i] != 2 {
			t.Errorf("fresh answer misses the late event in %s", old.Format(time.TimeOnly))
		}
	}
}
