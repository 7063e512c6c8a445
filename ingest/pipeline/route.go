package pipeline

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Route says which dataset a record of one stream goes to: always Dataset, or the dataset
// that the value of the top-level string field Field names in Datasets (one topic carrying
// several event types).
type Route struct {
	// Dataset takes every record. Exclusive with Field.
	Dataset string `yaml:"dataset,omitempty"`
	// Field is the top-level JSON key whose string value picks the dataset in Datasets. The
	// key is matched exactly (case-sensitively).
	Field string `yaml:"field,omitempty"`
	// Datasets maps Field's values to dataset names.
	Datasets map[string]string `yaml:"datasets,omitempty"`
	// Default takes records whose Field value is not in Datasets; "" dead-letters them.
	Default string `yaml:"default,omitempty"`
}

// FieldRoute is how a source's configuration routes by a top-level string field (the
// `route:` key beside `dataset:` of a Kafka topic or a Kinesis stream).
type FieldRoute struct {
	Field string `yaml:"field"`
	// Datasets maps field values to datasets.
	Datasets map[string]string `yaml:"datasets"`
	// Default takes values not in Datasets; "" dead-letters them.
	Default string `yaml:"default,omitempty"`
}

// RouteOf is the Route of a source configured with dataset, or with by when it is set.
func RouteOf(dataset string, by *FieldRoute) *Route {
	if by == nil {
		return &Route{Dataset: dataset}
	}
	return &Route{Dataset: dataset, Field: by.Field, Datasets: by.Datasets, Default: by.Default}
}

// Validate checks the route against the datasets known (nil skips that check).
func (r *Route) Validate(known func(string) bool) error {
	switch {
	case r.Dataset != "" && r.Field != "":
		return fmt.Errorf("route: dataset %q and field %q: give one", r.Dataset, r.Field)
	case r.Dataset == "" && r.Field == "":
		return fmt.Errorf("route: give a dataset, or a field and datasets to route by")
	case r.Dataset != "" && (len(r.Datasets) > 0 || r.Default != ""):
		return fmt.Errorf("route: datasets/default need a field to route by")
	case r.Field != "" && len(r.Datasets) == 0 && r.Default == "":
		return fmt.Errorf("route by field %q: datasets is empty", r.Field)
	}
	if known == nil {
		return nil
	}
	for _, ds := range r.Names() {
		if !known(ds) {
			return fmt.Errorf("route: dataset %q is not declared", ds)
		}
	}
	return nil
}

// Names lists the datasets the route can write, sorted.
func (r *Route) Names() []string {
	set := map[string]bool{}
	for _, ds := range []string{r.Dataset, r.Default} {
		if ds != "" {
			set[ds] = true
		}
	}
	for _, ds := range r.Datasets {
		set[ds] = true
	}
	out := make([]string, 0, len(set))
	for ds := range set {
		out = append(out, ds)
	}
	sort.Strings(out)
	return out
}

// pick returns the dataset for a record, or "" and the reason it cannot be routed.
func (r *Route) pick(value []byte) (ds, reason string) {
	if r.Field == "" {
		return r.Dataset, ""
	}
	v, reason := fieldString(value, r.Field)
	if reason != "" {
		return "", reason
	}
	if ds, ok := r.Datasets[v]; ok {
		return ds, ""
	}
	if r.Default != "" {
		return r.Default, ""
	}
	return "", fmt.Sprintf("field %q: %s routes to no dataset", r.Field, echo(v))
}

// fieldString finds the string value of a top-level key in a JSON object without decoding
// the rest: routing runs on every record before validation, which is the decoder's job. It
// is lenient (a malformed record that it can route is refused by the decoder with a precise
// reason) but never wrong about a well-formed one (FuzzFieldString).
func fieldString(data []byte, field string) (string, string) {
	s := lexer{data: data}
	s.ws()
	if !s.byte('{') {
		return "", "expected a JSON object"
	}
	var found *string
	for first := true; ; first = false {
		s.ws()
		if s.byte('}') {
			break
		}
		if !first && !s.byte(',') {
			return "", "invalid JSON object"
		}
		s.ws()
		key, ok := s.str()
		if !ok {
			return "", "invalid JSON object"
		}
		s.ws()
		if !s.byte(':') {
			return "", "invalid JSON object"
		}
		s.ws()
		match := jsonStringEquals(key, field)
		if match && found != nil {
			return "", fmt.Sprintf("field %q: given more than once", field)
		}
		if match && s.peek() == '"' {
			raw, ok := s.str()
			if !ok {
				return "", "invalid JSON object"
			}
			v, ok := unquote(raw)
			if !ok {
				return "", fmt.Sprintf("field %q: invalid string", field)
			}
			found = &v
			continue
		}
		if match {
			return "", fmt.Sprintf("field %q: expected a string to route by, got %s", field, kindOf(s.peek()))
		}
		if !s.skip() {
			return "", "invalid JSON object"
		}
	}
	if found == nil {
		return "", fmt.Sprintf("field %q: missing; records are routed by it", field)
	}
	return *found, ""
}

// jsonStringEquals compares a raw JSON string literal (quotes included) with s.
func jsonStringEquals(raw []byte, s string) bool {
	inner := raw[1 : len(raw)-1]
	if !strings.Contains(string(inner), `\`) {
		return string(inner) == s
	}
	v, ok := unquote(raw)
	return ok && v == s
}

func unquote(raw []byte) (string, bool) {
	inner := raw[1 : len(raw)-1]
	// Invalid UTF-8 goes the slow way too: encoding/json turns it into U+FFFD, as the
	// decoder's rules would refuse it anyway.
	if utf8.Valid(inner) && !strings.ContainsAny(string(inner), "\\\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f") {
		return string(inner), true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '"':
		return "string"
	}
	return "number"
}

// echo quotes a value for a reason, shortened to 40 bytes.
func echo(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return fmt.Sprintf("%q", v)
}

// lexer is a minimal JSON tokenizer over one record.
type lexer struct {
	data []byte
	pos  int
}

func (s *lexer) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *lexer) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *lexer) byte(c byte) bool {
	if s.peek() == c && s.pos < len(s.data) {
		s.pos++
		return true
	}
	return false
}

// str reads a string literal and returns it with its quotes.
func (s *lexer) str() ([]byte, bool) {
	start := s.pos
	if !s.byte('"') {
		return nil, false
	}
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '\\':
			s.pos += 2
		case '"':
			s.pos++
			return s.data[start:s.pos], true
		default:
			s.pos++
		}
	}
	return nil, false
}

// skip passes over one value (not validating its insides beyond nesting and strings).
func (s *lexer) skip() bool {
	depth := 0
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
		case '{', '[':
			depth++
			s.pos++
		case '}', ']':
			if depth == 0 {
				return true // the enclosing object's end
			}
			depth--
			s.pos++
		case ',':
			if depth == 0 {
				return true
			}
			s.pos++
		default:
			s.pos++
		}
		if depth == 0 {
			// A scalar ends at the next ',' or '}' of the enclosing object; a container
			// has just been closed.
			if s.pos > 0 && (s.data[s.pos-1] == '}' || s.data[s.pos-1] == ']' || s.data[s.pos-1] == '"') {
				return true
			}
		}
	}
	return depth == 0
}
