package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/olapgate/olapgate/loadtest"
	"github.com/olapgate/olapgate/loadtest/report"
	"github.com/olapgate/olapgate/loadtest/schedule"
	"github.com/olapgate/olapgate/loadtest/target"
	"github.com/olapgate/olapgate/loadtest/threshold"
)

const loadtestUsage = `Usage: olapgate loadtest --target URL [flags]

Drives load at a target and reports latency and throughput. Open loop by default: send times
are planned in advance and latency is measured from the planned time, so a stalling target
cannot hide its queueing (no coordinated omission). --workers N runs closed loop instead.

  olapgate loadtest --target grpc://127.0.0.1:9090 --mix mix.yaml --rate 500 --duration 30s \
      --threshold 'p99<50ms' --threshold 'errors<1%' --json out.json --html out.html
  olapgate loadtest --target http://127.0.0.1:8080 --mix mix.yaml --schedule 'ramp:100..2000@60s'
  olapgate loadtest --target grpc://127.0.0.1:9090 --ingest pageviews --batch 500 --rate 50 --duration 20s
  olapgate loadtest --target grpc://127.0.0.1:9090 --rate 2000 --duration 10s     # Health/Check baseline
  olapgate loadtest --target http://127.0.0.1:8080 --mix mix.yaml \
      --knee --slo 'p99<50ms' --start 100 --step 100 --max 5000 --step-duration 5s

Targets: grpc://HOST:PORT (QueryService.Aggregate with --mix, IngestService.Ingest with --ingest,
grpc.health.v1 Health/Check otherwise) or http://HOST:PORT[/path] (POST /v1/query with --mix,
POST /v1/datasets/D/events with --ingest, POST --body FILE, GET otherwise). Loopback only
unless --allow-remote.

Schedules (--schedule): constant:500@30s  step:100@5s,200@5s,400@5s  ramp:100..1000@30s,
chained with '+'. Default: constant --rate for --duration. Bounded to 10 minutes and
100,000 requests/s unless --no-limits.

Thresholds (--threshold, repeatable): p50 p90 p99 p99.9 min mean max (durations: p99<50ms),
errors, rate (achieved/offered), goodput (ok/offered), dropped (percentages: errors<1%,
rate>=95%), rps, goodput_rps, knee (requests/s). Exit status 2 when one is broken, 3 when
thresholds were given but the run is invalid: the generator used --max-cpu or more, its send
lateness p99 exceeded --max-lateness, or it could not send planned requests before the end.
On a shared machine, pin generator and server apart (taskset -c 0 olapgate loadtest ...,
GOMAXPROCS=1) or the neighbours' CPU use will show as lateness.

Flags:
`

// ExitError is an error that asks for a particular exit status (the loadtest command uses
// 2 for broken thresholds, so CI can tell a slow target from a broken invocation).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit status for err: ExitError's code, else 1.
func ExitCode(err error) int {
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return 1
}

