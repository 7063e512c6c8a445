package gateway

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

const benchTop10 = `{"dataset":"pageviews","timeRange":{"start":"2026-11-21T00:00:00Z","end":"2026-11-22T00:00:00Z"},"groupBy":["page"],"metrics":[{"agg":"SUM","field":"bytes","as":"b"}],"orderBy":[{"by":"b","desc":true}],"limit":10,"options":{"maxStalenessMs":600000}}`

// BenchmarkCacheHit is the gateway's own work for a cache hit, without transport: the gRPC
// method and the HTTP handler (request decoding and answer encoding included).
func BenchmarkCacheHit(b *testing.B) {
	g := New(Config{}, &top10Store{}, []*dataset.Dataset{dataset.Sample()}, nil)
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(benchTop10), pb); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := g.Aggregate(ctx, &olapgatev1.AggregateRequest{Query: pb}); err != nil {
		b.Fatal(err)
	}
	b.Run("grpc-method", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			a, err := g.Aggregate(ctx, &olapgatev1.AggregateRequest{Query: pb})
			if err != nil || !a.GetStats().GetCacheHit() {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-handler", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			w := httptest.NewRecorder()
			g.handleQuery(w, httptest.NewRequest("POST", "/v1/query", strings.NewReader(benchTop10)))
			if w.Code != 200 {
				b.Fatal(w.Body.String())
			}
		}
	})
}

// top10Store answers with ten (page, bytes) rows.
type top10Store struct{ memStore }

func (*top10Store) Query(_ context.Context, st store.Statement) (*store.Result, error) {
	r := &store.Result{Columns: st.Output}
	for i := range 10 {
		r.Rows = append(r.Rows, []any{fmt.Sprintf("/docs/page-%d", i), int64(1000000 - i)})
	}
	return r, nil
}
