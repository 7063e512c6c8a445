package pinot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
)

// fakeController holds schemas and tables as Pinot's controller does, answers with its
// documented shapes, and checks each request's shape.
type fakeController struct {
	*httptest.Server
	t      *testing.T
	mu     sync.Mutex
	schema map[string]map[string]any
	tables map[string]map[string]any // by name with type suffix
	writes []string                  // "POST /schemas", ...
	fail   string                    // a path whose writes are refused with 400
}

func newFakeController(t *testing.T) *fakeController {
	f := &fakeController{t: t, schema: map[string]map[string]any{}, tables: map[string]map[string]any{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeController) errorf(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "error": msg})
}

func (f *fakeController) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		f.errorf(w, 401, "missing auth")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		f.writes = append(f.writes, r.Method+" "+r.URL.Path)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, ct)
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			f.t.Errorf("%s %s: body %s: %v", r.Method, r.URL.Path, raw, err)
			f.errorf(w, 400, "bad json")
			return
		}
		if f.fail != "" && strings.HasPrefix(r.URL.Path, f.fail) {
			f.errorf(w, 400, "Invalid table config: routing must be strictReplicaGroup for dedup")
			return
		}
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case seg[0] == "schemas" && len(seg) == 2 && r.Method == http.MethodGet:
		s, ok := f.schema[seg[1]]
		if !ok {
			f.errorf(w, 404, "Schema not found")
			return
		}
		_ = json.NewEncoder(w).Encode(s)
	case seg[0] == "schemas" && len(seg) == 1 && r.Method == http.MethodPost:
		name, _ := body["schemaName"].(string)
		if name == "" || body["dateTimeFieldSpecs"] == nil {
			f.t.Errorf("POST /schemas: body %v", body)
		}
		if _, ok := f.schema[name]; ok {
			f.errorf(w, 409, "Schema "+name+" already exists")
			return
		}
		f.schema[name] = body
		_, _ = io.WriteString(w, `{"status":"`+name+` successfully added"}`)
	case seg[0] == "schemas" && len(seg) == 2 && r.Method == http.MethodPut:
		if body["schemaName"] != seg[1] {
			f.errorf(w, 400, "Schema name mismatch")
			return
		}
		if _, ok := f.schema[seg[1]]; !ok {
			f.errorf(w, 404, "Schema not found")
			return
		}
		f.schema[seg[1]] = body
		_, _ = io.WriteString(w, `{"status":"`+seg[1]+` successfully updated"}`)
	case seg[0] == "tables" && len(seg) == 2 && r.Method == http.MethodGet:
		if typ := r.URL.Query().Get("type"); typ != "realtime" {
			f.t.Errorf("GET %s: type=%q", r.URL.Path, typ)
		}
		out := map[string]any{}
		if tc, ok := f.tables[seg[1]+"_REALTIME"]; ok {
			out["REALTIME"] = tc
		}
		_ = json.NewEncoder(w).Encode(out)
	case seg[0] == "tables" && len(seg) == 1 && r.Method == http.MethodPost:
		name, _ := body["tableName"].(string)
		if body["tableType"] != "REALTIME" || body["segmentsConfig"] == nil || body["metadata"] == nil || body["tableIndexConfig"] == nil {
			f.t.Errorf("POST /tables: body %v", body)
		}
		if _, ok := f.schema[name]; !ok {
			f.errorf(w, 400, "Invalid table config: schema "+name+" does not exist")
			return
		}
		if _, ok := f.tables[name+"_REALTIME"]; ok {
			f.errorf(w, 409, "Table "+name+"_REALTIME already exists")
			return
		}
		f.tables[name+"_REALTIME"] = f.normalise(body)
		_, _ = io.WriteString(w, `{"status":"Table `+name+`_REALTIME successfully added"}`)
	case seg[0] == "tables" && len(seg) == 2 && r.Method == http.MethodPut:
		name, _ := body["tableName"].(string)
		if strings.TrimSuffix(name, "_REALTIME") != seg[1] {
			f.errorf(w, 400, "Request table "+seg[1]+" does not match table name in the body "+name)
			return
		}
		if _, ok := f.tables[seg[1]+"_REALTIME"]; !ok {
			f.errorf(w, 404, "Table not found")
			return
		}
		f.tables[seg[1]+"_REALTIME"] = f.normalise(body)
		_, _ = io.WriteString(w, `{"status":"Table config updated for `+seg[1]+`"}`)
	default:
		f.errorf(w, 405, "unexpected "+r.Method+" "+r.URL.Path)
	}
}

