package gateway

import (
	"encoding/json"
	"fmt"

	"github.com/olapgate/olapgate/gen/openapi"
)

// openAPIDoc is the generated OpenAPI document with the two hand-written handlers described as
// they really answer: protoc-gen-openapiv2 describes the proto shapes (columnar typed values,
// int64 as strings), but POST /v1/query answers rows of JSON values and the ingest handler takes
// NDJSON too.
func openAPIDoc() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		return nil, fmt.Errorf("decode generated OpenAPI document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	defs, _ := doc["definitions"].(map[string]any)
	if paths == nil || defs == nil {
		return nil, fmt.Errorf("generated OpenAPI document has no paths or definitions")
	}
	status := map[string]any{"$ref": "#/definitions/rpcStatus"}
	defs["HttpIngestAnswer"] = obj(map[string]any{
		"accepted": map[string]any{"type": "integer", "format": "int64", "description": "events stored (durable when ack is committed)"},
		"rejected": map[string]any{"type": "array", "items": obj(map[string]any{
			"index":  map[string]any{"type": "integer", "description": "position of the event in the body, from 0"},
			"reason": map[string]any{"type": "string", "description": "why, naming the field and the limit"},
		})},
		"ack": map[string]any{"type": "string", "enum": []string{AckCommitted, AckStream}},
	})
	defs["HttpQueryResult"] = obj(map[string]any{
		"columns": map[string]any{"type": "array", "items": obj(map[string]any{
			"name":        map[string]any{"type": "string"},
			"type":        map[string]any{"type": "string", "enum": []string{"STRING", "INT64", "DOUBLE", "BOOL", "TIMESTAMP"}},
			"approximate": map[string]any{"type": "boolean"},
		})},
		"rows": map[string]any{
			"type":        "array",
			"description": "one JSON array per row in column order: numbers as JSON numbers, null as null, TIMESTAMP as RFC 3339 in the query's zone",
			"items":       map[string]any{"type": "array", "items": map[string]any{}},
		},
		"stats": map[string]any{"type": "object", "description": "backend, timeRange (as resolved), timeZone, cacheHit, ageMs, stale, coalesced, queuedMs, execMs, partial, approximate, rowCount (numbers as JSON numbers)"},
	})
	if p, ok := paths["/v1/query"].(map[string]any)["post"].(map[string]any); ok {
		p["responses"] = map[string]any{
			"200":     map[string]any{"description": "query result", "schema": map[string]any{"$ref": "#/definitions/HttpQueryResult"}},
			"default": map[string]any{"description": "error (400 invalid query naming the field, 404 unknown dataset, 429, 504)", "schema": status},
		}
	}
	if p, ok := paths["/v1/datasets/{dataset}/events"].(map[string]any)["post"].(map[string]any); ok {
		p["consumes"] = []string{"application/json", "application/x-ndjson"}
		p["description"] = "Body: a JSON array of flat event objects, or NDJSON (one object per line) with Content-Type application/x-ndjson. Limits: 16 MiB and 10,000 events by default (413 beyond). Content-Encoding: gzip is accepted (the byte limit applies before and after inflating)."
		p["parameters"] = []any{
			map[string]any{"name": "dataset", "in": "path", "required": true, "type": "string"},
			map[string]any{"name": "events", "in": "body", "required": true, "schema": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}},
		}
		answer := map[string]any{"$ref": "#/definitions/HttpIngestAnswer"}
		p["responses"] = map[string]any{
			"200":     map[string]any{"description": "the body parsed; accepted events are durable, rejected ones listed", "schema": answer},
			"400":     map[string]any{"description": "the body did not parse, or every event was rejected", "schema": answer},
			"413":     map[string]any{"description": "over the body or event limit", "schema": status},
			"default": map[string]any{"description": "error", "schema": status},
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func obj(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props}
}
