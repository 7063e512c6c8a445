// Package threshold parses and checks pass/fail criteria such as "p99<50ms", "errors<1%" and
// "rate>=95%", the CI contract of a load test.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is what a metric measures, which fixes the unit its bound is written in.
type Kind int

const (
	// Latency metrics (p50, p99, p99.9, min, mean, max) take a duration bound: "50ms", "1.5s".
	Latency Kind = iota
	// Ratio metrics (errors, rate, goodput, dropped) take a percentage ("1%") or a fraction (0.01).
	Ratio
	// Throughput metrics (rps, goodput_rps) take a plain number of requests per second.
	Throughput
)

// Op is a comparison.
type Op string

// Comparisons, longest first so "<=" is not read as "<".
const (
	LE Op = "<="
	GE Op = ">="
	EQ Op = "=="
	LT Op = "<"
	GT Op = ">"
)

var ops = []Op{LE, GE, EQ, LT, GT}

// Threshold is one parsed criterion. Value is in the metric's canonical unit: milliseconds for
// latency, a fraction for ratios, requests per second for throughput.
type Threshold struct {
	Expr   string
	Metric string
	Kind   Kind
	Op     Op
	Value  float64
}

var ratios = map[string]string{
	"errors": "errors", "error_rate": "errors", "error": "errors",
	"rate": "rate", "goodput": "goodput", "dropped": "dropped",
}

var throughputs = map[string]string{"rps": "rps", "goodput_rps": "goodput_rps", "knee": "knee_rps", "knee_rps": "knee_rps"}

// OKPrefix marks a latency metric over successful requests only ("ok_p99<50ms"): the latency of
// admitted requests, which fast rejections do not dilute.
const OKPrefix = "ok_"

var latencies = map[string]string{"min": "min", "mean": "mean", "max": "max", "median": "p50", "p999": "p99.9"}

// Parse reads "METRIC OP VALUE" (spaces optional), e.g. "p99<50ms", "p99.9 <= 200ms",
// "errors<1%", "rate>=95%", "rps>1000". Metrics:
//
//	pN (any percentile 0<N≤100), min, mean, max    latency, bound a duration
//	ok_pN, ok_min, ok_mean, ok_max                 the same over successful requests only
//	errors     failed / completed                 ratio
//	rate       achieved / offered throughput      ratio
//	goodput    successful / offered throughput    ratio
//	dropped    unsent / offered                   ratio
//	rps, goodput_rps                              requests per second
//	knee (knee search only)                       the knee's rate, requests per second
func Parse(expr string) (Threshold, error) {
	e := strings.TrimSpace(expr)
	i := strings.IndexAny(e, "<>=")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("threshold %q: want METRIC<VALUE (operators < <= > >= ==)", expr)
	}
	name := strings.ToLower(strings.TrimSpace(e[:i]))
	rest := e[i:]
	var op Op
	for _, o := range ops {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		if strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==") {
			op = EQ
			rest = "=" + rest // a single '=' means equality too
		} else {
			return Threshold{}, fmt.Errorf("threshold %q: unknown operator (< <= > >= ==)", expr)
		}
	}
	val := strings.TrimSpace(rest[len(op):])
	if val == "" {
		return Threshold{}, fmt.Errorf("threshold %q: no value after %s", expr, op)
	}
	t := Threshold{Expr: e, Op: op}
	var err error
	switch {
	case ratios[name] != "":
		t.Metric, t.Kind = ratios[name], Ratio
		t.Value, err = parseRatio(val)
	case throughputs[name] != "":
		t.Metric, t.Kind = throughputs[name], Throughput
		t.Value, err = parseNumber(val)
	case strings.HasPrefix(name, OKPrefix):
		t.Metric, err = latencyName(strings.TrimPrefix(name, OKPrefix))
		if err != nil {
			return Threshold{}, fmt.Errorf("threshold %q: %w", expr, err)
		}
		t.Metric, t.Kind = OKPrefix+t.Metric, Latency
		t.Value, err = parseLatency(val)
	default:
		t.Metric, err = latencyName(name)
		if err != nil {
			return Threshold{}, fmt.Errorf("threshold %q: %w", expr, err)
		}
		t.Kind = Latency
		t.Value, err = parseLatency(val)
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: %w", expr, err)
	}
	return t, nil
}

