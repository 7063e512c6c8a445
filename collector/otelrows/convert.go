package otelrows

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// DefaultMaxFieldBytes bounds one stored text value (a log body, an attribute set's JSON, a
// span's events) when Options.MaxFieldBytes is 0. The exporter has no such bound, but one
// 5 MB attribute would otherwise sit in every query result that selects its column.
const DefaultMaxFieldBytes = 1 << 20

// Options bound and complete the conversion.
type Options struct {
	// MaxFieldBytes: an item (span, log record, data point) with a longer text value is
	// rejected, reported in the Result. 0: DefaultMaxFieldBytes.
	MaxFieldBytes int
	// Now is the time given to a log record that has neither a time nor an observed time.
	// Zero: time.Now().
	Now time.Time
	// Promoted are the attribute keys the batch's dataset has columns for (TracesDataset and
	// LogsDataset with the same keys): each is filled from the item's attributes, else its
	// resource's, as text; NULL when neither has it.
	Promoted []string
	// Deltas, when set, converts cumulative sums and histograms to deltas (AppendMetrics).
	Deltas *Deltas
}

// appendPromoted fills the promoted columns of row i, which start at column first.
func appendPromoted(b *store.Batch, first, i int, keys []string, item, resource pcommon.Map) {
	for k, key := range keys {
		col := &b.Cols[first+k]
		v, ok := item.Get(key)
		if !ok {
			v, ok = resource.Get(key)
		}
		if !ok {
			col.Strings = append(col.Strings, "")
			setNull(col, i)
			continue
		}
		col.Strings = append(col.Strings, v.AsString())
	}
}

func (o Options) maxField() int {
	if o.MaxFieldBytes > 0 {
		return o.MaxFieldBytes
	}
	return DefaultMaxFieldBytes
}

// Result says what a conversion appended and what it refused.
type Result struct {
	// Rows appended to the batch.
	Rows int
	// Rejected items (spans, log records, data points) and why the first was refused; OTLP
	// answers with both as a partial success.
	Rejected int64
	Reason   string
	// Dropped cumulative points that only seeded delta conversion (or repeated an earlier
	// point); they are accepted, not rejected.
	Dropped int64
	// Bytes estimates the memory the appended rows hold, for a byte-bounded buffer.
	Bytes int64
}

func (r *Result) reject(format string, args ...any) {
	if r.Rejected == 0 {
		r.Reason = fmt.Sprintf(format, args...)
	}
	r.Rejected++
}

// Message is the partial-success message: the count and the first reason.
func (r Result) Message(item string) string {
	if r.Rejected == 0 {
		return ""
	}
	if r.Rejected == 1 {
		return fmt.Sprintf("1 %s rejected: %s", item, r.Reason)
	}
	return fmt.Sprintf("%d %ss rejected; the first: %s", r.Rejected, item, r.Reason)
}

// micros converts an OTLP timestamp (nanoseconds since the epoch) to the store's microseconds.
func micros(ts pcommon.Timestamp) int64 { return int64(ts / 1000) }

// rowBytes estimates the memory of the row just appended to b at index i: string contents plus
// a word per value.
func rowBytes(b *store.Batch, i int) int64 {
	n := int64(0)
	for c := range b.Cols {
		col := &b.Cols[c]
		n += 16
		if col.Type == dataset.String {
			n += int64(len(col.Strings[i]))
		}
	}
	return n
}

// setNull marks row i of col null, creating the mask when it is the column's first null.
func setNull(col *store.ColumnBuf, i int) {
	if col.Null == nil {
		col.Null = make([]bool, i, i+64)
	}
	for len(col.Null) <= i {
		col.Null = append(col.Null, false)
	}
	col.Null[i] = true
}

// padNulls extends every null mask to n rows, so columns that had a null in an earlier row stay
// as long as the batch after rows without one.
func padNulls(b *store.Batch, n int) {
	for c := range b.Cols {
		col := &b.Cols[c]
		for col.Null != nil && len(col.Null) < n {
			col.Null = append(col.Null, false)
		}
	}
}

// serviceName is the resource's service.name, as the exporter reads it.
func serviceName(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}
