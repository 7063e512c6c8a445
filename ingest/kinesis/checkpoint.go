package kinesis

import (
	"context"
	"fmt"
	"strings"

	"github.com/olapgate/olapgate/store"
)

// PendingPrefix starts the checkpoint of a shard whose range of records is about to be
// inserted into ClickHouse: "pending:<first>:<last>", the sequence numbers of its first and
// last records. Everything before first is done; the range may or may not have landed, so it
// is read again and inserted again with the same tokens before anything after it.
const PendingPrefix = "pending:"

// checkpoints keeps a source's shard positions: the embedded store's positions table (rows
// and positions there in one commit, or the positions alone when the rows go to ClickHouse),
// or a lease table.
type checkpoints interface {
	// load returns the stored position of each shard this consumer may read.
	load(ctx context.Context) (map[string]string, error)
	// save moves shards from their Prev positions to their Next ones. A refused move (another
	// consumer moved the shard, or holds its lease now) wraps store.ErrPositionConflict.
	save(ctx context.Context, moves []store.Position) error
}

// storePositions are the positions a store.PositionedWriter keeps under the source's key.
type storePositions struct {
	st     store.PositionedWriter
	source string
}

func (p storePositions) load(ctx context.Context) (map[string]string, error) {
	return p.st.Positions(ctx, p.source)
}

func (p storePositions) save(ctx context.Context, moves []store.Position) error {
	if len(moves) == 0 {
		return nil
	}
	_, err := p.st.WritePositioned(ctx, p.source, nil, moves)
	return err
}

// pendingPosition is the checkpoint of a range about to be inserted.
func pendingPosition(first, last string) string { return PendingPrefix + first + ":" + last }

// parsePending splits a pending checkpoint; ok is false for any other position, and an error
// says why one that starts like a pending checkpoint is not one.
func parsePending(pos string) (first, last string, ok bool, err error) {
	rest, found := strings.CutPrefix(pos, PendingPrefix)
	if !found {
		return "", "", false, nil
	}
	first, last, found = strings.Cut(rest, ":")
	if !found || !isSeq(first) || !isSeq(last) || seqAfter(first, last) {
		return "", "", false, fmt.Errorf("checkpoint %q: want %s<first>:<last>, two sequence numbers in order", pos, PendingPrefix)
	}
	return first, last, true, nil
}

// isSeq reports a Kinesis sequence number: 1 to 128 decimal digits.
func isSeq(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
