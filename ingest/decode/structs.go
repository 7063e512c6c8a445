package decode

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// Structs decodes gRPC events into a new batch for d under the same rules as JSON: a
// structpb number is a JSON number, a missing Kind or nil Value is null, and a nil Struct is
// rejected as a null element. The error is non-nil only when there are more events than lim
// allows (wrapping ErrTooManyEvents). The batch is never nil when the error is nil.
func (dec *Decoder) Structs(d *dataset.Dataset, events []*structpb.Struct, indexBase int, lim Limits) (*store.Batch, []Rejection, error) {
	if lim.over(len(events)) {
		return nil, nil, tooMany("request", lim.MaxEvents)
	}
	tab := dec.use(d)
	b := store.NewBatch(d, len(events))
	dec.rw.start(b, tab)
	defer dec.done(b)
	w := &dec.rw
	var rej []Rejection
	for i, ev := range events {
		if ev == nil {
			rej = append(rej, Rejection{Index: indexBase + i, Reason: reasonNotObject('n')})
			continue
		}
		w.begin()
		for k, v := range ev.GetFields() {
			col, rank := tab.lookupString(k, &dec.fold)
			if col >= 0 && w.claim(col, rank) {
				dec.structValue(col, v)
			}
		}
		if reason := w.end(); reason != "" {
			rej = append(rej, Rejection{Index: indexBase + i, Reason: reason})
		}
	}
	return b, rej, nil
}

// lookupString is lookup for a key that is already a string.
func (t *table) lookupString(key string, buf *[]byte) (int, uint8) {
	if i, ok := t.exact[key]; ok {
		return i, rankExact
	}
	if len(key) > t.maxKey {
		return -1, rankNone
	}
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			if c, ok := t.d.Column(key); ok {
				return c.Index, rankFold
			}
			return -1, rankNone
		}
	}
	*buf = lowerASCII((*buf)[:0], key)
	if i, ok := t.folded[string(*buf)]; ok {
		return i, rankFold
	}
	return -1, rankNone
}

// structValue decodes one structpb value into column col of the current row.
func (dec *Decoder) structValue(col int, v *structpb.Value) {
	w := &dec.rw
	c := &dec.tab.cols[col]
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		w.setNull(col)
	case *structpb.Value_StringValue:
		s := k.StringValue
		switch c.Type {
		case dataset.String:
			switch {
			case len(s) > MaxStringBytes:
				w.fail(col, reasonStringSize(c.Name, len(s)))
			case !utf8.ValidString(s):
				w.fail(col, reasonUTF8(c.Name))
			default:
				w.setString(col, s)
			}
		case dataset.Timestamp:
			micros, ok, inRange := timeFromRFC3339(s)
			switch {
			case !ok:
				w.fail(col, reasonBadTime(c.Name, s))
			case !inRange:
				w.fail(col, reasonTimeRange(c.Name, s, true))
			default:
				w.setTime(col, micros)
			}
		default:
			w.fail(col, reasonType(c.Name, wantName(c.Type), "string"))
		}
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail(col, reasonNotFinite(c.Name, formatFloat(f)))
			return
		}
		switch c.Type {
		case dataset.Int:
			switch v, p := floatInt(f); p {
			case numOK:
				w.setInt(col, v)
			case numNotIntegral:
				w.fail(col, reasonNotIntegral(c.Name, "int", formatFloat(f)))
			default:
				w.fail(col, reasonIntRange(c.Name, formatFloat(f)))
			}
		case dataset.Float:
			w.setFloat(col, f)
		case dataset.Timestamp:
			ms, p := floatInt(f)
			if p == numNotIntegral {
				w.fail(col, reasonNotIntegral(c.Name, wantTime, formatFloat(f)))
				return
			}
			micros, ok := timeFromEpochMs(ms)
			if p != numOK || !ok {
				w.fail(col, reasonTimeRange(c.Name, formatFloat(f), false))
				return
			}
			w.setTime(col, micros)
		default:
			w.fail(col, reasonType(c.Name, wantName(c.Type), "number"))
		}
	case *structpb.Value_BoolValue:
		if c.Type == dataset.Bool {
			w.setBool(col, k.BoolValue)
		} else {
			w.fail(col, reasonType(c.Name, wantName(c.Type), "bool"))
		}
	case *structpb.Value_StructValue:
		w.fail(col, reasonType(c.Name, wantName(c.Type), "object"))
	case *structpb.Value_ListValue:
		w.fail(col, reasonType(c.Name, wantName(c.Type), "array"))
	}
}
