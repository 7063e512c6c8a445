package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const pinotConfig = `
backends:
  pinot:
    controller: CONTROLLER
    tables:
      clicks:
        kafka: {topic: clicks, brokers: ["kafka:9092"]}
datasets:
  - name: clicks
    timeColumn: time
    backend: pinot
    primaryKey: [id]
    dimensions: [{name: id, type: string}, {name: country, type: string}]
    metrics: [{name: price, type: float}]
  - name: views
    timeColumn: time
    backend: pinot
    dimensions: [{name: page, type: string}]
  - name: local
    timeColumn: time
    dimensions: [{name: page, type: string}]
`

func writeConfig(t *testing.T, controller string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "olapgate.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(pinotConfig, "CONTROLLER", controller)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPinotSchemaCommand(t *testing.T) {
	cfg := writeConfig(t, "http://127.0.0.1:1")
	var out bytes.Buffer
	if err := runPinot([]string{"schema", "--config", cfg}, &out); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	var docs []map[string]any
	for dec.More() {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	if len(docs) != 2 || docs[0]["dataset"] != "clicks" || docs[1]["dataset"] != "views" {
		t.Fatalf("documents: %v", docs)
	}
	if docs[0]["table"] == nil || docs[1]["table"] != nil {
		t.Errorf("tables: clicks %v, views %v (views has no stream)", docs[0]["table"], docs[1]["table"])
	}
	if !strings.Contains(mustJSON(t, docs[0]["table"]), `"dedupConfig":{"dedupEnabled":true`) {
		t.Errorf("clicks table: %s", mustJSON(t, docs[0]["table"]))
	}

	out.Reset()
	if err := runPinot([]string{"schema", "--config", cfg, "--dataset", "clicks", "--only", "table"}, &out); err != nil {
		t.Fatal(err)
	}
	var tc map[string]any
	if err := json.Unmarshal(out.Bytes(), &tc); err != nil || tc["tableType"] != "REALTIME" || tc["tableName"] != "clicks" {
		t.Errorf("--only table: %s %v", out.String(), err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"schema", "--config", cfg, "--dataset", "local"}, "backend embedded, not pinot"},
		{[]string{"schema", "--config", cfg, "--dataset", "nope"}, `no dataset "nope"`},
		{[]string{"schema", "--config", cfg, "--only", "schema"}, "pick one with --dataset"},
		{[]string{"schema", "--config", cfg, "--dataset", "views", "--only", "table"}, "no backends.pinot.tables entry"},
		{[]string{"schema"}, "--config is required"},
		{[]string{"frobnicate"}, "unknown subcommand"},
		{nil, "subcommand"},
	} {
		if err := runPinot(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPinotApplyCommand applies to an httptest controller: created, then unchanged.
func TestPinotApplyCommand(t *testing.T) {
	var mu sync.Mutex
	state := map[string]json.RawMessage{}
	var writes []string
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		var doc struct {
			SchemaName string `json:"schemaName"`
			TableName  string `json:"tableName"`
		}
		_ = json.Unmarshal(body, &doc)
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/"):
			if s, ok := state["schema:"+strings.TrimPrefix(r.URL.Path, "/schemas/")]; ok {
				_, _ = w.Write(s)
				return
			}
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":404,"error":"Schema not found"}`)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/tables/"):
			if tc, ok := state["table:"+strings.TrimPrefix(r.URL.Path, "/tables/")]; ok {
				_, _ = w.Write([]byte(`{"REALTIME":` + string(tc) + `}`))
				return
			}
			_, _ = io.WriteString(w, `{}`)
		case r.Method == http.MethodPost && r.URL.Path == "/schemas":
			writes = append(writes, "schema "+doc.SchemaName)
			state["schema:"+doc.SchemaName] = body
		case r.Method == http.MethodPost && r.URL.Path == "/tables":
			writes = append(writes, "table "+doc.TableName)
			state["table:"+doc.TableName] = body
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"code":405,"error":"unexpected `+r.Method+` `+r.URL.Path+`"}`)
		}
	}))
	defer ctl.Close()
	cfg := writeConfig(t, ctl.URL)

	var out bytes.Buffer
	if err := runPinot([]string{"apply", "--config", cfg, "--dry-run"}, &out); err != nil {
		t.Fatal(err)
	}
	if len(writes) != 0 || !strings.Contains(out.String(), "schema clicks: would be created (dry run)") {
		t.Errorf("dry run: writes %v, output:\n%s", writes, out.String())
	}
	out.Reset()
	if err := runPinot([]string{"apply", "--config", cfg}, &out); err != nil {
		t.Fatal(err)
	}
	want := "schema clicks: created\ntable clicks_REALTIME: created\nschema views: created\ntable views_REALTIME: skipped (no backends.pinot.tables.views entry)\n"
	if out.String() != want {
		t.Errorf("first apply:\n%s", out.String())
	}
	out.Reset()
	if err := runPinot([]string{"apply", "--config", cfg, "--dataset", "clicks", "--controller", ctl.URL}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "schema clicks: unchanged\ntable clicks_REALTIME: unchanged\n" {
		t.Errorf("second apply:\n%s", out.String())
	}
	if strings.Join(writes, ",") != "schema clicks,table clicks,schema views" {
		t.Errorf("writes %v", writes)
	}
}
