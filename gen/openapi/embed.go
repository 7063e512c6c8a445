// Package openapi embeds the OpenAPI document generated from the protos (buf generate).
package openapi

import _ "embed"

// JSON is olapgate.swagger.json.
//
//go:embed olapgate.swagger.json
var JSON []byte