// Loadtest is `olapgate loadtest`.
func Loadtest(args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(Stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), loadtestUsage); fs.PrintDefaults() }
	targetURL := fs.String("target", "", "grpc://HOST:PORT or http://HOST:PORT[/path] (required)")
	op := fs.String("op", "", "aggregate, ingest, health, get or post (default: from --mix/--ingest/--body)")
	mixFile := fs.String("mix", "", "query mix file (YAML or JSON) for aggregate load")
	ingestDS := fs.String("ingest", "", "ingest load into DATASET: NDJSON batches of generated pageviews events")
	batch := fs.Int("batch", 500, "events per ingest request")
	seed := fs.Uint64("seed", 1, "seed for generated ingest events")
	bodyFile := fs.String("body", "", "HTTP POST body FILE (with --op post)")
	ctype := fs.String("content-type", "application/json", "Content-Type of --body")
	tenant := fs.String("tenant", "", "tenant for requests whose mix entry names none (X-Olapgate-Tenant)")
	rate := fs.Float64("rate", 100, "open loop: requests per second (constant schedule)")
	duration := fs.Duration("duration", 10*time.Second, "run length (constant schedule or closed loop)")
	sched := fs.String("schedule", "", "open-loop schedule spec, instead of --rate/--duration")
	workers := fs.Int("workers", 0, "closed loop with N workers (each waits for its answer before sending again)")
	maxInFlight := fs.Int("max-inflight", 1000, "open loop: concurrent requests; planned requests beyond are dropped and counted")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	grace := fs.Duration("grace", 0, "time for in-flight requests to finish after the schedule (default --timeout)")
	conns := fs.Int("connections", 0, "gRPC: connections to spread requests over (default 1); HTTP: connection cap (default none, one per concurrent request)")
	var thresholds multiFlag
	fs.Var(&thresholds, "threshold", "pass/fail criterion (repeatable), e.g. 'p99<50ms', 'errors<1%', 'rate>=95%'")
	knee := fs.Bool("knee", false, "find the knee: step the rate up until p99 breaks --slo or goodput falls under 95% of offered")
	slo := fs.String("slo", "p99<50ms", "knee: latency objective")
	kStart := fs.Float64("start", 100, "knee: first rate")
	kStep := fs.Float64("step", 100, "knee: rate increment")
	kMax := fs.Float64("max", 5000, "knee: highest rate")
	kDur := fs.Duration("step-duration", 5*time.Second, "knee: length of each step")
	minGoodput := fs.Float64("min-goodput", 0.95, "knee: share of offered that must succeed")
	jsonOut := fs.String("json", "", "write the JSON report to FILE (- for stdout)")
	htmlOut := fs.String("html", "", "write the HTML report (inline SVG plots) to FILE")
	warmup := fs.Duration("warmup", 0, "send at --rate (knee: --start) for this long first and discard the results (caches, JIT, connection pools)")
	quiet := fs.Bool("quiet", false, "no progress line")
	allowRemote := fs.Bool("allow-remote", false, "allow non-loopback targets")
	noLimits := fs.Bool("no-limits", false, "lift the 10-minute, 100k requests/s, 10k workers bounds")
	maxCPU := fs.Float64("max-cpu", 0.9, "mark the run invalid when the generator uses this many cores or more (0: off)")
	maxLate := fs.Duration("max-lateness", 5*time.Millisecond, "mark the run invalid when send lateness p99 exceeds this (0: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *targetURL == "" {
		fs.Usage()
		return errors.New("--target is required")
	}

	lim := schedule.DefaultLimits
	maxWorkers, maxConc := 10_000, 100_000
	if *noLimits {
		lim, maxWorkers, maxConc = schedule.Limits{}, 0, 0
	}
	ths, err := threshold.ParseAll(thresholds)
	if err != nil {
		return err
	}
	opts := loadtest.Options{
		MaxInFlight: *maxInFlight, Timeout: *timeout, Grace: *grace, MaxCPU: *maxCPU, MaxLateness: *maxLate,
	}
	// On the command line 0 turns a check off; in Options 0 means the default.
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = -1
	}
	if opts.MaxLateness <= 0 {
		opts.MaxLateness = -1
	}
	if maxConc > 0 && *maxInFlight > maxConc {
		return fmt.Errorf("--max-inflight %d is over the limit of %d (--no-limits lifts it)", *maxInFlight, maxConc)
	}
	if !*noLimits && *conns > 1000 {
		return fmt.Errorf("--connections %d is over the limit of 1000 (--no-limits lifts it)", *conns)
	}
	var kneeOpts loadtest.KneeOptions
	switch {
	case *knee:
		if *workers > 0 || *sched != "" {
			return errors.New("--knee plans its own steps: drop --workers and --schedule")
		}
		s, err := threshold.Parse(*slo)
		if err != nil {
			return fmt.Errorf("--slo: %w", err)
		}
		kneeOpts = loadtest.KneeOptions{Start: *kStart, Step: *kStep, Max: *kMax, StepDuration: *kDur, SLO: s, MinGoodput: *minGoodput}
		if err := kneeOpts.Validate(lim); err != nil {
			return err
		}
	case *workers > 0:
		if maxWorkers > 0 && *workers > maxWorkers {
			return fmt.Errorf("--workers %d is over the limit of %d (--no-limits lifts it)", *workers, maxWorkers)
		}
		if lim.MaxDuration > 0 && *duration > lim.MaxDuration {
			return fmt.Errorf("--duration %s is over the limit of %s (--no-limits lifts it)", *duration, lim.MaxDuration)
		}
		opts.Workers, opts.Duration = *workers, *duration
	default:
		spec := *sched
		if spec == "" {
			spec = fmt.Sprintf("constant:%g@%s", *rate, *duration)
		}
		s, err := schedule.Parse(spec, lim)
		if err != nil {
			if *noLimits || !strings.Contains(err.Error(), "over the limit") {
				return err
			}
			return fmt.Errorf("%w (--no-limits lifts it)", err)
		}
		opts.Schedule = s
	}

	cfg := target.Config{
		URL: *targetURL, Op: *op, Tenant: *tenant, Connections: *conns, AllowRemote: *allowRemote,
		ContentType: *ctype,
	}
	if *mixFile != "" {
		if cfg.Mix, err = target.LoadMix(*mixFile); err != nil {
			return err
		}
	}
	if *ingestDS != "" {
		if *batch < 1 || *batch > 10_000 {
			return fmt.Errorf("--batch %d: want 1..10000 (the server's default event limit)", *batch)
		}
		// Enough distinct batches that consecutive requests differ; ids are made unique per
		// request anyway.
		cfg.Payloads = target.NewPayloads(*ingestDS, *batch, 8, *seed)
	}
	if *bodyFile != "" {
		if cfg.Body, err = os.ReadFile(*bodyFile); err != nil {
			return fmt.Errorf("read --body: %w", err)
		}
	}

	// The first interrupt stops sending and lets in-flight requests finish (up to --grace)
	// for a partial report; restoring the default handler then lets a second one kill.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	tg, err := target.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("set up target: %w", err)
	}
	defer func() { _ = tg.Close() }()

	rep := &report.Report{
		Tool: "olapgate loadtest", Format: report.FormatVersion, Target: *targetURL,
		Command: append([]string{"olapgate", "loadtest"}, args...), Op: opName(cfg),
	}
	if cfg.Mix != nil {
		for _, e := range cfg.Mix.Entries {
			rep.Mix = append(rep.Mix, fmt.Sprintf("%s×%d", e.Name, e.Weight))
		}
	}
	prog := newProgressLine(Stderr, *quiet)
	if *warmup > 0 {
		wrate := *rate
		if *knee {
			wrate = *kStart
		}
		w := opts
		w.Workers, w.Schedule = 0, schedule.Constant(wrate, *warmup)
		if err := w.Schedule.Validate(lim); err != nil {
			return fmt.Errorf("--warmup: %w", err)
		}
		prog.line(fmt.Sprintf("warming up at %g/s for %s", wrate, *warmup))
		if _, err := loadtest.Run(ctx, tg, w); err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	opts.Progress = prog.update
	if *knee {
		kneeOpts.Run = opts
		kneeOpts.OnStep = func(s loadtest.KneeStep) {
			verdict := "pass"
			if !s.Pass {
				verdict = "FAIL: " + s.Reason
			}
			prog.line(fmt.Sprintf("step %.0f/s: achieved %.1f/s goodput %.1f/s p50 %.2fms p99 %.2fms errors %.2f%%: %s",
				s.OfferedRps, s.AchievedRps, s.GoodputRps, s.P50Ms, s.P99Ms, s.ErrorRate*100, verdict))
		}
		rep.Knee, err = loadtest.FindKnee(ctx, tg, kneeOpts)
	} else {
		rep.Run, err = loadtest.Run(ctx, tg, opts)
	}
	prog.finish()
	if err != nil {
		return err
	}
	rep.Evaluate(ths)
	return writeReports(rep, *jsonOut, *htmlOut)
}

