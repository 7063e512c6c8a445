package pinot

import (
	"encoding/json"
	"fmt"

	"github.com/olapgate/olapgate/internal/dataset"
)

// Schema is a Pinot table schema (POST /schemas on the controller), as
// docs.pinot.apache.org/configuration-reference/schema describes it.
type Schema struct {
	SchemaName string `json:"schemaName"`
	// EnableColumnBasedNullHandling makes every column nullable unless its spec says notNull:
	// olapgate's fields are nullable, and its queries run with enableNullHandling=true.
	EnableColumnBasedNullHandling bool                `json:"enableColumnBasedNullHandling"`
	DimensionFieldSpecs           []FieldSpec         `json:"dimensionFieldSpecs,omitempty"`
	MetricFieldSpecs              []FieldSpec         `json:"metricFieldSpecs,omitempty"`
	DateTimeFieldSpecs            []DateTimeFieldSpec `json:"dateTimeFieldSpecs"`
	PrimaryKeyColumns             []string            `json:"primaryKeyColumns,omitempty"`
}

// FieldSpec is a dimension or metric column.
type FieldSpec struct {
	Name     string `json:"name"`
	DataType string `json:"dataType"`
	NotNull  bool   `json:"notNull,omitempty"`
}

// DateTimeFieldSpec is a time column.
type DateTimeFieldSpec struct {
	Name        string `json:"name"`
	DataType    string `json:"dataType"`
	Format      string `json:"format"`
	Granularity string `json:"granularity"`
	NotNull     bool   `json:"notNull,omitempty"`
}

// Pinot spellings of olapgate's time representation: epoch milliseconds in a LONG.
const (
	timeDataType    = "LONG"
	timeFormat      = "1:MILLISECONDS:EPOCH"
	timeGranularity = "1:MILLISECONDS"
)

// SchemaFor maps a dataset to the Pinot schema its table must have; the planner's Pinot
// dialect (planner/pinot.go) relies on exactly this mapping:
//
//   - the time column: a dateTimeFieldSpec, LONG epoch milliseconds (1:MILLISECONDS:EPOCH),
//     not null; planned SQL compares it with integer millisecond literals and buckets it by
//     integer arithmetic, and answers come back as numbers (a TIMESTAMP column would answer
//     "2026-11-22 10:00:00.0" strings and needs casts for arithmetic);
//   - timestamp dimensions: dateTimeFieldSpecs of the same form, so they stay numeric for
//     comparisons and MIN/MAX;
//   - string → STRING, int → LONG, float → DOUBLE, bool → BOOLEAN dimensions; int and float
//     metrics → LONG and DOUBLE metricFieldSpecs;
//   - dataset.PrimaryKey → primaryKeyColumns (for an upsert table), in the schema's spelling,
//     and those columns not null.
//
// STRING columns keep Pinot's default maxLength (512 characters; longer values are cut at
// ingestion).
func SchemaFor(d *dataset.Dataset) (*Schema, error) {
	cols := d.Columns()
	if len(cols) == 0 {
		return nil, fmt.Errorf("pinot schema for dataset %s: dataset is not validated", d.Name)
	}
	s := &Schema{SchemaName: d.Name, EnableColumnBasedNullHandling: true, DateTimeFieldSpecs: []DateTimeFieldSpec{}}
	pk := map[string]bool{}
	for _, k := range d.PrimaryKey {
		c, ok := d.Column(k)
		if !ok {
			return nil, fmt.Errorf("pinot schema for dataset %s: primaryKey field %s is not a column", d.Name, k)
		}
		pk[c.Name] = true
		s.PrimaryKeyColumns = append(s.PrimaryKeyColumns, c.Name)
	}
	for _, c := range cols {
		if c.Role == dataset.RoleTime || c.Type == dataset.Timestamp {
			s.DateTimeFieldSpecs = append(s.DateTimeFieldSpecs, DateTimeFieldSpec{
				Name: c.Name, DataType: timeDataType, Format: timeFormat, Granularity: timeGranularity,
				NotNull: c.Role == dataset.RoleTime || pk[c.Name],
			})
			continue
		}
		var typ string
		switch c.Type {
		case dataset.String:
			typ = "STRING"
		case dataset.Int:
			typ = "LONG"
		case dataset.Float:
			typ = "DOUBLE"
		case dataset.Bool:
			typ = "BOOLEAN"
		default:
			return nil, fmt.Errorf("pinot schema for dataset %s: field %s has type %q, which has no Pinot mapping", d.Name, c.Name, c.Type)
		}
		f := FieldSpec{Name: c.Name, DataType: typ, NotNull: pk[c.Name]}
		if c.Role == dataset.RoleMetric {
			s.MetricFieldSpecs = append(s.MetricFieldSpecs, f)
		} else {
			s.DimensionFieldSpecs = append(s.DimensionFieldSpecs, f)
		}
	}
	return s, nil
}

// JSON is the schema as the controller takes it.
func (s *Schema) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode pinot schema %s: %w", s.SchemaName, err)
	}
	return append(b, '\n'), nil
}
