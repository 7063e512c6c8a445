package kinesis

import (
	"strings"
	"testing"

	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestDecodeLease(t *testing.T) {
	good := func() map[string]dtypes.AttributeValue {
		return map[string]dtypes.AttributeValue{
			attrKey: str("shardId-000000000002"), attrOwner: str("a"), attrCounter: num(7), attrEpoch: num(2),
			attrCheckpoint: str("pending:1:5"), attrParents: &dtypes.AttributeValueMemberSS{Value: []string{"shardId-000000000001", "shardId-000000000000"}},
		}
	}
	l, err := decodeLease(good())
	if err != nil {
		t.Fatal(err)
	}
	if l.shard != "shardId-000000000002" || l.owner != "a" || l.counter != 7 || l.epoch != 2 || l.checkpoint != "pending:1:5" ||
		len(l.parents) != 2 || l.parents[0] != "shardId-000000000000" {
		t.Fatalf("decoded %+v", l)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]dtypes.AttributeValue)
		want string
	}{
		{"no key", func(m map[string]dtypes.AttributeValue) { delete(m, attrKey) }, "without a string leaseKey"},
		{"numeric key", func(m map[string]dtypes.AttributeValue) { m[attrKey] = num(1) }, "without a string leaseKey"},
		{"no counter", func(m map[string]dtypes.AttributeValue) { delete(m, attrCounter) }, "leaseCounter is not a number"},
		{"negative epoch", func(m map[string]dtypes.AttributeValue) { m[attrEpoch] = num(-1) }, "leaseEpoch is not a whole number"},
		{"fractional counter", func(m map[string]dtypes.AttributeValue) {
			m[attrCounter] = &dtypes.AttributeValueMemberN{Value: "1.5"}
		}, "leaseCounter is not a whole number"},
		{"owner not a string", func(m map[string]dtypes.AttributeValue) { m[attrOwner] = num(1) }, "leaseOwner is not a string"},
		{"bad pending", func(m map[string]dtypes.AttributeValue) { m[attrCheckpoint] = str("pending:9:1") }, "in order"},
		{"three parents", func(m map[string]dtypes.AttributeValue) {
			m[attrParents] = &dtypes.AttributeValueMemberSS{Value: []string{"a", "b", "c"}}
		}, "at most two"},
		{"parents a list", func(m map[string]dtypes.AttributeValue) {
			m[attrParents] = &dtypes.AttributeValueMemberL{}
		}, "parentShardIds is not a string set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			if _, err := decodeLease(m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %q", err, tc.want)
			}
		})
	}
	// Absent owner and checkpoint: a free lease never committed.
	m := good()
	delete(m, attrOwner)
	delete(m, attrCheckpoint)
	delete(m, attrParents)
	if l, err := decodeLease(m); err != nil || l.owner != "" || l.checkpoint != "" || l.parents != nil {
		t.Fatalf("free lease: %+v %v", l, err)
	}
}

// Lease items come from a table anything may write: decodeLease must never panic, and what it
// accepts must be a lease the source can act on.
func FuzzDecodeLease(f *testing.F) {
	f.Add("shardId-000000000000", "a", "0", "0", "", "", "")
	f.Add("shardId-000000000002", "", "12", "3", "pending:1:2", "shardId-000000000000", "shardId-000000000001")
	f.Add("s", "b", "-1", "1e3", "closed:", "", "")
	f.Fuzz(func(t *testing.T, key, owner, counter, epoch, checkpoint, p1, p2 string) {
		m := map[string]dtypes.AttributeValue{attrKey: str(key), attrCounter: &dtypes.AttributeValueMemberN{Value: counter},
			attrEpoch: &dtypes.AttributeValueMemberN{Value: epoch}}
		if owner != "" {
			m[attrOwner] = str(owner)
		}
		if checkpoint != "" {
			m[attrCheckpoint] = str(checkpoint)
		}
		var parents []string
		for _, p := range []string{p1, p2} {
			if p != "" {
				parents = append(parents, p)
			}
		}
		if parents != nil {
			m[attrParents] = &dtypes.AttributeValueMemberSS{Value: parents}
		}
		l, err := decodeLease(m)
		if err != nil {
			return
		}
		if l.shard == "" || l.counter < 0 || l.epoch < 0 || len(l.parents) > 2 {
			t.Fatalf("accepted %+v", l)
		}
		if _, _, _, err := parsePending(l.checkpoint); err != nil {
			t.Fatalf("accepted checkpoint %q: %v", l.checkpoint, err)
		}
	})
}
