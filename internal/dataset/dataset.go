// Package dataset defines datasets: named, typed event schemas declared in the config.
package dataset

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Type is a field's type.
type Type string

// Field types (DESIGN §4). Metrics are int or float.
const (
	String    Type = "string"
	Int       Type = "int"
	Float     Type = "float"
	Bool      Type = "bool"
	Timestamp Type = "timestamp"
)

// Backends a dataset can live on.
const (
	BackendEmbedded   = "embedded"
	BackendPinot      = "pinot"
	BackendClickHouse = "clickhouse"
	BackendSynthetic  = "synthetic"
)

// Role says what a column is for.
type Role int

// Column roles.
const (
	RoleTime Role = iota
	RoleDimension
	RoleMetric
)

// Field is one declared field.
type Field struct {
	Name string `yaml:"name" json:"name"`
	Type Type   `yaml:"type" json:"type"`
}

// Dataset is a dataset as declared in the YAML config; key names are the contract.
type Dataset struct {
	Name         string   `yaml:"name"`
	TimeColumn   string   `yaml:"timeColumn"`
	EventID      string   `yaml:"eventId,omitempty"`
	TenantColumn string   `yaml:"tenantColumn,omitempty"`
	PrimaryKey   []string `yaml:"primaryKey,omitempty"`
	Backend      string   `yaml:"backend,omitempty"`
	Dimensions   []Field  `yaml:"dimensions"`
	Metrics      []Field  `yaml:"metrics"`
	// MaxTimeout caps this dataset's query timeout below the server's query.maxTimeout
	// (e.g. a small one for a dataset that backs interactive dashboards); 0: the server's.
	MaxTimeout time.Duration `yaml:"maxTimeout,omitempty"`

	cols  []Column
	index map[string]int
}

// Column is one stored column, in table order.
type Column struct {
	Name string
	Type Type
	Role Role
	// Index is the column's position in Columns().
	Index int
}

// identRE restricts names to what every backend accepts unquoted-safe; they are still quoted.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// MaxFields bounds the number of columns in a dataset.
const MaxFields = 1000

// Validate checks the declaration and prepares the column index. It must be called (Config does)
// before Columns or Column are used.
func (d *Dataset) Validate() error {
	if !identRE.MatchString(d.Name) {
		return fmt.Errorf("dataset name %q: must match %s", d.Name, identRE)
	}
	if strings.HasPrefix(d.Name, "_") {
		return fmt.Errorf("dataset name %q: names starting with _ are reserved", d.Name)
	}
	if d.Backend == "" {
		d.Backend = BackendEmbedded
	}
	switch d.Backend {
	case BackendEmbedded, BackendPinot, BackendClickHouse, BackendSynthetic:
	default:
		return fmt.Errorf("dataset %s: backend %q: want embedded, pinot, clickhouse or synthetic", d.Name, d.Backend)
	}
	if d.MaxTimeout < 0 {
		return fmt.Errorf("dataset %s: maxTimeout %s: must not be negative", d.Name, d.MaxTimeout)
	}
	if d.TimeColumn == "" {
		return fmt.Errorf("dataset %s: timeColumn is required", d.Name)
	}
	cols := []Column{{Name: d.TimeColumn, Type: Timestamp, Role: RoleTime}}
	for _, f := range d.Dimensions {
		switch f.Type {
		case String, Int, Float, Bool, Timestamp:
		default:
			return fmt.Errorf("dataset %s: dimension %s: type %q: want string, int, float, bool or timestamp", d.Name, f.Name, f.Type)
		}
		cols = append(cols, Column{Name: f.Name, Type: f.Type, Role: RoleDimension})
	}
	for _, f := range d.Metrics {
		switch f.Type {
		case Int, Float:
		default:
			return fmt.Errorf("dataset %s: metric %s: type %q: want int or float", d.Name, f.Name, f.Type)
		}
		cols = append(cols, Column{Name: f.Name, Type: f.Type, Role: RoleMetric})
	}
	// eventId and tenantColumn name string columns; declare them implicitly when the config
	// does not list them as dimensions, so the sample config can say just `eventId: id`.
	for _, extra := range []string{d.EventID, d.TenantColumn} {
		if extra == "" {
			continue
		}
		found := false
		for _, c := range cols {
			if c.Name == extra {
				found = true
				if c.Type != String && c.Type != Int {
					return fmt.Errorf("dataset %s: field %s: eventId/tenantColumn must be string or int, not %s", d.Name, extra, c.Type)
				}
			}
		}
		if !found {
			cols = append(cols, Column{Name: extra, Type: String, Role: RoleDimension})
		}
	}
	if len(cols) > MaxFields {
		return fmt.Errorf("dataset %s: %d fields: at most %d", d.Name, len(cols), MaxFields)
	}
	index := make(map[string]int, len(cols))
	for i := range cols {
		c := &cols[i]
		if !identRE.MatchString(c.Name) {
			return fmt.Errorf("dataset %s: field name %q: must match %s", d.Name, c.Name, identRE)
		}
		if strings.HasPrefix(c.Name, "__") {
			return fmt.Errorf("dataset %s: field name %q: names starting with __ are reserved", d.Name, c.Name)
		}
		if _, dup := index[strings.ToLower(c.Name)]; dup {
			return fmt.Errorf("dataset %s: field %s declared twice (names are case-insensitive)", d.Name, c.Name)
		}
		c.Index = i
		index[strings.ToLower(c.Name)] = i
	}
	for _, k := range d.PrimaryKey {
		if _, ok := index[strings.ToLower(k)]; !ok {
			return fmt.Errorf("dataset %s: primaryKey field %s is not declared", d.Name, k)
		}
	}
	d.cols = cols
	d.index = index
	return nil
}

// Columns lists the stored columns in table order: time column, dimensions, metrics, then the
// implicit eventId/tenant columns.
func (d *Dataset) Columns() []Column { return d.cols }

// Column finds a column by name. Names are matched exactly first, then case-insensitively,
// as DuckDB and ClickHouse identifiers would be.
func (d *Dataset) Column(name string) (Column, bool) {
	i, ok := d.index[strings.ToLower(name)]
	if !ok {
		return Column{}, false
	}
	return d.cols[i], true
}

// Sample is the built-in pageviews dataset olapgate serves when no config is given.
func Sample() *Dataset {
	d := &Dataset{
		Name:         "pageviews",
		TimeColumn:   "time",
		EventID:      "id",
		TenantColumn: "tenant",
		Backend:      BackendEmbedded,
		Dimensions: []Field{
			{Name: "page", Type: String}, {Name: "country", Type: String},
			{Name: "device", Type: String}, {Name: "user_id", Type: String},
		},
		Metrics: []Field{{Name: "duration_ms", Type: Int}, {Name: "bytes", Type: Int}},
	}
	if err := d.Validate(); err != nil {
		panic(err)
	}
	return d
}
