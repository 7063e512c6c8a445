package pinot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Controller is a Pinot controller's admin API, used to set up schemas and tables
// (`olapgate pinot apply`). Paths and bodies are the controller's REST API as
// docs.pinot.apache.org documents it and pinot-controller's PinotSchemaRestletResource and
// PinotTableRestletResource serve it: GET/POST /schemas, GET/PUT /schemas/{name},
// GET /tables/{name}?type=realtime, POST /tables, PUT /tables/{name}.
type Controller struct {
	// URL is the controller's base URL (http://controller:9000).
	URL string
	// Authorization, when set, is sent as the Authorization header.
	Authorization string
	// Client makes the requests; default: a client with a 30s timeout.
	Client *http.Client
}

// Outcome is what applying one schema or table did (or, in a dry run, would do).
type Outcome string

// Outcomes.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// DryRun reads the controller's state and reports what would change, without writing.
	DryRun bool
	// Progress receives one line per schema and table ("schema pageviews: created"); nil
	// discards them.
	Progress io.Writer
}

// Apply makes the controller hold schema s and, when t is not nil, table t: each is created
// when absent, updated when it differs from what the controller has, and left alone when it
// does not, so applying twice is a no-op. The schema goes first: the controller refuses a
// table without one.
//
// "Differs" compares only what olapgate generates: settings the controller added (defaults)
// or an operator added (indexes, extra columns) do not count, and an update keeps them: the
// schema keeps columns olapgate does not declare (Pinot refuses to drop columns anyway), and
// the table config is the controller's with the generated settings laid over it.
func (c *Controller) Apply(ctx context.Context, s *Schema, t *TableConfig, opt ApplyOptions) error {
	if _, err := c.ApplySchema(ctx, s, opt); err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	_, err := c.ApplyTable(ctx, t, opt)
	return err
}

// ApplySchema creates or updates schema s (see Apply).
func (c *Controller) ApplySchema(ctx context.Context, s *Schema, opt ApplyOptions) (Outcome, error) {
	name := s.SchemaName
	where := "pinot schema " + name
	want, err := toJSONMap(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	path := "/schemas/" + url.PathEscape(name)
	raw, code, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", where, err)
	}
	var out Outcome
	var body any
	switch code {
	case http.StatusNotFound:
		out, body = Created, want
	case http.StatusOK:
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			return "", fmt.Errorf("get %s: decode the controller's answer: %w", where, err)
		}
		merged, same := mergeSchema(got, want)
		if same {
			out = Unchanged
		} else {
			out, body = Updated, merged
		}
	default:
		return "", controllerError("get "+where, code, raw)
	}
	if err := c.write(ctx, where, out, body, http.MethodPost, "/schemas", http.MethodPut, path, opt); err != nil {
		return "", err
	}
	progress(opt, "schema "+name, out)
	return out, nil
}

// ApplyTable creates or updates REALTIME table t (see Apply).
func (c *Controller) ApplyTable(ctx context.Context, t *TableConfig, opt ApplyOptions) (Outcome, error) {
	name := t.TableName + "_" + t.TableType
	where := "pinot table " + name
	want, err := toJSONMap(t)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	path := "/tables/" + url.PathEscape(t.TableName)
	raw, code, err := c.do(ctx, http.MethodGet, path+"?type="+strings.ToLower(t.TableType), nil)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", where, err)
	}
	// GET /tables/{name} answers {"REALTIME": {...}} when the table exists, {} when it does
	// not (and 404 on some versions).
	var got map[string]any
	switch code {
	case http.StatusOK:
		var byType map[string]json.RawMessage
		if err := json.Unmarshal(raw, &byType); err != nil {
			return "", fmt.Errorf("get %s: decode the controller's answer: %w", where, err)
		}
		if tc := byType[t.TableType]; len(tc) > 0 && string(tc) != "null" {
			if err := json.Unmarshal(tc, &got); err != nil {
				return "", fmt.Errorf("get %s: decode the controller's answer: %w", where, err)
			}
		}
	case http.StatusNotFound:
	default:
		return "", controllerError("get "+where, code, raw)
	}
	var out Outcome
	var body any
	if got == nil {
		out, body = Created, want
	} else {
		merged, same := mergeTable(got, want)
		if same {
			out = Unchanged
		} else {
			out, body = Updated, merged
		}
	}
	if err := c.write(ctx, where, out, body, http.MethodPost, "/tables", http.MethodPut, path, opt); err != nil {
		return "", err
	}
	progress(opt, "table "+name, out)
	return out, nil
}

func progress(opt ApplyOptions, what string, out Outcome) {
	if opt.Progress == nil {
		return
	}
	if opt.DryRun && out != Unchanged {
		fmt.Fprintf(opt.Progress, "%s: would be %s (dry run)\n", what, out)
		return
	}
	fmt.Fprintf(opt.Progress, "%s: %s\n", what, out)
}