// latencyName canonicalises a latency metric: "p99", "P99.90" → "p99.9"; "median" → "p50".
func latencyName(name string) (string, error) {
	if n, ok := latencies[name]; ok {
		return n, nil
	}
	if strings.HasPrefix(name, "p") && len(name) > 1 {
		q, err := strconv.ParseFloat(name[1:], 64)
		if err == nil && q > 0 && q <= 100 && !strings.ContainsAny(name[1:], "eEpPxX_+-") {
			return PercentileName(q), nil
		}
	}
	return "", fmt.Errorf("unknown metric %q (pN, min, mean, max, errors, rate, goodput, dropped, rps, goodput_rps)", name)
}

// PercentileName is the canonical metric name of percentile q (0<q≤100): 99 → "p99".
func PercentileName(q float64) string { return "p" + strconv.FormatFloat(q, 'f', -1, 64) }

// Percentile returns q for a canonical percentile metric name ("p99.9" → 99.9).
func Percentile(metric string) (float64, bool) {
	if !strings.HasPrefix(metric, "p") {
		return 0, false
	}
	q, err := strconv.ParseFloat(metric[1:], 64)
	return q, err == nil && q > 0 && q <= 100
}

func parseLatency(v string) (float64, error) {
	v = strings.ReplaceAll(v, "µs", "us")
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return 0, fmt.Errorf("latency bound %q needs a unit (ns, us, ms, s)", v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("latency bound: %w", err)
	}
	if d < 0 {
		return 0, fmt.Errorf("latency bound %s is negative", d)
	}
	return float64(d) / float64(time.Millisecond), nil
}

func parseRatio(v string) (float64, error) {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := parseNumber(strings.TrimSpace(p))
		if err != nil {
			return 0, err
		}
		return f / 100, nil
	}
	f, err := parseNumber(v)
	if err != nil {
		return 0, err
	}
	if f > 1 {
		return 0, fmt.Errorf("ratio %v is over 1: write a percentage as %v%%", f, f)
	}
	return f, nil
}

func parseNumber(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", v, err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("value %q must be a finite non-negative number", v)
	}
	return f, nil
}

// String is the threshold in canonical form, e.g. "p99<50ms", "errors<1%".
func (t Threshold) String() string { return t.Metric + string(t.Op) + FormatValue(t.Kind, t.Value) }

// FormatValue renders v (in kind's canonical unit) as a bound is written.
func FormatValue(k Kind, v float64) string {
	switch k {
	case Latency:
		return strconv.FormatFloat(v, 'f', -1, 64) + "ms"
	case Ratio:
		return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

// Holds reports whether actual satisfies the threshold.
func (t Threshold) Holds(actual float64) bool {
	if math.IsNaN(actual) {
		return false
	}
	switch t.Op {
	case LT:
		return actual < t.Value
	case LE:
		return actual <= t.Value
	case GT:
		return actual > t.Value
	case GE:
		return actual >= t.Value
	case EQ:
		return actual == t.Value
	}
	return false
}

// Result is one threshold checked against a run.
type Result struct {
	Threshold
	Actual float64
	Pass   bool
	// Missing is set when the run had no value for the metric (e.g. rate in closed-loop mode);
	// a missing metric fails, so a typo cannot pass CI.
	Missing bool
}

// Values looks a metric up by canonical name, in its canonical unit.
type Values func(metric string) (float64, bool)

// Check evaluates every threshold against values.
func Check(ts []Threshold, values Values) []Result {
	out := make([]Result, 0, len(ts))
	for _, t := range ts {
		v, ok := values(t.Metric)
		r := Result{Threshold: t, Actual: v, Missing: !ok}
		r.Pass = ok && t.Holds(v)
		out = append(out, r)
	}
	return out
}

// AllPass reports whether every result passed.
func AllPass(rs []Result) bool {
	for _, r := range rs {
		if !r.Pass {
			return false
		}
	}
	return true
}

// ParseAll parses every expression, joining the errors.
func ParseAll(exprs []string) ([]Threshold, error) {
	var ts []Threshold
	var errs []error
	for _, e := range exprs {
		t, err := Parse(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts = append(ts, t)
	}
	return ts, errors.Join(errs...)
}
