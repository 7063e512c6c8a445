package loadtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

// KneeOptions configure a knee search: constant-rate steps Start, Start+Step, … up to Max,
// each StepDuration long.
type KneeOptions struct {
	Start, Step, Max float64
	StepDuration     time.Duration
	// SLO is the latency objective a step must meet, e.g. p99<50ms.
	SLO threshold.Threshold
	// MinGoodput is the share of the offered rate that must come back successful
	// (default 0.95): a target that sheds load fast meets a latency SLO trivially.
	MinGoodput float64
	// Run carries the per-step options (MaxInFlight, Timeout, Grace, MaxCPU, …); its
	// Schedule and Workers are ignored.
	Run Options
	// OnStep, if set, sees each step as it finishes.
	OnStep func(KneeStep)
}

// KneeStep is one step of the search.
type KneeStep struct {
	OfferedRps  float64 `json:"offeredRps"`
	AchievedRps float64 `json:"achievedRps"`
	GoodputRps  float64 `json:"goodputRps"`
	ErrorRate   float64 `json:"errorRate"`
	Dropped     int64   `json:"dropped"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	// OKP99Ms is p99 over successful requests only (admitted latency).
	OKP99Ms float64 `json:"okP99Ms"`
	// SLOMs is the SLO metric's value (the same as P99Ms for a p99 objective).
	SLOMs float64 `json:"sloMs"`
	Pass  bool    `json:"pass"`
	// Valid is false when the generator could not keep its schedule; such a step cannot pass.
	Valid  bool    `json:"valid"`
	Reason string  `json:"reason,omitempty"`
	Result *Result `json:"-"`
}

// KneeResult is the outcome: the highest passing rate, and every step measured.
type KneeResult struct {
	SLO          string     `json:"slo"`
	MinGoodput   float64    `json:"minGoodput"`
	Found        bool       `json:"found"`
	KneeRps      float64    `json:"kneeRps"`
	StoppedEarly bool       `json:"stoppedEarly"`
	Interrupted  bool       `json:"interrupted,omitempty"`
	Steps        []KneeStep `json:"steps"`
}

// Validate checks the search parameters against lim.
func (k *KneeOptions) Validate(lim schedule.Limits) error {
	if k.MinGoodput == 0 {
		k.MinGoodput = 0.95
	}
	switch {
	case k.Start <= 0 || k.Step <= 0 || k.Max < k.Start:
		return fmt.Errorf("knee steps: want 0 < start ≤ max and step > 0 (start %v, step %v, max %v)", k.Start, k.Step, k.Max)
	case k.StepDuration <= 0:
		return errors.New("knee steps: step duration must be positive")
	case k.SLO.Kind != threshold.Latency:
		return fmt.Errorf("knee SLO %q must be a latency objective such as p99<50ms", k.SLO.Expr)
	case k.SLO.Op != threshold.LT && k.SLO.Op != threshold.LE:
		return fmt.Errorf("knee SLO %q must be an upper bound (< or <=)", k.SLO.Expr)
	case lim.MaxRate > 0 && k.Max > lim.MaxRate:
		return fmt.Errorf("knee max rate %v/s is over the limit of %v/s", k.Max, lim.MaxRate)
	}
	steps := int((k.Max-k.Start)/k.Step) + 1
	if total := time.Duration(steps) * k.StepDuration; lim.MaxDuration > 0 && total > lim.MaxDuration {
		return fmt.Errorf("knee search of %d steps × %s = %s is over the limit of %s", steps, k.StepDuration, total, lim.MaxDuration)
	}
	return nil
}

// FindKnee steps the offered rate up until two consecutive steps fail (p99 over the SLO, or
// goodput under MinGoodput of offered), and reports the highest rate that passed. Each step
// is a separate open-loop run, so one step's backlog is drained (or cut off after the grace
// period) before the next begins.
func FindKnee(ctx context.Context, target Target, k KneeOptions) (*KneeResult, error) {
	if err := k.Validate(schedule.Limits{}); err != nil {
		return nil, err
	}
	out := &KneeResult{SLO: k.SLO.String(), MinGoodput: k.MinGoodput, Steps: []KneeStep{}}
	fails := 0
	for i := 0; ; i++ {
		// Multiply rather than accumulate, so step 30 of 0.1 is not 2.9000000000000004.
		rate := k.Start + float64(i)*k.Step
		if rate > k.Max+1e-9 {
			break
		}
		opts := k.Run
		opts.Workers = 0
		opts.Schedule = schedule.Constant(rate, k.StepDuration)
		res, err := Run(ctx, target, opts)
		if err != nil {
			return nil, fmt.Errorf("knee step at %v/s: %w", rate, err)
		}
		st := KneeStep{
			OfferedRps: rate, AchievedRps: res.AchievedRps, GoodputRps: res.GoodputRps,
			ErrorRate: res.ErrorRate, Dropped: res.Dropped,
			P50Ms: res.LatencyMs.P50, P99Ms: res.LatencyMs.P99, OKP99Ms: res.OKLatencyMs.P99,
			Valid: res.Valid, Result: res,
		}
		slo := res.Check([]threshold.Threshold{k.SLO})[0]
		st.SLOMs = slo.Actual
		goodput, _ := res.Value("goodput")
		switch {
		case !res.Valid:
			st.Reason = "run invalid: " + res.InvalidReasons[0]
		case !slo.Pass:
			st.Reason = fmt.Sprintf("%s is %.3gms", k.SLO.Metric, slo.Actual)
		case goodput < k.MinGoodput:
			st.Reason = fmt.Sprintf("goodput %.1f%% of offered, under %.0f%%", goodput*100, k.MinGoodput*100)
		default:
			st.Pass = true
		}
		if res.Interrupted {
			// A cut-short step proves nothing either way.
			st.Pass, st.Reason = false, "interrupted"
			out.Steps = append(out.Steps, st)
			out.Interrupted = true
			break
		}
		out.Steps = append(out.Steps, st)
		if k.OnStep != nil {
			k.OnStep(st)
		}
		if st.Pass {
			fails = 0
			if rate > out.KneeRps {
				out.KneeRps, out.Found = rate, true
			}
			continue
		}
		if fails++; fails >= 2 {
			out.StoppedEarly = k.Start+float64(i+1)*k.Step <= k.Max+1e-9
			break
		}
	}
	return out, nil
}