// write creates (POST createPath) or updates (PUT updatePath) per out.
func (c *Controller) write(ctx context.Context, where string, out Outcome, body any, createMethod, createPath, updateMethod, updatePath string, opt ApplyOptions) error {
	if out == Unchanged || opt.DryRun {
		return nil
	}
	method, path, verb := createMethod, createPath, "create"
	if out == Updated {
		method, path, verb = updateMethod, updatePath, "update"
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", verb, where, err)
	}
	raw, code, err := c.do(ctx, method, path, b)
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, where, err)
	}
	if code/100 != 2 {
		return controllerError(verb+" "+where, code, raw)
	}
	return nil
}

// do sends one request and reads the answer (up to 16 MiB).
func (c *Controller) do(ctx context.Context, method, path string, body []byte) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	cl := c.Client
	if cl == nil {
		cl = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read the controller's answer: %w", err)
	}
	return raw, resp.StatusCode, nil
}

// controllerError names what was being done and carries the controller's own message: its
// errors are {"code": 400, "error": "..."} (ControllerApplicationException).
func controllerError(what string, code int, raw []byte) error {
	var e struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return fmt.Errorf("%s: controller answered HTTP %d: %s", what, code, clip(msg))
}

func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return m, nil
}

// covers reports whether got holds everything want says: objects key by key (an empty object
// is covered by an absent one), arrays element by element with equal length, other values
// equal.
func covers(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return len(w) == 0 && got == nil
		}
		for k, wv := range w {
			if !covers(g[k], wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !covers(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}

// overlay lays want over got: objects merge key by key, anything else is replaced.
func overlay(got, want any) any {
	w, ok := want.(map[string]any)
	g, ok2 := got.(map[string]any)
	if !ok || !ok2 {
		return want
	}
	out := make(map[string]any, len(g)+len(w))
	for k, v := range g {
		out[k] = v
	}
	for k, v := range w {
		out[k] = overlay(g[k], v)
	}
	return out
}

var specLists = []string{"dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs"}

// mergeSchema compares the controller's schema with the generated one and returns the schema
// to PUT: the generated one plus the controller's columns it does not declare. Field specs
// are matched by name, so the controller's order and defaults do not count as differences.
func mergeSchema(got, want map[string]any) (map[string]any, bool) {
	same := true
	merged := make(map[string]any, len(want))
	for k, v := range want {
		if isSpecList(k) {
			continue
		}
		merged[k] = v
		if !covers(got[k], v) {
			same = false
		}
	}
	declared := map[string]bool{}
	for _, k := range specLists {
		for _, s := range asList(want[k]) {
			declared[specName(s)] = true
		}
	}
	for _, k := range specLists {
		existing := map[string]any{}
		for _, s := range asList(got[k]) {
			existing[specName(s)] = s
		}
		var list []any
		for _, s := range asList(want[k]) {
			if !covers(existing[specName(s)], s) {
				same = false
			}
			list = append(list, s)
		}
		for _, s := range asList(got[k]) {
			if !declared[specName(s)] {
				list = append(list, s)
			}
		}
		if list != nil {
			merged[k] = list
		}
	}
	return merged, same
}

func isSpecList(k string) bool {
	for _, s := range specLists {
		if s == k {
			return true
		}
	}
	return false
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func specName(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// tableOwned are the table settings olapgate decides wholly: when the generated config has
// none, the controller's is removed rather than kept (a table stays in one mode, and one place
// holds its stream config).
var tableOwned = [][]string{{"dedupConfig"}, {"upsertConfig"}, {"ingestionConfig", "streamIngestionConfig"}, {"tableIndexConfig", "streamConfigs"}}

// mergeTable compares the controller's table config with the generated one and returns the
// config to PUT: the controller's with the generated settings laid over it.
func mergeTable(got, want map[string]any) (map[string]any, bool) {
	w := make(map[string]any, len(want))
	for k, v := range want {
		// The controller answers tableName with its type suffix (pageviews_REALTIME); the path
		// it was read from already matched the name.
		if k != "tableName" {
			w[k] = v
		}
	}
	same := covers(got, w)
	merged := overlay(got, want).(map[string]any)
	for _, path := range tableOwned {
		if lookup(want, path) != nil {
			continue
		}
		if lookup(got, path) != nil {
			same = false
		}
		remove(merged, path)
	}
	return merged, same
}

func lookup(m map[string]any, path []string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// remove deletes the key at path, copying the maps on the way (they may be shared with the
// controller's decoded config).
func remove(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		return
	}
	cp := make(map[string]any, len(sub))
	for k, v := range sub {
		cp[k] = v
	}
	remove(cp, path[1:])
	m[path[0]] = cp
}
