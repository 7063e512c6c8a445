// Package report renders load test results: a live progress line, a text summary, JSON (for
// CI and for comparing with k6, ghz and wrk) and a self-contained HTML page with SVG plots.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

// FormatVersion is bumped when the JSON document changes incompatibly.
const FormatVersion = 1

// Report is the whole output of one `olapgate loadtest` invocation: a run or a knee search,
// and the thresholds checked against it. Latencies are in milliseconds, rates in requests
// per second, ratios as fractions.
type Report struct {
	Tool    string   `json:"tool"`
	Format  int      `json:"format"`
	Command []string `json:"command,omitempty"`
	Target  string   `json:"target"`
	Op      string   `json:"op"`
	// Mix names the query mix's entries with their weights, for the record.
	Mix []string `json:"mix,omitempty"`

	Run  *loadtest.Result     `json:"run,omitempty"`
	Knee *loadtest.KneeResult `json:"knee,omitempty"`

	Thresholds []Threshold `json:"thresholds"`
	// Pass is false when a threshold broke or the run was invalid with thresholds given.
	Pass bool `json:"pass"`
	// Valid is false when the generator could not keep its schedule: too busy itself, or
	// starved of CPU by its neighbours (see run.invalidReasons).
	Valid bool `json:"valid"`
}

// Threshold is one checked threshold, with its bound and the measured value in the metric's
// canonical unit (ms, fraction, or rps).
type Threshold struct {
	Expr    string  `json:"expr"`
	Metric  string  `json:"metric"`
	Op      string  `json:"op"`
	Bound   float64 `json:"bound"`
	Actual  float64 `json:"actual"`
	Unit    string  `json:"unit"`
	Pass    bool    `json:"pass"`
	Missing bool    `json:"missing,omitempty"`
}

// Evaluate checks ts against the report's run, or in a knee search against the knee step
// (plus the knee metric itself), and sets Thresholds, Pass and Valid.
func (r *Report) Evaluate(ts []threshold.Threshold) {
	values := func(string) (float64, bool) { return 0, false }
	r.Valid = true
	switch {
	case r.Run != nil:
		values = r.Run.Value
		r.Valid = r.Run.Valid
	case r.Knee != nil:
		var at *loadtest.Result
		for _, s := range r.Knee.Steps {
			if s.Pass && s.OfferedRps == r.Knee.KneeRps {
				at = s.Result
			}
			if !s.Valid {
				r.Valid = false
			}
		}
		values = func(m string) (float64, bool) {
			if m == "knee_rps" {
				return r.Knee.KneeRps, r.Knee.Found
			}
			if at == nil {
				return 0, false
			}
			return at.Value(m)
		}
	}
	r.Thresholds = []Threshold{}
	r.Pass = true
	for _, c := range threshold.Check(ts, values) {
		r.Thresholds = append(r.Thresholds, Threshold{
			Expr: c.Threshold.String(), Metric: c.Metric, Op: string(c.Op), Bound: c.Value,
			Actual: c.Actual, Unit: unit(c.Kind), Pass: c.Pass, Missing: c.Missing,
		})
		r.Pass = r.Pass && c.Pass
	}
	if len(ts) > 0 && !r.Valid {
		r.Pass = false
	}
}

func unit(k threshold.Kind) string {
	switch k {
	case threshold.Latency:
		return "ms"
	case threshold.Ratio:
		return "ratio"
	}
	return "rps"
}

