package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const queryUsage = `Usage: olapgate query [flags] [QUERY_JSON]

The query is JSON as POST /v1/query takes it (an argument, -f FILE, or -f - for stdin), or built
from flags:

  olapgate query --dataset pageviews --metric count --metric p99:duration_ms \
      --group-by country --start now-24h --granularity 1h --where device=mobile

Metrics: count, sum:F, avg:F, min:F, max:F, count_distinct:F, approx_count_distinct:F,
pNN:F (exact percentile, e.g. p99:duration_ms), approx_pNN:F.

Flags:
`

// Query is `olapgate query`: it runs a query against a running server and prints the answer.
func Query(args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), queryUsage); fs.PrintDefaults() }
	server := fs.String("server", "", "olapgate HTTP address (default $OLAPGATE_SERVER or http://127.0.0.1:8080)")
	tenant := fs.String("tenant", "", "tenant (X-Olapgate-Tenant)")
	file := fs.String("f", "", "read the query JSON from FILE (- for stdin)")
	output := fs.String("output", "table", "table or json")
	explain := fs.Bool("explain", false, "print the SQL instead of running the query")
	ds := fs.String("dataset", "", "dataset")
	start := fs.String("start", "now-1h", "range start: RFC 3339, epoch ms or now-<n><s|m|h|d|w>")
	end := fs.String("end", "now", "range end (exclusive)")
	gran := fs.String("granularity", "", "time bucket, e.g. 1m, 1h, 1d")
	tz := fs.String("tz", "", "IANA time zone for buckets and output times")
	groupBy := fs.String("group-by", "", "comma-separated dimensions")
	limit := fs.Int("limit", 0, "maximum rows (default: server's)")
	orderBy := fs.String("order-by", "", "comma-separated output columns; prefix - for descending")
	var metrics, wheres multiFlag
	fs.Var(&metrics, "metric", "aggregate (repeatable), e.g. count or sum:bytes")
	fs.Var(&wheres, "where", "equality filter FIELD=VALUE (repeatable, ANDed)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var body []byte
	switch {
	case *file != "":
		var err error
		if *file == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(*file)
		}
		if err != nil {
			return fmt.Errorf("read query: %w", err)
		}
	case fs.NArg() > 0:
		body = []byte(strings.Join(fs.Args(), " "))
	default:
		if *ds == "" {
			fs.Usage()
			return errors.New("give a query as JSON, -f FILE, or at least --dataset")
		}
		q, err := buildQuery(*ds, *start, *end, *gran, *tz, *groupBy, *orderBy, *limit, metrics, wheres)
		if err != nil {
			return err
		}
		body, _ = json.Marshal(q)
	}

	c := newClient(*server, *tenant)
	path := "/v1/query"
	if *explain {
		path = "/v1/query:explain"
	}
	out, err := c.post(path, "application/json", body)
	if err != nil {
		return err
	}
	if *explain {
		var e struct {
			SQL    string   `json:"sql"`
			Params []string `json:"params"`
		}
		if err := json.Unmarshal(out, &e); err != nil {
			return fmt.Errorf("decode explain answer: %w", err)
		}
		fmt.Fprintln(Stdout, e.SQL)
		return nil
	}
	if *output == "json" {
		_, err := Stdout.Write(append(out, '\n'))
		return err
	}
	return printTable(Stdout, out)
}

func buildQuery(ds, start, end, gran, tz, groupBy, orderBy string, limit int, metrics, wheres []string) (map[string]any, error) {
	q := map[string]any{"dataset": ds, "timeRange": map[string]string{"start": start, "end": end}}
	if gran != "" {
		q["granularity"] = gran
	}
	if tz != "" {
		q["timeZone"] = tz
	}
	if groupBy != "" {
		q["groupBy"] = strings.Split(groupBy, ",")
	}
	if limit > 0 {
		q["limit"] = limit
	}
	if len(metrics) == 0 {
		metrics = []string{"count"}
	}
	var ms []map[string]any
	for _, m := range metrics {
		agg, field, _ := strings.Cut(m, ":")
		entry := map[string]any{"agg": agg}
		lower := strings.ToLower(agg)
		approx := strings.HasPrefix(lower, "approx_p")
		if p := strings.TrimPrefix(lower, "approx_"); strings.HasPrefix(p, "p") && len(p) > 1 && p[1] >= '0' && p[1] <= '9' {
			pct, err := strconv.ParseFloat(strings.ReplaceAll(p[1:], "_", "."), 64)
			if err != nil {
				return nil, fmt.Errorf("--metric %s: percentile %q: %w", m, p, err)
			}
			entry["agg"] = "PERCENTILE"
			if approx {
				entry["agg"] = "APPROX_PERCENTILE"
			}
			entry["p"] = pct / 100
		}
		if field != "" {
			entry["field"] = field
		}
		ms = append(ms, entry)
	}
	q["metrics"] = ms
	var filters []any
	for _, w := range wheres {
		f, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("--where %q: want FIELD=VALUE", w)
		}
		var val any = v
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			val = n
		}
		filters = append(filters, map[string]any{"cmp": map[string]any{"field": f, "op": "EQ", "values": []any{val}}})
	}
	switch len(filters) {
	case 0:
	case 1:
		q["filter"] = filters[0]
	default:
		q["filter"] = map[string]any{"and": map[string]any{"filters": filters}}
	}
	if orderBy != "" {
		var obs []map[string]any
		for _, o := range strings.Split(orderBy, ",") {
			desc := strings.HasPrefix(o, "-")
			obs = append(obs, map[string]any{"by": strings.TrimPrefix(o, "-"), "desc": desc})
		}
		q["orderBy"] = obs
	}
	return q, nil
}

// printTable renders an HTTP query answer as aligned columns.
func printTable(w io.Writer, raw []byte) error {
	var res struct {
		Columns []struct {
			Name string `json:"name"`
		} `json:"columns"`
		Rows  [][]json.RawMessage `json:"rows"`
		Stats struct {
			ExecMs    int64 `json:"execMs"`
			TimeRange struct {
				Start string `json:"start"`
				End   string `json:"end"`
			} `json:"timeRange"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range res.Columns {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.Name)
	}
	fmt.Fprintln(tw)
	for _, row := range res.Rows {
		for i, v := range row {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			var s string
			if json.Unmarshal(v, &s) == nil {
				fmt.Fprint(tw, s)
			} else {
				fmt.Fprint(tw, string(v))
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(Stderr, "(%d rows, %s to %s, %d ms)\n", len(res.Rows), res.Stats.TimeRange.Start, res.Stats.TimeRange.End, res.Stats.ExecMs)
	return nil
}