// normalise stores a table config as the controller answers it: the name with its type
// suffix, and defaults filled in.
func (f *fakeController) normalise(tc map[string]any) map[string]any {
	b, _ := json.Marshal(tc)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	name, _ := out["tableName"].(string)
	out["tableName"] = strings.TrimSuffix(name, "_REALTIME") + "_REALTIME"
	out["isDimTable"] = false
	ten, _ := out["tenants"].(map[string]any)
	if ten == nil {
		ten = map[string]any{}
	}
	if ten["broker"] == nil {
		ten["broker"] = "DefaultTenant"
	}
	if ten["server"] == nil {
		ten["server"] = "DefaultTenant"
	}
	out["tenants"] = ten
	ic, _ := out["tableIndexConfig"].(map[string]any)
	ic["autoGeneratedInvertedIndex"] = false
	return out
}

func (f *fakeController) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

func applyOnce(t *testing.T, f *fakeController, d *dataset.Dataset, setup *TableSetup, dry bool) (string, error) {
	t.Helper()
	s, err := SchemaFor(d)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := TableConfigFor(d, setup)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := &Controller{URL: f.URL + "/", Authorization: "Bearer tok"}
	err = c.Apply(context.Background(), s, tc, ApplyOptions{DryRun: dry, Progress: &out})
	return out.String(), err
}

