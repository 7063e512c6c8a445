package kinesis

import (
	"bytes"
	"crypto/md5" //nolint:gosec // the KPL format's checksum
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// kplRecord is a user record for aggregate.
type kplRecord struct {
	key, data string
}

// aggregate encodes records as the Kinesis Producer Library does, with an explicit hash key
// and a tag on the first one so that the reader must skip them.
func aggregate(recs ...kplRecord) []byte {
	var msg []byte
	index := map[string]uint64{}
	for _, r := range recs {
		if _, ok := index[r.key]; !ok {
			index[r.key] = uint64(len(index))
			msg = protowire.AppendTag(msg, 1, protowire.BytesType)
			msg = protowire.AppendString(msg, r.key)
		}
	}
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "170141183460469231731687303715884105728")
	for i, r := range recs {
		var rec []byte
		rec = protowire.AppendTag(rec, 1, protowire.VarintType)
		rec = protowire.AppendVarint(rec, index[r.key])
		if i == 0 {
			rec = protowire.AppendTag(rec, 2, protowire.VarintType)
			rec = protowire.AppendVarint(rec, 0)
		}
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendString(rec, r.data)
		if i == 0 {
			var tag []byte
			tag = protowire.AppendTag(tag, 1, protowire.BytesType)
			tag = protowire.AppendString(tag, "k")
			rec = protowire.AppendTag(rec, 4, protowire.BytesType)
			rec = protowire.AppendBytes(rec, tag)
		}
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rec)
	}
	return seal(msg)
}

// seal frames a protobuf message: magic, message, MD5.
func seal(msg []byte) []byte {
	sum := md5.Sum(msg) //nolint:gosec // the KPL format's checksum
	return append(append(append([]byte{}, kplMagic...), msg...), sum[:]...)
}

func TestDeaggregate(t *testing.T) {
	recs := []kplRecord{{"a", `{"seq": 1}`}, {"b", `{"seq": 2}`}, {"a", ""}, {"c", `{"seq": 4}`}}
	got, ok := deaggregate(aggregate(recs...))
	if !ok || len(got) != len(recs) {
		t.Fatalf("deaggregate: ok %v, %d records, want %d", ok, len(got), len(recs))
	}
	for i, r := range recs {
		if string(got[i].key) != r.key || string(got[i].data) != r.data || got[i].data == nil {
			t.Errorf("record %d = %q %q, want %q %q", i, got[i].key, got[i].data, r.key, r.data)
		}
	}

	field := func(num protowire.Number, typ protowire.Type, v []byte) []byte {
		b := protowire.AppendTag(nil, num, typ)
		if typ == protowire.VarintType {
			return protowire.AppendVarint(b, uint64(len(v)))
		}
		return protowire.AppendBytes(b, v)
	}
	record := func(parts ...[]byte) []byte { return field(3, protowire.BytesType, bytes.Join(parts, nil)) }
	keyA := field(1, protowire.BytesType, []byte("a"))
	idx0 := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0)
	idx1 := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
	data := field(3, protowire.BytesType, []byte(`{}`))
	good := bytes.Join([][]byte{keyA, record(idx0, data)}, nil)
	if _, ok := deaggregate(seal(good)); !ok {
		t.Fatal("minimal aggregate refused")
	}
	badSum := seal(good)
	badSum[len(badSum)-1] ^= 1
	for name, in := range map[string][]byte{
		"json":               []byte(`{"seq": 1}`),
		"empty":              nil,
		"magic only":         kplMagic,
		"bad checksum":       badSum,
		"no records":         seal(keyA),
		"key out of range":   seal(bytes.Join([][]byte{keyA, record(idx1, data)}, nil)),
		"no key index":       seal(bytes.Join([][]byte{keyA, record(data)}, nil)),
		"no data":            seal(bytes.Join([][]byte{keyA, record(idx0)}, nil)),
		"record as varint":   seal(bytes.Join([][]byte{keyA, field(3, protowire.VarintType, []byte("xx"))}, nil)),
		"key as varint":      seal(bytes.Join([][]byte{field(1, protowire.VarintType, nil), record(idx0, data)}, nil)),
		"data as varint":     seal(bytes.Join([][]byte{keyA, record(idx0, field(3, protowire.VarintType, nil))}, nil)),
		"truncated message":  seal(good[:len(good)-1]),
		"truncated record":   seal(append(keyA, 0x1a, 0x10, 0x08)),
		"group wire type":    seal(append(keyA, 0x13)),
		"index as bytes":     seal(bytes.Join([][]byte{keyA, record(field(1, protowire.BytesType, []byte("x")), data)}, nil)),
		"bad varint in rec":  seal(bytes.Join([][]byte{keyA, record([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, data)}, nil)),
		"unknown field junk": seal(bytes.Join([][]byte{keyA, record(idx0, data), {0x7a}}, nil)),
	} {
		if recs, ok := deaggregate(in); ok {
			t.Errorf("%s: taken as an aggregate of %d records", name, len(recs))
		}
	}
	// Unknown fields are skipped, in the message and in a record.
	unknown := field(9, protowire.BytesType, []byte("future"))
	if recs, ok := deaggregate(seal(bytes.Join([][]byte{unknown, keyA, record(idx0, unknown, data)}, nil))); !ok || len(recs) != 1 {
		t.Errorf("unknown fields: ok %v, %d records", ok, len(recs))
	}
}

// FuzzDeaggregate: any input is either refused or split into records that, aggregated again,
// split the same way; nothing panics.
func FuzzDeaggregate(f *testing.F) {
	f.Add([]byte(`{"seq": 1}`))
	f.Add(aggregate(kplRecord{"a", `{"seq": 1}`}, kplRecord{"b", `{"seq": 2}`}))
	f.Add(aggregate(kplRecord{"k", ""}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDeaggregate(t, data)
		// The checksum keeps random bytes out of the message parser: frame them properly too.
		checkDeaggregate(t, seal(data))
	})
}

func checkDeaggregate(t *testing.T, data []byte) {
	{
		recs, ok := deaggregate(data)
		if !ok {
			if recs != nil {
				t.Fatal("refused with records")
			}
			return
		}
		if len(recs) == 0 {
			t.Fatal("an aggregate of no records")
		}
		again := make([]kplRecord, len(recs))
		for i, r := range recs {
			again[i] = kplRecord{string(r.key), string(r.data)}
		}
		back, ok := deaggregate(aggregate(again...))
		if !ok || len(back) != len(recs) {
			t.Fatalf("re-aggregated: ok %v, %d records, want %d", ok, len(back), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(back[i].key, recs[i].key) || !bytes.Equal(back[i].data, recs[i].data) {
				t.Fatalf("record %d changed: %q %q, was %q %q", i, back[i].key, back[i].data, recs[i].key, recs[i].data)
			}
		}
	}
}