func opName(cfg target.Config) string {
	switch {
	case cfg.Op != "":
		return cfg.Op
	case cfg.Mix != nil:
		return target.OpAggregate
	case cfg.Payloads != nil:
		return target.OpIngest
	case strings.HasPrefix(cfg.URL, "grpc:"):
		return target.OpHealth
	case cfg.Body != nil:
		return target.OpPost
	}
	return target.OpGet
}

func writeReports(rep *report.Report, jsonOut, htmlOut string) error {
	summary := Stdout
	if jsonOut == "-" {
		// stdout carries the JSON, so the summary moves to stderr.
		summary = Stderr
		if err := rep.WriteJSON(Stdout); err != nil {
			return err
		}
	} else if jsonOut != "" {
		if err := writeFile(jsonOut, rep.WriteJSON); err != nil {
			return err
		}
	}
	if htmlOut != "" {
		if err := writeFile(htmlOut, rep.WriteHTML); err != nil {
			return err
		}
	}
	if err := rep.WriteText(summary); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if rep.ThresholdsBroken() {
		var broken []string
		for _, t := range rep.Thresholds {
			if !t.Pass {
				broken = append(broken, t.Expr)
			}
		}
		return &ExitError{Code: 2, Err: fmt.Errorf("thresholds broken: %s", strings.Join(broken, ", "))}
	}
	if len(rep.Thresholds) > 0 && !rep.Valid {
		return &ExitError{Code: 3, Err: errors.New("run invalid (the load generator could not keep its schedule): thresholds cannot be trusted")}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	return write(f)
}

// progressLine prints the once-a-second status: overwritten in place on a terminal, one line
// per second otherwise (a CI log keeps the history).
type progressLine struct {
	w     io.Writer
	tty   bool
	quiet bool
	dirty bool
}

func newProgressLine(w io.Writer, quiet bool) *progressLine {
	p := &progressLine{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressLine) update(s loadtest.Snapshot) {
	if p.quiet {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", report.Progress(s))
		p.dirty = true
		return
	}
	fmt.Fprintln(p.w, report.Progress(s))
}

// line prints a permanent line (a knee step's verdict) above the progress line.
func (p *progressLine) line(s string) {
	if p.quiet {
		return
	}
	if p.tty && p.dirty {
		fmt.Fprint(p.w, "\r\033[K")
		p.dirty = false
	}
	fmt.Fprintln(p.w, s)
}

func (p *progressLine) finish() {
	if p.tty && p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}
