package store

import (
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
)

func TestBatchKeepAndAppend(t *testing.T) {
	d := dataset.Sample()
	b := NewBatch(d, 4)
	for i := range 4 {
		for c, col := range d.Columns() {
			cb := &b.Cols[c]
			switch col.Type {
			case dataset.String:
				cb.Strings = append(cb.Strings, string(rune('a'+i)))
			case dataset.Int:
				cb.Ints = append(cb.Ints, int64(i))
			case dataset.Timestamp:
				cb.Times = append(cb.Times, int64(i)*1e6)
			}
		}
		b.N++
	}
	page := d.Columns()[1].Index
	b.Cols[page].Null = []bool{false, true, false, false}

	o := NewBatch(d, 0)
	o.Append(b)
	b.Keep([]bool{true, true, false, true})
	if b.N != 3 || b.Cols[0].Times[2] != 3e6 || b.Cols[page].Strings[2] != "d" || !b.Cols[page].IsNull(1) || b.Cols[page].IsNull(2) {
		t.Fatalf("after Keep: %+v", b.Cols[page])
	}
	for i := range b.Cols {
		c := &b.Cols[i]
		if n := len(c.Strings) + len(c.Ints) + len(c.Times); n != 3 || (c.Null != nil && len(c.Null) != 3) {
			t.Fatalf("column %d has %d values", i, n)
		}
	}
	if o.N != 4 || o.Cols[page].Value(1) != nil || o.Cols[0].Value(3) != time.UnixMicro(3e6).UTC() {
		t.Fatalf("Append copy changed or wrong: %v %v", o.Cols[page].Value(1), o.Cols[0].Value(3))
	}
}
