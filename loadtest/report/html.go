package report

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes a self-contained page: the summary and inline SVG plots (no scripts, no
// external resources, so it opens from a CI artifact store or an air-gapped machine).
func (r *Report) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		return err
	}
	data := struct {
		R       *Report
		Summary string
		Charts  []template.HTML
		Title   string
	}{R: r, Summary: text.String(), Title: "olapgate loadtest: " + r.Target}
	if r.Run != nil {
		data.Charts = runCharts(r)
	}
	if r.Knee != nil {
		data.Charts = kneeCharts(r)
	}
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	return nil
}

// The page is also well-formed XML (every element closed, no bare '&' or '<'), which keeps it
// checkable by any XML parser.
var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.pass { color: #1a7f37; font-weight: bold; }
.fail { color: #cf222e; font-weight: bold; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #ddd; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .R.Thresholds}}<p>Thresholds: {{if .R.Pass}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}{{if not .R.Valid}} <span class="fail">(run invalid: the generator could not keep its schedule)</span>{{end}}</p>
<table>
<tr><th>threshold</th><th>measured</th><th>result</th></tr>
{{range .R.Thresholds}}<tr><td>{{.Expr}}</td><td>{{if .Missing}}not measured{{else}}{{printf "%.4g" .Actual}} {{.Unit}}{{end}}</td><td>{{if .Pass}}<span class="pass">pass</span>{{else}}<span class="fail">fail</span>{{end}}</td></tr>
{{end}}</table>
{{else if not .R.Valid}}<p class="fail">Run invalid: the generator could not keep its schedule; see the summary.</p>{{end}}
<div class="charts">
{{range .Charts}}{{.}}
{{end}}</div>
<h2>Summary</h2>
<pre>{{.Summary}}</pre>
</body>
</html>
`))

func runCharts(r *Report) []template.HTML {
	res := r.Run
	var p50, p99, offered, achieved, errs []pt
	for _, s := range res.Timeline {
		x := float64(s.T) + 0.5 // the middle of the second
		if s.OK+s.Errors > 0 {
			p50 = append(p50, pt{x, s.P50Ms})
			p99 = append(p99, pt{x, s.P99Ms})
		}
		if res.Mode == "open" {
			offered = append(offered, pt{x, float64(s.Offered)})
		}
		achieved = append(achieved, pt{x, float64(s.OK + s.Errors)})
		errs = append(errs, pt{x, float64(s.Errors)})
	}
	lat := chart{
		Title: "Latency per second (completion time)", XLabel: "time (s)", YLabel: "ms",
		Series: []series{{Name: "p99", Color: "#cf222e", Pts: p99}, {Name: "p50", Color: "#0969da", Pts: p50}},
	}
	thr := chart{
		Title: "Throughput per second", XLabel: "time (s)", YLabel: "requests/s",
		Series: []series{
			{Name: "offered", Color: "#888888", Dash: true, Pts: offered},
			{Name: "completed", Color: "#1a7f37", Pts: achieved},
			{Name: "errors", Color: "#cf222e", Pts: errs},
		},
	}
	for _, t := range r.Thresholds {
		if t.Unit == "ms" {
			lat.HLines = append(lat.HLines, mark{V: t.Bound, Label: t.Expr})
		}
	}
	return []template.HTML{lat.svg(), thr.svg()}
}

func kneeCharts(r *Report) []template.HTML {
	k := r.Knee
	var p50, p99, achieved, goodput, ideal []pt
	for _, s := range k.Steps {
		p50 = append(p50, pt{s.OfferedRps, s.P50Ms})
		p99 = append(p99, pt{s.OfferedRps, s.P99Ms})
		achieved = append(achieved, pt{s.OfferedRps, s.AchievedRps})
		goodput = append(goodput, pt{s.OfferedRps, s.GoodputRps})
		ideal = append(ideal, pt{s.OfferedRps, s.OfferedRps})
	}
	lat := chart{
		Title: "Latency against offered load", XLabel: "offered requests/s", YLabel: "ms",
		Series: []series{{Name: "p99", Color: "#cf222e", Pts: p99, Dots: true}, {Name: "p50", Color: "#0969da", Pts: p50, Dots: true}},
	}
	thr := chart{
		Title: "Throughput against offered load", XLabel: "offered requests/s", YLabel: "requests/s",
		Series: []series{
			{Name: "offered", Color: "#888888", Dash: true, Pts: ideal},
			// Goodput first and dashed: without errors it equals achieved, which is drawn over it.
			{Name: "goodput", Color: "#8250df", Pts: goodput, Dots: true, Dash: true},
			{Name: "achieved", Color: "#1a7f37", Pts: achieved, Dots: true},
		},
	}
	if slo, ok := sloBound(k.SLO); ok {
		lat.HLines = append(lat.HLines, mark{V: slo, Label: "SLO " + k.SLO})
	}
	if k.Found {
		knee := mark{V: k.KneeRps, Label: fmt.Sprintf("knee %.0f/s", k.KneeRps)}
		lat.VLines = append(lat.VLines, knee)
		thr.VLines = append(thr.VLines, knee)
	}
	return []template.HTML{lat.svg(), thr.svg()}
}

// sloBound reads the millisecond bound back out of a canonical SLO such as "p99<50ms".
func sloBound(slo string) (float64, bool) {
	i := strings.IndexAny(slo, "<=")
	if i < 0 {
		return 0, false
	}
	var v float64
	_, err := fmt.Sscanf(strings.TrimLeft(slo[i:], "<="), "%gms", &v)
	return v, err == nil
}

type pt struct{ X, Y float64 }

type series struct {
	Name, Color string
	Dash, Dots  bool
	Pts         []pt
}

type mark struct {
	V     float64
	Label string
}

type chart struct {
	Title, XLabel, YLabel string
	Series                []series
	HLines, VLines        []mark
}

const (
	cw, ch                 = 620, 320
	left, right, top, bott = 60, 110, 30, 45
)

func (c chart) svg() template.HTML {
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range c.Series {
		for _, p := range s.Pts {
			xmin, xmax, ymax = math.Min(xmin, p.X), math.Max(xmax, p.X), math.Max(ymax, p.Y)
		}
	}
	for _, h := range c.HLines {
		ymax = math.Max(ymax, h.V)
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax = 0, 1
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if ymax <= 0 {
		ymax = 1
	}
	xstep, ystep := niceStep((xmax-xmin)/6), niceStep(ymax/5)
	xmin = math.Floor(xmin/xstep) * xstep
	xmax = math.Ceil(xmax/xstep) * xstep
	ymax = math.Ceil(ymax*1.05/ystep) * ystep
	pw, ph := float64(cw-left-right), float64(ch-top-bott)
	X := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*pw }
	Y := func(y float64) float64 { return top + ph - y/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, cw, ch, cw, ch)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, left, esc(c.Title))
	for y := 0.0; y <= ymax+ystep/2; y += ystep {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, left, Y(y), left+pw, Y(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-5, Y(y)+4, num(y))
	}
	for x := xmin; x <= xmax+xstep/2; x += xstep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, X(x), top, X(x), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, X(x), top+ph+15, num(x))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, left+pw/2, ch-8, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, top+ph/2, esc(c.YLabel))
	for _, h := range c.HLines {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#bf8700" stroke-dasharray="6 3"/>`, left, Y(h.V), left+pw, Y(h.V))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#bf8700">%s</text>`, left+pw+4, Y(h.V)+4, esc(h.Label))
	}
	for _, v := range c.VLines {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#bf8700" stroke-dasharray="6 3"/>`, X(v.V), top, X(v.V), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#bf8700">%s</text>`, X(v.V)+3, top+12, esc(v.Label))
	}
	for i, s := range c.Series {
		if len(s.Pts) > 0 {
			var pts []string
			for _, p := range s.Pts {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(p.X), Y(p.Y)))
			}
			dash := ""
			if s.Dash {
				dash = ` stroke-dasharray="4 3"`
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>`, s.Color, dash, strings.Join(pts, " "))
			if s.Dots {
				for _, p := range s.Pts {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, X(p.X), Y(p.Y), s.Color)
				}
			}
		}
		ly := top + 30 + i*16
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`, left+pw+6, ly, left+pw+22, ly, s.Color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, left+pw+26, ly+4, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated string went through esc
}

func esc(s string) string { return html.EscapeString(s) }

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	if math.Abs(v) >= 1e4 {
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}
