package chdouble

import (
	"context"
	"errors"
	"testing"

	"github.com/olapgate/olapgate/store"
)

func batch(t *testing.T, from, to int) *store.Batch {
	t.Helper()
	return Batch(Dataset(t, "events"), from, to)
}

// A block whose token the table has seen is dropped whole; a Write whose hook fails has
// stored its blocks all the same; a block without a token is deduplicated by its content.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	c := New()
	b := batch(t, 0, 20) // 3 INSERTs of at most 7 rows
	if err := c.EnsureDataset(ctx, b.Dataset); err != nil {
		t.Fatal(err)
	}
	c.SetAfterWrite(func(n int) error {
		if n == 1 {
			return errors.New("lost answer")
		}
		return nil
	})
	if _, err := c.Write(c.WithToken(ctx, "r/0-19"), b); err == nil {
		t.Fatal("the hook's error was not returned")
	}
	if _, err := c.Write(c.WithToken(ctx, "r/0-19"), b); err != nil {
		t.Fatal(err)
	}
	if c.Dropped() != 3 || c.Writes() != 2 {
		t.Fatalf("dropped %d, writes %d; want 3 and 2", c.Dropped(), c.Writes())
	}
	c.ExactlyOnce(t, "events", 20)
	if _, err := c.Write(ctx, batch(t, 20, 27)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(ctx, batch(t, 20, 27)); err != nil {
		t.Fatal(err)
	}
	if c.Rows("events") != 27 || c.Times("events", "26") != 1 {
		t.Fatalf("untokened retry: %d rows, seq 26 %d times", c.Rows("events"), c.Times("events", "26"))
	}
	if _, err := c.Write(ctx, store.NewBatch(Dataset(t, "nope"), 0)); err == nil {
		t.Fatal("a write to a missing table succeeded")
	}
}
