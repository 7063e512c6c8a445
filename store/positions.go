package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/olapgate/olapgate/internal/dataset"
)

// Position moves one partition of a stream source (a Kafka topic-partition, a Kinesis shard)
// from the position its writer believes is stored to the next one. Positions are opaque
// strings to the store (Kafka offsets in decimal, Kinesis sequence numbers), compared only for
// equality.
type Position struct {
	// Partition names the partition within the source, e.g. "clicks/3".
	Partition string
	// Prev is the position the writer expects to be stored; "" expects none.
	Prev string
	// Next is the position stored by the write.
	Next string
}

// ErrPositionConflict is matched (errors.Is) by the error of a positioned write refused
// because a partition's stored position is not the one the writer expected: another consumer
// took the partition over and moved it on. Nothing of the refused write is stored.
var ErrPositionConflict = errors.New("stream position conflict")

// PositionConflictError describes a refused positioned write.
type PositionConflictError struct {
	Source, Partition string
	// Expected is Position.Prev, Stored what the store holds ("" for none).
	Expected, Stored string
}

func (e *PositionConflictError) Error() string {
	return fmt.Sprintf("source %s partition %s: expected stored position %q, store has %q (another consumer moved it)",
		e.Source, e.Partition, e.Expected, e.Stored)
}

// Is makes errors.Is(err, ErrPositionConflict) hold.
func (e *PositionConflictError) Is(target error) bool { return target == ErrPositionConflict }

// PositionedWriter is a store that commits rows together with stream positions, so that a
// stream source gets an exactly-once effect: the stored position is the truth about what was
// consumed.
type PositionedWriter interface {
	// EnsureDataset is Store.EnsureDataset.
	EnsureDataset(ctx context.Context, d *dataset.Dataset) error
	// WritePositioned stores the batches (any datasets, each ensured) and moves the source's
	// partitions to their Next positions in one transaction, once durable. If any partition's
	// stored position is not its Prev, nothing is stored and the error wraps
	// ErrPositionConflict. If ctx ends first the write may or may not have been committed:
	// read Positions to find out.
	WritePositioned(ctx context.Context, source string, batches []*Batch, positions []Position) (WriteResult, error)
	// Positions returns the committed position of each partition of the source that has one.
	Positions(ctx context.Context, source string) (map[string]string, error)
}