func TestApply(t *testing.T) {
	f := newFakeController(t)
	d := clicksDataset(t)
	setup := kafkaSetup()

	out, err := applyOnce(t, f, d, setup, true)
	if err != nil {
		t.Fatal(err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("dry run wrote: %v", w)
	}
	if want := "schema clicks: would be created (dry run)\ntable clicks_REALTIME: would be created (dry run)\n"; out != want {
		t.Errorf("dry run progress:\n%s", out)
	}

	out, err = applyOnce(t, f, d, setup, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "schema clicks: created\ntable clicks_REALTIME: created\n"; out != want {
		t.Errorf("first apply:\n%s", out)
	}
	if w := f.takeWrites(); strings.Join(w, ",") != "POST /schemas,POST /tables" {
		t.Errorf("first apply wrote %v", w)
	}
	if pk := f.schema["clicks"]["primaryKeyColumns"]; len(pk.([]any)) != 1 || pk.([]any)[0] != "id" {
		t.Errorf("stored schema primary key: %v", pk)
	}
	stored := f.tables["clicks_REALTIME"]
	if dc, _ := stored["dedupConfig"].(map[string]any); dc["dedupEnabled"] != true {
		t.Errorf("stored table dedupConfig: %v", stored["dedupConfig"])
	}

	// Again: the controller's defaults and suffixed name are not differences.
	out, err = applyOnce(t, f, d, setup, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "schema clicks: unchanged\ntable clicks_REALTIME: unchanged\n"; out != want {
		t.Errorf("second apply:\n%s", out)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("second apply wrote %v", w)
	}

	// An operator adds an index and a column: neither counts, and an update keeps both.
	f.mu.Lock()
	f.tables["clicks_REALTIME"]["tableIndexConfig"].(map[string]any)["invertedIndexColumns"] = []any{"campaign"}
	f.schema["clicks"]["dimensionFieldSpecs"] = append(f.schema["clicks"]["dimensionFieldSpecs"].([]any),
		map[string]any{"name": "extra", "dataType": "STRING"})
	f.mu.Unlock()
	if out, err = applyOnce(t, f, d, setup, false); err != nil || !strings.Contains(out, "schema clicks: unchanged") || !strings.Contains(out, "table clicks_REALTIME: unchanged") {
		t.Errorf("after operator changes: %q %v", out, err)
	}

	// The dataset gains a metric and the table a new topic: both are updated.
	d2 := clicksDataset(t)
	d2.Metrics = append(d2.Metrics, dataset.Field{Name: "tax", Type: dataset.Float})
	if err := d2.Validate(); err != nil {
		t.Fatal(err)
	}
	setup2 := kafkaSetup()
	setup2.Kafka.Topic = "clicks-v2"
	out, err = applyOnce(t, f, d2, setup2, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "schema clicks: updated\ntable clicks_REALTIME: updated\n"; out != want {
		t.Errorf("changed apply:\n%s", out)
	}
	if w := f.takeWrites(); strings.Join(w, ",") != "PUT /schemas/clicks,PUT /tables/clicks" {
		t.Errorf("changed apply wrote %v", w)
	}
	names := map[string]bool{}
	for _, s := range f.schema["clicks"]["metricFieldSpecs"].([]any) {
		names[specName(s)] = true
	}
	for _, s := range f.schema["clicks"]["dimensionFieldSpecs"].([]any) {
		names[specName(s)] = true
	}
	if !names["tax"] || !names["extra"] || !names["campaign"] {
		t.Errorf("updated schema columns: %v", names)
	}
	tc := f.tables["clicks_REALTIME"]
	sc := tc["ingestionConfig"].(map[string]any)["streamIngestionConfig"].(map[string]any)["streamConfigMaps"].([]any)[0].(map[string]any)
	if sc["stream.kafka.topic.name"] != "clicks-v2" {
		t.Errorf("updated topic: %v", sc["stream.kafka.topic.name"])
	}
	if idx := tc["tableIndexConfig"].(map[string]any)["invertedIndexColumns"]; idx == nil {
		t.Error("update dropped the operator's index")
	}

	// Switching to upsert replaces dedupConfig rather than keeping both.
	setup3 := kafkaSetup()
	setup3.Kafka.Topic = "clicks-v2"
	setup3.Mode = ModeUpsert
	if out, err = applyOnce(t, f, d2, setup3, false); err != nil || !strings.Contains(out, "table clicks_REALTIME: updated") {
		t.Fatalf("upsert apply: %q %v", out, err)
	}
	if tc := f.tables["clicks_REALTIME"]; tc["dedupConfig"] != nil || tc["upsertConfig"] == nil {
		t.Errorf("after switching to upsert: dedup %v upsert %v", tc["dedupConfig"], tc["upsertConfig"])
	}
	if out, err = applyOnce(t, f, d2, setup3, false); err != nil || !strings.Contains(out, "table clicks_REALTIME: unchanged") {
		t.Errorf("upsert apply again: %q %v", out, err)
	}
}

func TestApplyErrors(t *testing.T) {
	f := newFakeController(t)
	d := clicksDataset(t)
	f.fail = "/tables"
	out, err := applyOnce(t, f, d, kafkaSetup(), false)
	if err == nil || !strings.Contains(err.Error(), "create pinot table clicks_REALTIME: controller answered HTTP 400: Invalid table config: routing must be strictReplicaGroup") {
		t.Errorf("refused table: %v", err)
	}
	if out != "schema clicks: created\n" {
		t.Errorf("progress before the failure: %q", out)
	}

	// Unauthorised: the GET fails and names what it was reading.
	s, _ := SchemaFor(d)
	c := &Controller{URL: f.URL}
	if err := c.Apply(context.Background(), s, nil, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "get pinot schema clicks: controller answered HTTP 401: missing auth") {
		t.Errorf("unauthorised: %v", err)
	}

	// Unreachable.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c = &Controller{URL: dead.URL}
	if err := c.Apply(context.Background(), s, nil, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "get pinot schema clicks") {
		t.Errorf("unreachable: %v", err)
	}

	// A non-JSON error body is passed on as text.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream gone", http.StatusBadGateway)
	}))
	defer plain.Close()
	c = &Controller{URL: plain.URL}
	if err := c.Apply(context.Background(), s, nil, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "HTTP 502: upstream gone") {
		t.Errorf("plain error: %v", err)
	}
}
