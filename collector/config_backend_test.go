package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/store/clickhouse"
)

func TestConfigBackend(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // "" valid, else a substring of the error
	}{
		{Config{}, ""},
		{Config{Backend: "embedded"}, ""},
		{Config{Backend: "clickhouse", Retention: 72 * time.Hour, ClickHouse: clickhouse.OTelSchema{Database: "otel", ClusterName: "main"}}, ""},
		{Config{Backend: "pinot"}, "backend \"pinot\""},
		{Config{Backend: "clickhouse", PromotedAttributes: []string{"http.route"}}, "promotedAttributes"},
		{Config{Backend: "clickhouse", ClickHouse: clickhouse.OTelSchema{TableEngine: clickhouse.OTelTableEngine{Name: "MergeTree; DROP"}}}, "tableEngine.name"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one saying %q", c.cfg, err, c.want)
		}
	}
	cfg := Config{Retention: 36 * time.Hour, ClickHouse: clickhouse.OTelSchema{Database: "otel"}}
	if s := cfg.ClickHouseSchema(); s.TTL != 36*time.Hour || s.Database != "otel" {
		t.Errorf("ClickHouseSchema: %+v, want the retention as TTL", s)
	}
	ddl := strings.Join(cfg.ClickHouseSchema().OTelDDL("default"), "\n")
	if !strings.Contains(ddl, "TTL toDate(Timestamp) + toIntervalHour(36)") {
		t.Errorf("DDL has no TTL from the retention:\n%s", ddl)
	}
}
