package loadtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/target"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

// TestKnee runs the search against a server of known capacity: 4 handler slots of 50ms each,
// 80 requests/s. Past that the queue grows without bound and latency with it, so the knee
// must come out at or below 80 and the search must stop two steps after it. The margins are
// wide because this machine is shared: one step spoiled by a neighbour must not fail it.
func TestKnee(t *testing.T) {
	const slotsN, service = 4, 50 * time.Millisecond
	slots := make(chan struct{}, slotsN)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		time.Sleep(service)
		<-slots
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tg, err := target.New(context.Background(), target.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tg.Close() }()
	slo, err := threshold.Parse("p99<250ms")
	if err != nil {
		t.Fatal(err)
	}
	var seen []float64
	res, err := loadtest.FindKnee(context.Background(), tg, loadtest.KneeOptions{
		Start: 20, Step: 20, Max: 400, StepDuration: 1500 * time.Millisecond, SLO: slo,
		Run:    loadtest.Options{Timeout: 5 * time.Second, Grace: 5 * time.Second, MaxCPU: -1, MaxLateness: -1},
		OnStep: func(s loadtest.KneeStep) { seen = append(seen, s.OfferedRps) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("offered %4.0f achieved %6.1f goodput %6.1f p50 %7.1fms p99 %7.1fms pass %v %s", s.OfferedRps, s.AchievedRps, s.GoodputRps, s.P50Ms, s.P99Ms, s.Pass, s.Reason)
	}
	capacity := float64(slotsN) / service.Seconds()
	if !res.Found || res.KneeRps < capacity/2 || res.KneeRps > capacity {
		t.Fatalf("knee %v (found %v), want %v..%v", res.KneeRps, res.Found, capacity/2, capacity)
	}
	last := res.Steps[len(res.Steps)-1]
	if !res.StoppedEarly || last.OfferedRps > capacity+40 || len(seen) != len(res.Steps) {
		t.Fatalf("stopped early %v at %v after %v", res.StoppedEarly, last.OfferedRps, seen)
	}
	if n := len(res.Steps); res.Steps[n-1].Pass || res.Steps[n-2].Pass {
		t.Fatal("the search must end on two failed steps")
	}
}

func TestKneeValidate(t *testing.T) {
	p99, _ := threshold.Parse("p99<50ms")
	errs, _ := threshold.Parse("errors<1%")
	lower, _ := threshold.Parse("p99>50ms")
	for _, k := range []loadtest.KneeOptions{
		{Start: 0, Step: 10, Max: 100, StepDuration: time.Second, SLO: p99},
		{Start: 10, Step: 0, Max: 100, StepDuration: time.Second, SLO: p99},
		{Start: 100, Step: 10, Max: 50, StepDuration: time.Second, SLO: p99},
		{Start: 10, Step: 10, Max: 100, SLO: p99},
		{Start: 10, Step: 10, Max: 100, StepDuration: time.Second, SLO: errs},
		{Start: 10, Step: 10, Max: 100, StepDuration: time.Second, SLO: lower},
		{Start: 10, Step: 10, Max: 200_000, StepDuration: time.Second, SLO: p99},
		{Start: 10, Step: 1, Max: 1000, StepDuration: time.Second, SLO: p99}, // 991 s
	} {
		if err := k.Validate(schedule.DefaultLimits); err == nil {
			t.Errorf("%+v: no error", k)
		}
	}
}
