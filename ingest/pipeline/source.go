package pipeline

import (
	"context"
	"fmt"

	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// InsertWriter is a store over ClickHouse as a stream source needs it: Write must honour the
// insert token its context carries (clickhouse.WithInsertToken), dropping a block whose token
// the table has seen, so that a range inserted again with its tokens is stored once.
type InsertWriter interface {
	EnsureDataset(ctx context.Context, d *dataset.Dataset) error
	Write(ctx context.Context, b *store.Batch) (store.WriteResult, error)
}

// ValidateDeadLetter checks a source's dead-letter dataset name ("" for the default): it must
// not be a declared dataset (known reports those; nil skips that check), and must make a
// valid DeadLetterDataset.
func ValidateDeadLetter(name string, known func(string) bool) error {
	if known != nil && name != "" && known(name) {
		return fmt.Errorf("deadLetter dataset %s is a declared dataset; dead letters need their own", name)
	}
	_, err := DeadLetterDataset(name)
	return err
}

// Backends finds the backend of the datasets a source routes to, which must all be on one:
// embedded (rows and positions committed together) or clickhouse (idempotent inserts, then
// positions kept by the source); a source keeps its positions one way. The zero value is
// ready: Add each dataset, then read Backend.
type Backends struct {
	backend, first string
}

// Add takes the dataset name a source routes to, as declared (nil when it is not: validation
// reports those). Its error names the dataset that cannot be with the others; the caller says
// which source.
func (b *Backends) Add(name string, d *dataset.Dataset) error {
	if d == nil {
		return nil
	}
	be := d.Backend
	if be == "" {
		be = dataset.BackendEmbedded
	}
	switch be {
	case dataset.BackendEmbedded, dataset.BackendClickHouse:
	default:
		return fmt.Errorf("dataset %s uses the %s backend; stream sources write to the embedded store or to ClickHouse", name, be)
	}
	switch {
	case b.backend == "":
		b.backend, b.first = be, name
	case be != b.backend:
		return fmt.Errorf("dataset %s is on the %s backend and dataset %s on %s: one source's datasets must all be on one backend (positions are kept one way per source); use two sources", b.first, b.backend, name, be)
	}
	return nil
}

// Backend is the backend of the datasets added: embedded when none was declared.
func (b *Backends) Backend() string {
	if b.backend == "" {
		return dataset.BackendEmbedded
	}
	return b.backend
}
