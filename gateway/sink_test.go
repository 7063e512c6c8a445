package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	olapgatev1 "github.com/olapgate/olapgate/gen/olapgate/v1"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

type fakeSink struct {
	mu   sync.Mutex
	rows int
	err  error
}

func (s *fakeSink) Write(_ context.Context, b *store.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.rows += b.N
	return nil
}

// A dataset with a stream sink is written through it, not its store, and its answers say ack
// "stream"; a sink failure is UNAVAILABLE (retryable); other datasets keep "committed".
func TestStreamSinkIngest(t *testing.T) {
	clicks := &dataset.Dataset{Name: "clicks", TimeColumn: "time", Backend: dataset.BackendPinot,
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}}}
	if err := clicks.Validate(); err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	g := New(Config{}, st, []*dataset.Dataset{dataset.Sample(), clicks}, nil)
	sink := &fakeSink{}
	g.SetStreamSink("Clicks", sink)
	h, err := g.Handler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	post := func(ds, body string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/datasets/"+ds+"/events", bytes.NewBufferString(body)))
		return rec.Code, rec.Body.String()
	}
	code, out := post("clicks", `[{"time":"2026-11-22T10:00:00Z","page":"/a"},{"time":"2026-11-22T10:00:01Z","page":"/b"}]`)
	if code != 200 || !strings.Contains(out, `"accepted":2`) || !strings.Contains(out, `"ack":"stream"`) {
		t.Errorf("push to the sink's dataset: %d %s", code, out)
	}
	if sink.rows != 2 || st.rows != 0 {
		t.Errorf("sink rows %d, store rows %d", sink.rows, st.rows)
	}
	code, out = post("pageviews", `[{"time":"2026-11-22T10:00:00Z","page":"/"}]`)
	if code != 200 || !strings.Contains(out, `"ack":"committed"`) || st.rows != 1 {
		t.Errorf("push to the store's dataset: %d %s", code, out)
	}

	resp, err := g.Ingest(context.Background(), &olapgatev1.IngestRequest{Dataset: "clicks", JsonLines: []byte(`{"time":0,"page":"/g"}`)})
	if err != nil || resp.GetAck() != AckStream || sink.rows != 3 {
		t.Errorf("grpc ingest: %v %v (sink rows %d)", resp, err, sink.rows)
	}

	sink.err = errors.New("kafka: all brokers down")
	code, out = post("clicks", `[{"time":"2026-11-22T10:00:00Z","page":"/c"}]`)
	if code != http.StatusServiceUnavailable || !strings.Contains(out, "produce to its stream: kafka: all brokers down") {
		t.Errorf("sink failure: %d %s", code, out)
	}
	_, err = g.Ingest(context.Background(), &olapgatev1.IngestRequest{Dataset: "clicks", JsonLines: []byte(`{"time":0}`)})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("grpc sink failure: %v", err)
	}
}
