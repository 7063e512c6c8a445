package pinotsink

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// FuzzRecordValue: whatever a string or float holds, the record value is valid JSON that
// reads back as the row (strings with invalid UTF-8 get U+FFFD, as encoding/json does).
func FuzzRecordValue(f *testing.F) {
	f.Add("plain", 1.5, int64(3), true)
	f.Add("quote \" backslash \\ \n\t\r \x00 \x1f \u2028 \u2029 é 日本", -0.0, int64(-1), false)
	f.Add("\xff\xfe bad utf8", math.Inf(1), int64(math.MinInt64), true)
	f.Add("", math.NaN(), int64(math.MaxInt64), false)
	f.Add("</script>", 1e300, int64(0), true)
	d := &dataset.Dataset{Name: "f", TimeColumn: "time",
		Dimensions: []dataset.Field{{Name: "s", Type: dataset.String}, {Name: "b", Type: dataset.Bool}},
		Metrics:    []dataset.Field{{Name: "x", Type: dataset.Float}, {Name: "n", Type: dataset.Int}}}
	if err := d.Validate(); err != nil {
		f.Fatal(err)
	}
	enc, err := newEncoder(d)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, x float64, n int64, b bool) {
		bt := store.NewBatch(d, 1)
		bt.Cols[0].Times = append(bt.Cols[0].Times, 1_795_341_600_123_456)
		bt.Cols[1].Strings = append(bt.Cols[1].Strings, s)
		bt.Cols[2].Bools = append(bt.Cols[2].Bools, b)
		bt.Cols[3].Floats = append(bt.Cols[3].Floats, x)
		bt.Cols[4].Ints = append(bt.Cols[4].Ints, n)
		bt.N = 1
		_, v := enc.row(bt, 0, nil)
		var got struct {
			Time int64    `json:"time"`
			S    string   `json:"s"`
			B    bool     `json:"b"`
			X    *float64 `json:"x"`
			N    int64    `json:"n"`
		}
		if err := json.Unmarshal(v, &got); err != nil {
			t.Fatalf("value %q is not JSON: %v", v, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = strings.ToValidUTF8(s, "\ufffd")
			// encoding/json replaces each invalid byte; compare only what both agree on.
			if strings.ReplaceAll(got.S, "\ufffd", "") != strings.ReplaceAll(want, "\ufffd", "") {
				t.Fatalf("string %q read back as %q", s, got.S)
			}
		} else if got.S != want {
			t.Fatalf("string %q read back as %q", s, got.S)
		}
		if got.Time != 1_795_341_600_123 || got.B != b || got.N != n {
			t.Fatalf("row read back as %+v", got)
		}
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			if got.X != nil {
				t.Fatalf("%v written as %v, want null", x, *got.X)
			}
		case got.X == nil || *got.X != x:
			t.Fatalf("float %v read back as %v", x, got.X)
		}
	})
}
