package kinesis

import (
	"bytes"
	"crypto/md5" //nolint:gosec // the KPL aggregation format's checksum, not a security measure
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// kplMagic starts a record aggregated by the Kinesis Producer Library: the magic, a protobuf
// AggregatedRecord, then the MD5 of the protobuf bytes.
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// subRecord is one user record of an aggregated Kinesis record.
type subRecord struct {
	key  []byte // its partition key
	data []byte
}

// deaggregate splits a KPL-aggregated record into its user records; ok is false when data is
// not one (no magic, a checksum mismatch, a malformed or empty message), and the record is
// then taken as it is, as the KCL does. The sub-records alias data.
func deaggregate(data []byte) (recs []subRecord, ok bool) {
	if len(data) < len(kplMagic)+md5.Size || !bytes.HasPrefix(data, kplMagic) {
		return nil, false
	}
	msg := data[len(kplMagic) : len(data)-md5.Size]
	if sum := md5.Sum(msg); !bytes.Equal(sum[:], data[len(data)-md5.Size:]) { //nolint:gosec // see the import
		return nil, false
	}
	var keys [][]byte
	var raw [][]byte // the Record messages, read once every key is known
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, false
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, false
			}
			keys = append(keys, v)
			msg = msg[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, false
			}
			raw = append(raw, v)
			msg = msg[n:]
		case num == 1 || num == 3:
			return nil, false // a known field of the wrong wire type
		default: // explicit hash keys (2), and fields this reader does not know
			n := protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return nil, false
			}
			msg = msg[n:]
		}
	}
	if len(raw) == 0 {
		return nil, false // nothing would be stored, silently: keep the record whole
	}
	recs = make([]subRecord, 0, len(raw))
	for _, r := range raw {
		sub, ok := subRecordOf(r, keys)
		if !ok {
			return nil, false
		}
		recs = append(recs, sub)
	}
	return recs, true
}

// subRecordOf decodes one Record message.
func subRecordOf(msg []byte, keys [][]byte) (subRecord, bool) {
	var sub subRecord
	keyIndex := uint64(math.MaxUint64)
	hasData := false
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return subRecord{}, false
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return subRecord{}, false
			}
			keyIndex = v
			msg = msg[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return subRecord{}, false
			}
			sub.data, hasData = v, true
			msg = msg[n:]
		case num == 1 || num == 3:
			return subRecord{}, false
		default: // explicit hash key index (2), tags (4), unknown fields
			n := protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return subRecord{}, false
			}
			msg = msg[n:]
		}
	}
	if !hasData || keyIndex >= uint64(len(keys)) {
		return subRecord{}, false // both are required
	}
	sub.key = keys[keyIndex]
	if sub.data == nil {
		sub.data = []byte{} // present but empty: not a missing value
	}
	return sub, true
}
