package pinot

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/olapgate/olapgate/internal/dataset"
)

// TestApplyIntegration applies a schema and REALTIME table to a real controller when
// PINOT_CONTROLLER_URL is set: skipped when unset, failed when set and unreachable. The table
// is named olapgate_apply_it; PINOT_KAFKA_BROKERS (default localhost:9092) is the broker list
// written into its stream config (Pinot checks the topic when the table is created:
// PINOT_KAFKA_TOPIC, default olapgate_apply_it, must exist).
func TestApplyIntegration(t *testing.T) {
	url := os.Getenv("PINOT_CONTROLLER_URL")
	if url == "" {
		t.Skip("PINOT_CONTROLLER_URL is unset")
	}
	brokers := os.Getenv("PINOT_KAFKA_BROKERS")
	if brokers == "" {
		brokers = "localhost:9092"
	}
	topic := os.Getenv("PINOT_KAFKA_TOPIC")
	if topic == "" {
		topic = "olapgate_apply_it"
	}
	d := &dataset.Dataset{
		Name: "olapgate_apply_it", TimeColumn: "time", EventID: "id", Backend: dataset.BackendPinot, PrimaryKey: []string{"id"},
		Dimensions: []dataset.Field{{Name: "page", Type: dataset.String}},
		Metrics:    []dataset.Field{{Name: "bytes", Type: dataset.Int}},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := SchemaFor(d)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := TableConfigFor(d, &TableSetup{Kafka: &KafkaStream{Topic: topic, Brokers: strings.Split(brokers, ",")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &Controller{URL: url, Authorization: os.Getenv("PINOT_AUTHORIZATION")}
	var out bytes.Buffer
	if err := c.Apply(ctx, s, tc, ApplyOptions{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	t.Logf("first apply:\n%s", out.String())
	out.Reset()
	if err := c.Apply(ctx, s, tc, ApplyOptions{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if want := "schema olapgate_apply_it: unchanged\ntable olapgate_apply_it_REALTIME: unchanged\n"; out.String() != want {
		t.Errorf("second apply is not a no-op against this controller:\n%s", out.String())
	}
}
