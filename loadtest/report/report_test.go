package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sampleRun(t *testing.T) *loadtest.Result {
	t.Helper()
	tg := loadtest.TargetFunc(func(ctx context.Context, seq uint64) loadtest.Outcome {
		time.Sleep(time.Duration(seq%5) * time.Millisecond)
		if seq%10 == 0 {
			return loadtest.Outcome{Code: "Unavailable", Err: errors.New(`backend "x" <overloaded> & sad`)}
		}
		return loadtest.Outcome{Code: "OK", OK: true}
	})
	res, err := loadtest.Run(context.Background(), tg, loadtest.Options{Schedule: schedule.Constant(100, 1500*time.Millisecond), MaxCPU: -1, MaxLateness: -1})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustParse(t *testing.T, exprs ...string) []threshold.Threshold {
	t.Helper()
	ts, err := threshold.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// wellFormed parses the page as strict XML and rejects anything that would fetch from
// elsewhere or run code.
func wellFormed(t *testing.T, page []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	svgs := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("HTML is not well-formed: %v\n%s", err, page)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local == "script" || se.Name.Local == "link" || se.Name.Local == "img" {
				t.Fatalf("external or active element <%s>", se.Name.Local)
			}
			if se.Name.Local == "svg" {
				svgs++
			}
			for _, a := range se.Attr {
				if a.Name.Local == "src" || a.Name.Local == "href" {
					t.Fatalf("<%s %s=%q> loads from elsewhere", se.Name.Local, a.Name.Local, a.Value)
				}
			}
		}
	}
	if svgs != 2 {
		t.Fatalf("%d SVG plots, want 2", svgs)
	}
}

func TestRunReport(t *testing.T) {
	res := sampleRun(t)
	r := &Report{Tool: "olapgate loadtest", Format: FormatVersion, Target: "grpc://127.0.0.1:1", Op: "health", Run: res}
	r.Evaluate(mustParse(t, "p99<1s", "errors<1%", "rate>=90%", "p99.9<10s"))
	if r.Pass || !r.ThresholdsBroken() || !r.Thresholds[0].Pass || r.Thresholds[1].Pass || r.Thresholds[1].Actual != 0.1 {
		t.Fatalf("thresholds %+v", r.Thresholds)
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format int `json:"format"`
		Run    struct {
			Mode        string             `json:"mode"`
			Offered     int64              `json:"offered"`
			OfferedRps  float64            `json:"offeredRps"`
			AchievedRps float64            `json:"achievedRps"`
			LatencyMs   map[string]float64 `json:"latencyMs"`
			Statuses    map[string]int64   `json:"statuses"`
			Timeline    []map[string]float64
			Generator   map[string]any `json:"generator"`
		} `json:"run"`
		Thresholds []map[string]any `json:"thresholds"`
		Pass       *bool            `json:"pass"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, js.Bytes())
	}
	if doc.Format != 1 || doc.Run.Mode != "open" || doc.Run.Offered != 150 || doc.Run.OfferedRps != 100 ||
		doc.Run.LatencyMs["p99"] <= 0 || doc.Run.Statuses["Unavailable"] != 15 || len(doc.Run.Timeline) < 2 ||
		doc.Run.Generator["cpuCores"] == nil || len(doc.Thresholds) != 4 || doc.Pass == nil || *doc.Pass {
		t.Fatalf("JSON document: %s", js.Bytes())
	}

	var txt bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"open loop constant:100@1.5s", "p99<1000ms", "FAIL", "errors<1%", "Unavailable: 15", "e.g. backend"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, txt.String())
		}
	}

	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, page.Bytes())
	if !strings.Contains(page.String(), "&lt;overloaded&gt; &amp; sad") {
		t.Fatal("error sample not escaped in the page")
	}
}

func TestKneeReport(t *testing.T) {
	k := &loadtest.KneeResult{SLO: "p99<50ms", MinGoodput: 0.95, Found: true, KneeRps: 200, StoppedEarly: true}
	for i, p99 := range []float64{5, 8, 30, 200, 900} {
		rate := float64(100 * (i + 1))
		k.Steps = append(k.Steps, loadtest.KneeStep{OfferedRps: rate, AchievedRps: min(rate, 260), GoodputRps: min(rate, 250), P50Ms: p99 / 3, P99Ms: p99, Pass: p99 < 50, Valid: true})
	}
	r := &Report{Tool: "olapgate loadtest", Format: FormatVersion, Target: "http://127.0.0.1:8080/v1/query", Op: "aggregate", Knee: k}
	r.Evaluate(mustParse(t, "knee>=150", "knee>=500"))
	if r.Pass || !r.Thresholds[0].Pass || r.Thresholds[1].Pass {
		t.Fatalf("thresholds %+v", r.Thresholds)
	}
	var page, txt bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, page.Bytes())
	if !strings.Contains(page.String(), "knee 200/s") || !strings.Contains(page.String(), "SLO p99&lt;50ms") {
		t.Fatal("knee or SLO line missing from the plot")
	}
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "200.0 requests/s") || !strings.Contains(txt.String(), "knee_rps>=500") {
		t.Fatalf("summary:\n%s", txt.String())
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) || !strings.Contains(js.String(), `"kneeRps": 200`) {
		t.Fatalf("JSON %v: %s", err, js.Bytes())
	}
}

func TestProgress(t *testing.T) {
	s := Progress(loadtest.Snapshot{Elapsed: 3 * time.Second, Total: 30 * time.Second, OfferedRate: 500, Sent: 1500, OK: 1490, Errors: 10, LastRate: 499, LastP50: 1200 * time.Microsecond, LastP99: 8 * time.Millisecond})
	if !strings.Contains(s, "offered 500/s") || !strings.Contains(s, "p99 8.00ms") || strings.Contains(s, "\n") {
		t.Fatalf("progress %q", s)
	}
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0.7: 1, 1: 1, 1.5: 2, 3: 5, 7: 10, 120: 200, 0: 1} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}
