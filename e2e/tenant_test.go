package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
)

// TestTenantIsolation: the tenant header fills and guards the tenant column on ingest, and
// restricts queries (HTTP header and gRPC metadata) to that tenant's rows.
func TestTenantIsolation(t *testing.T) {
	srv := startServer(t, t.TempDir())
	base := "http://" + srv.HTTPAddr()
	ev := func(id, tenant string) map[string]any {
		m := map[string]any{"id": id, "time": "2026-11-22T10:00:00Z", "page": "/", "bytes": 1}
		if tenant != "" {
			m["tenant"] = tenant
		}
		return m
	}
	post := func(tenant string, events ...map[string]any) ingestAnswer {
		raw, _ := json.Marshal(events)
		code, out := postJSON(t, base+"/v1/datasets/pageviews/events", "application/json", raw, "X-Olapgate-Tenant", tenant)
		var a ingestAnswer
		if err := json.Unmarshal(out, &a); err != nil || code != 200 {
			t.Fatalf("ingest as %s: %d %s", tenant, code, out)
		}
		return a
	}
	a := post("acme", ev("a1", ""), ev("a2", "acme"), ev("x1", "globex"), ev("a3", ""))
	if a.Accepted != 3 || len(a.Rejected) != 1 || a.Rejected[0].Index != 2 {
		t.Fatalf("acme ingest: %+v", a)
	}
	if b := post("globex", ev("g1", ""), ev("g2", "")); b.Accepted != 2 {
		t.Fatalf("globex ingest: %+v", b)
	}

	q := `{"dataset":"pageviews","timeRange":{"start":"2026-11-22T00:00:00Z","end":"2026-11-23T00:00:00Z"},"metrics":[{"agg":"COUNT"}]}`
	count := func(tenant string) int64 {
		var hdr []string
		if tenant != "" {
			hdr = []string{"X-Olapgate-Tenant", tenant}
		}
		code, out := postJSON(t, base+"/v1/query", "application/json", []byte(q), hdr...)
		var ans struct{ Rows [][]int64 }
		if err := json.Unmarshal(out, &ans); err != nil || code != 200 {
			t.Fatalf("query as %q: %d %s", tenant, code, out)
		}
		return ans.Rows[0][0]
	}
	if got := count("acme"); got != 3 {
		t.Fatalf("acme sees %d rows, want 3", got)
	}
	if got := count("globex"); got != 2 {
		t.Fatalf("globex sees %d rows, want 2", got)
	}
	if got := count(""); got != 5 {
		t.Fatalf("no tenant sees %d rows, want 5", got)
	}

	cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	pb := &olapgatev1.Query{}
	if err := protojson.Unmarshal([]byte(q), pb); err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-olapgate-tenant", "globex")
	resp, err := olapgatev1.NewQueryServiceClient(cc).Aggregate(ctx, &olapgatev1.AggregateRequest{Query: pb})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Columns[0].Int64Values[0]; got != 2 {
		t.Fatalf("globex over gRPC sees %d rows, want 2", got)
	}
}
