package synthetic

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/olapgate/olapgate/store"
)

func TestShapeOverloadAndClose(t *testing.T) {
	s, err := Open(Config{Slots: 1, ServiceTimeMs: 50, OverloadAbove: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := store.Statement{Output: []store.ResultColumn{{Name: "__time", Type: store.TypeTimestamp}, {Name: "n", Type: store.TypeInt64}, {Name: "s", Type: store.TypeString}}}
	ctx := context.Background()
	// Two queries fill the engine up to its overload bound; a third is refused as overload.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Query(ctx, st)
			if err != nil || len(r.Rows) != 1 || r.Rows[0][1] != int64(1) || r.Rows[0][2] != "synthetic" {
				t.Errorf("answer %v %v", r, err)
			}
		}()
	}
	for s.Running() < 2 {
		time.Sleep(time.Millisecond)
	}
	_, err = s.Query(ctx, st)
	if !store.IsOverload(err) || status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third query: %v", err)
	}
	wg.Wait()
	if s.Queries() != 2 {
		t.Errorf("queries %d", s.Queries())
	}
	// A cancelled query leaves at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Query(cctx, st); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, st); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if _, err := s.Write(ctx, &store.Batch{}); !errors.Is(err, store.ErrNotWritable) {
		t.Errorf("write: %v", err)
	}
}
