package kinesis

import (
	"strings"
	"testing"
)

func TestParsePending(t *testing.T) {
	for _, tc := range []struct {
		pos, first, last string
		ok               bool
		err              string
	}{
		{pos: ""},
		{pos: "4968"},
		{pos: ClosedPrefix + "4968"},
		{pos: "pending:1:2", first: "1", last: "2", ok: true},
		{pos: "pending:7:7", first: "7", last: "7", ok: true},
		{pos: "pending:10:9", err: "in order"},
		{pos: "pending:1", err: "two sequence numbers"},
		{pos: "pending::2", err: "two sequence numbers"},
		{pos: "pending:1:x", err: "two sequence numbers"},
		{pos: "pending:1:2:3", err: "two sequence numbers"},
	} {
		t.Run(tc.pos, func(t *testing.T) {
			first, last, ok, err := parsePending(tc.pos)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want mention of %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || first != tc.first || last != tc.last {
				t.Fatalf("= %q %q %v %v, want %q %q %v", first, last, ok, err, tc.first, tc.last, tc.ok)
			}
		})
	}
}

// Checkpoints are read back from the store or the lease table, which anything may have
// written: parsePending must never panic, and what it accepts must round-trip.
func FuzzParsePending(f *testing.F) {
	for _, s := range []string{"", "pending:1:2", "pending:10:9", "pending:", "closed:5", "pending:0001:1", "pending:1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pos string) {
		first, last, ok, err := parsePending(pos)
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		if !isSeq(first) || !isSeq(last) || seqAfter(first, last) {
			t.Fatalf("accepted %q: %q %q", pos, first, last)
		}
		if got := pendingPosition(first, last); got != pos {
			t.Fatalf("round trip of %q: %q", pos, got)
		}
	})
}
