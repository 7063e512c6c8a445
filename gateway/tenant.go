package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/olapgate/olapgate/ingest/decode"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store"
)

// applyTenant enforces the request's tenant on a decoded batch of a dataset with a tenant
// column: an event without a tenant gets the request's, an event naming another tenant is
// rejected (a tenant must not write into another's data, as it cannot read it). Without a
// request tenant, events are stored as sent (single-tenant use, or a trusted pipeline).
// rej are the decoder's rejections; indexBase the index of the message's first event.
func applyTenant(ctx context.Context, d *dataset.Dataset, b *store.Batch, rej []decode.Rejection, indexBase int) []decode.Rejection {
	tenant := tenantFrom(ctx)
	if tenant == "" || d.TenantColumn == "" || b == nil || b.N == 0 {
		return rej
	}
	col, ok := d.Column(d.TenantColumn)
	if !ok || col.Type != dataset.String {
		return rej
	}
	c := &b.Cols[col.Index]
	var keep []bool
	var extra []decode.Rejection
	// Batch rows are the accepted events in order; walk the original indexes, skipping the
	// rejected ones, to name each row's event.
	rejected := make(map[int]bool, len(rej))
	for _, r := range rej {
		rejected[r.Index] = true
	}
	idx := indexBase
	for i := 0; i < b.N; i++ {
		for rejected[idx] {
			idx++
		}
		switch {
		case c.IsNull(i):
			c.Strings[i] = tenant
			c.Null[i] = false
		case c.Strings[i] != tenant:
			if keep == nil {
				keep = make([]bool, b.N)
				for k := range keep {
					keep[k] = true
				}
			}
			keep[i] = false
			extra = append(extra, decode.Rejection{Index: idx, Reason: fmt.Sprintf("field %q: tenant %q is not the request's tenant %q", d.TenantColumn, truncate(c.Strings[i], 40), tenant)})
		}
		idx++
	}
	if keep == nil {
		return rej
	}
	b.Keep(keep)
	rej = append(rej, extra...)
	sort.Slice(rej, func(i, j int) bool { return rej[i].Index < rej[j].Index })
	return rej
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
