package collector

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// deleter is a store that deletes old rows on request (the embedded store). Stores that expire
// rows themselves (ClickHouse TTL) do not implement it.
type deleter interface {
	DeleteBefore(ctx context.Context, dataset string, t time.Time) (int64, error)
}

// runRetention deletes rows older than Retention at start and every RetentionInterval until
// ctx ends.
func (c *Collector) runRetention(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(c.cfg.RetentionInterval)
	defer tick.Stop()
	for {
		if err := c.applyRetention(ctx, time.Now()); err != nil && ctx.Err() == nil {
			c.log.Warn("collector retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// applyRetention deletes, from every otel_* table, the rows older than now - Retention.
func (c *Collector) applyRetention(ctx context.Context, now time.Time) error {
	del, ok := c.st.(deleter)
	if !ok || c.cfg.Retention <= 0 {
		return nil
	}
	cutoff := now.Add(-c.cfg.Retention)
	var errs []error
	// Waiting lookup rows of old spans would otherwise land after the delete.
	if c.lookup != nil {
		if err := c.lookup.sync(ctx); err != nil {
			errs = append(errs, fmt.Errorf("apply retention: %w", err))
		}
	}
	for _, d := range c.datasets {
		n, err := del.DeleteBefore(ctx, d.Name, cutoff)
		if err != nil {
			errs = append(errs, fmt.Errorf("apply retention: %w", err))
			continue
		}
		if n > 0 {
			c.log.Info("collector retention deleted old rows", "table", d.Name, "rows", n, "before", cutoff)
		}
	}
	return errors.Join(errs...)
}
