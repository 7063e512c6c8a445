package pinot

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/olapgate/olapgate/store"
)

// TestIntegration runs against a real Pinot when PINOT_BROKER_URL (and optionally
// PINOT_CONTROLLER_URL) is set: skipped when unset, failed when set and unreachable.
// PINOT_TABLE names the table to count (default baseballStats, which Pinot's QuickStart loads).
func TestIntegration(t *testing.T) {
	brokerURL, controllerURL := os.Getenv("PINOT_BROKER_URL"), os.Getenv("PINOT_CONTROLLER_URL")
	if brokerURL == "" && controllerURL == "" {
		t.Skip("PINOT_BROKER_URL and PINOT_CONTROLLER_URL are unset")
	}
	table := os.Getenv("PINOT_TABLE")
	if table == "" {
		table = "baseballStats"
	}
	st := store.Statement{
		SQL:    `SELECT COUNT(*) AS "__m0"` + "\nFROM \"" + table + "\"\nLIMIT 1",
		Output: []store.ResultColumn{{Name: "count", Type: store.TypeInt64}},
	}
	configs := map[string]Config{}
	if brokerURL != "" {
		configs["broker"] = Config{Brokers: []string{brokerURL}}
	}
	if controllerURL != "" {
		configs["controller"] = Config{Controller: controllerURL}
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}()
			res, err := s.Query(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 || res.Rows[0][0] == nil {
				t.Fatalf("rows %v", res.Rows)
			}
			t.Logf("%s: %d rows, meta %+v", table, res.Rows[0][0], res.Meta)
		})
	}
}