// ThresholdsBroken reports whether any threshold failed (as opposed to the run being invalid).
func (r *Report) ThresholdsBroken() bool {
	for _, t := range r.Thresholds {
		if !t.Pass {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // thresholds read "p99<50ms", not "p99\u003c50ms"
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode JSON report: %w", err)
	}
	return nil
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("target\t%s (%s)", r.Target, r.Op)
	if len(r.Mix) > 0 {
		p("mix\t%s", strings.Join(r.Mix, ", "))
	}
	if r.Run != nil {
		writeRun(p, r.Run)
	}
	if r.Knee != nil {
		writeKnee(tw, p, r.Knee)
	}
	if len(r.Thresholds) > 0 {
		p("thresholds\t")
		for _, t := range r.Thresholds {
			verdict := "PASS"
			if !t.Pass {
				verdict = "FAIL"
			}
			actual := formatActual(t)
			if t.Missing {
				actual = "not measured (not in this mode, or no knee found)"
			}
			p("  %s\t%s\t%s", verdict, t.Expr, actual)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Thresholds) > 0 && !r.Valid {
		_, err := fmt.Fprintln(w, "  FAIL  run invalid: the generator could not keep its schedule, so no threshold can be trusted")
		return err
	}
	return nil
}

func formatActual(t Threshold) string {
	switch t.Unit {
	case "ms":
		return fmt.Sprintf("%.3gms", t.Actual)
	case "ratio":
		return fmt.Sprintf("%.3g%%", t.Actual*100)
	}
	return fmt.Sprintf("%.1f/s", t.Actual)
}

func writeRun(p func(string, ...any), res *loadtest.Result) {
	if res.Mode == "closed" {
		p("mode\tclosed loop, %d workers for %.1fs (latency from actual send: queueing delay is hidden)", res.Workers, res.DurationS)
	} else {
		p("mode\topen loop %s, max in flight %d", res.Schedule, res.MaxInFlight)
	}
	if res.Interrupted {
		p("\tINTERRUPTED after %.1fs", res.DurationS)
	}
	p("requests\toffered %d  sent %d  ok %d  errors %d (%.2f%%)  dropped %d (in-flight limit %d, late %d)",
		res.Offered, res.Sent, res.OK, res.Errors, res.ErrorRate*100, res.Dropped, res.DroppedInFlight, res.DroppedLate)
	if res.OfferedRps > 0 {
		p("rate\toffered %.1f/s  achieved %.1f/s (%.1f%%)  goodput %.1f/s", res.OfferedRps, res.AchievedRps, res.AchievedRps/res.OfferedRps*100, res.GoodputRps)
	} else {
		p("rate\tachieved %.1f/s  goodput %.1f/s", res.AchievedRps, res.GoodputRps)
	}
	l := res.LatencyMs
	from := "from planned send"
	if res.Mode == "closed" {
		from = "from send"
	}
	p("latency\t%s: min %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms", from, f(l.Min), f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max))
	if res.Errors > 0 && res.OK > 0 {
		o := res.OKLatencyMs
		p("ok latency\tsuccessful only: p50 %s  p90 %s  p99 %s  max %s ms", f(o.P50), f(o.P90), f(o.P99), f(o.Max))
	}
	if res.Mode == "open" {
		p("service\tfrom actual send: p50 %s  p99 %s  max %s ms", f(res.ServiceMs.P50), f(res.ServiceMs.P99), f(res.ServiceMs.Max))
		p("lateness\tof sends: p50 %s  p99 %s  max %s ms", f(res.LatenessMs.P50), f(res.LatenessMs.P99), f(res.LatenessMs.Max))
	}
	var st []string
	for _, c := range res.StatusCodes() {
		st = append(st, fmt.Sprintf("%s: %d", c, res.Statuses[c]))
	}
	p("statuses\t%s", strings.Join(st, "  "))
	for _, c := range res.StatusCodes() {
		if msg, ok := res.ErrorSamples[c]; ok {
			p("  %s\te.g. %s", c, truncate(msg, 160))
		}
	}
	valid := "valid"
	if !res.Valid {
		valid = "INVALID: " + strings.Join(res.InvalidReasons, "; ")
	}
	p("generator\tcpu %.2f cores (%.1fs), GOMAXPROCS %d: %s", res.Generator.CPUCores, res.Generator.CPUSeconds, res.Generator.GOMAXPROCS, valid)
}

func writeKnee(tw io.Writer, p func(string, ...any), k *loadtest.KneeResult) {
	p("knee search\tSLO %s, goodput ≥ %.0f%% of offered", k.SLO, k.MinGoodput*100)
	p("  offered/s\tachieved/s\tgoodput/s\tp50 ms\tp99 ms\terrors\tresult")
	for _, s := range k.Steps {
		verdict := "pass"
		if !s.Pass {
			verdict = "FAIL " + s.Reason
		}
		p("  %.1f\t%.1f\t%.1f\t%s\t%s\t%.2f%%\t%s", s.OfferedRps, s.AchievedRps, s.GoodputRps, f(s.P50Ms), f(s.P99Ms), s.ErrorRate*100, verdict)
	}
	invalid := 0
	for _, s := range k.Steps {
		if !s.Valid {
			invalid++
		}
	}
	switch {
	case k.Found:
		p("knee\t%.1f requests/s", k.KneeRps)
	case invalid > 0:
		p("knee\tnot found: %d of %d steps were invalid (the generator could not keep its schedule)", invalid, len(k.Steps))
	default:
		p("knee\tnot found: no step met the SLO")
	}
	if k.StoppedEarly {
		p("\t(stopped after two consecutive failed steps)")
	}
	if k.Interrupted {
		p("\t(INTERRUPTED)")
	}
}

func f(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.2f", ms)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Progress formats a live progress line (no newline).
func Progress(s loadtest.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%5.1fs/%s]", s.Elapsed.Seconds(), s.Total.Round(time.Second))
	if s.OfferedRate > 0 {
		fmt.Fprintf(&b, " offered %.0f/s", s.OfferedRate)
	}
	fmt.Fprintf(&b, " sent %d ok %d err %d drop %d inflight %d | last 1s: %.0f/s p50 %s p99 %s",
		s.Sent, s.OK, s.Errors, s.Dropped, s.InFlight, s.LastRate, dur(s.LastP50), dur(s.LastP99))
	return b.String()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return f(float64(d)/float64(time.Millisecond)) + "ms"
}
