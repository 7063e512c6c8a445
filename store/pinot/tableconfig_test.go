package pinot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olapgate/olapgate/internal/dataset"
)

func kafkaSetup() *TableSetup {
	return &TableSetup{Kafka: &KafkaStream{Topic: "clicks", Brokers: []string{"kafka-1:9092", "kafka-2:9092"}}}
}

func TestTableConfigFor(t *testing.T) {
	noPK := func(t testing.TB) *dataset.Dataset {
		d := clicksDataset(t)
		d.PrimaryKey = nil
		return d
	}
	cases := []struct {
		golden string
		data   func(testing.TB) *dataset.Dataset
		setup  *TableSetup
	}{
		// A primary key makes the table dedup by default: Pinot drops a retried push's copy.
		{"table_clicks_kafka_dedup.json", clicksDataset, kafkaSetup()},
		{"table_clicks_kafka_upsert_partial.json", clicksDataset, &TableSetup{
			Kafka: &KafkaStream{Topic: "clicks", Brokers: []string{"kafka:9092"}, ConsumerFactory: "org.apache.pinot.plugin.stream.kafka40.KafkaConsumerFactory",
				OffsetReset: "largest", Properties: map[string]string{"security.protocol": "SASL_SSL"}},
			Mode: ModeUpsert, UpsertMode: UpsertPartial, Replication: 3,
			Flush:   FlushThresholds{Rows: 500000, Time: "1h"},
			Tenants: Tenants{Broker: "brokers", Server: "servers"},
		}},
		{"table_clicks_kinesis_none.json", noPK, &TableSetup{
			Kinesis: &KinesisStream{Stream: "clicks", Region: "eu-west-1", Endpoint: "http://127.0.0.1:4567"},
			Flush:   FlushThresholds{SegmentSize: "100M"},
		}},
		{"table_clicks_kafka_legacy.json", noPK, &TableSetup{
			Kafka: &KafkaStream{Topic: "clicks", Brokers: []string{"kafka:9092"}}, LegacyStreamConfigs: true,
		}},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			tc, err := TableConfigFor(c.data(t), c.setup)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.JSON()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := fixture(t, c.golden); string(got) != string(want) {
				t.Errorf("table config differs from %s (go test ./store/pinot -run TestTableConfigFor -update):\n%s", path, got)
			}
		})
	}
}

// The generated config has what Pinot needs for the sink's semantics, whatever the golden
// files say.
func TestTableConfigEssentials(t *testing.T) {
	tc, err := TableConfigFor(clicksDataset(t), kafkaSetup())
	if err != nil {
		t.Fatal(err)
	}
	sc := tc.IngestionConfig.StreamIngestionConfig.StreamConfigMaps[0]
	for k, v := range map[string]string{
		"streamType": "kafka", "stream.kafka.topic.name": "clicks", "stream.kafka.broker.list": "kafka-1:9092,kafka-2:9092",
		"stream.kafka.isolation.level": "read_committed", "stream.kafka.decoder.class.name": JSONMessageDecoder,
		"stream.kafka.consumer.factory.class.name": DefaultKafkaConsumerFactory,
	} {
		if sc[k] != v {
			t.Errorf("%s = %q, want %q", k, sc[k], v)
		}
	}
	if tc.TableName != "clicks" || tc.TableType != "REALTIME" || tc.SegmentsConfig.TimeColumnName != "time" {
		t.Errorf("names: %+v", tc)
	}
	if tc.DedupConfig == nil || !tc.DedupConfig.DedupEnabled || tc.Routing == nil || tc.Routing.InstanceSelectorType != "strictReplicaGroup" {
		t.Errorf("dedup: %+v %+v", tc.DedupConfig, tc.Routing)
	}
	if tc.UpsertConfig != nil || tc.TableIndexConfig.StreamConfigs != nil {
		t.Errorf("upsert or legacy stream config set: %+v", tc)
	}
}

func TestTableSetupValidate(t *testing.T) {
	d := clicksDataset(t)
	noPK := clicksDataset(t)
	noPK.PrimaryKey = nil
	embedded := clicksDataset(t)
	embedded.Backend = dataset.BackendEmbedded
	cases := []struct {
		name  string
		d     *dataset.Dataset
		setup func(*TableSetup)
		want  string
	}{
		{"ok", d, func(*TableSetup) {}, ""},
		{"no stream", d, func(s *TableSetup) { s.Kafka = nil }, "exactly one of kafka or kinesis"},
		{"both streams", d, func(s *TableSetup) { s.Kinesis = &KinesisStream{Stream: "x", Region: "r"} }, "exactly one"},
		{"no topic", d, func(s *TableSetup) { s.Kafka.Topic = "" }, "topic is required"},
		{"no brokers", d, func(s *TableSetup) { s.Kafka.Brokers = nil }, "brokers"},
		{"bad broker", d, func(s *TableSetup) { s.Kafka.ProducerBrokers = []string{"kafka"} }, `broker "kafka"`},
		{"bad offset", d, func(s *TableSetup) { s.Kafka.OffsetReset = "earliest" }, "offsetReset"},
		{"kinesis region", d, func(s *TableSetup) { s.Kafka, s.Kinesis = nil, &KinesisStream{Stream: "x"} }, "region"},
		{"kinesis iterator", d, func(s *TableSetup) {
			s.Kafka, s.Kinesis = nil, &KinesisStream{Stream: "x", Region: "r", ShardIteratorType: "AT_SEQUENCE_NUMBER"}
		}, "shardIteratorType"},
		{"bad mode", d, func(s *TableSetup) { s.Mode = "merge" }, "mode"},
		{"upsertMode without upsert", d, func(s *TableSetup) { s.UpsertMode = UpsertFull }, "needs mode upsert"},
		{"bad upsertMode", d, func(s *TableSetup) { s.Mode, s.UpsertMode = ModeUpsert, "HALF" }, "upsertMode"},
		{"dedup without pk", noPK, func(s *TableSetup) { s.Mode = ModeDedup }, "needs the dataset's primaryKey"},
		{"upsert without pk", noPK, func(s *TableSetup) { s.Mode = ModeUpsert }, "needs the dataset's primaryKey"},
		{"default without pk", noPK, func(*TableSetup) {}, ""},
		{"flush time", d, func(s *TableSetup) { s.Flush.Time = "6 hours" }, "flush.time"},
		{"flush size", d, func(s *TableSetup) { s.Flush.SegmentSize = "lots" }, "flush.segmentSize"},
		{"negative rows", d, func(s *TableSetup) { s.Flush.Rows = -1 }, "flush.rows"},
		{"negative replication", d, func(s *TableSetup) { s.Replication = -1 }, "replication"},
		{"not pinot", embedded, func(*TableSetup) {}, "not pinot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := kafkaSetup()
			c.setup(s)
			err := s.ValidateFor(c.d)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateTables(t *testing.T) {
	d := clicksDataset(t)
	c := Config{Controller: "http://c:9000", Tables: map[string]*TableSetup{"CLICKS": kafkaSetup()}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateTables([]*dataset.Dataset{d}); err != nil {
		t.Fatal(err)
	}
	if s, ok := c.TableFor("clicks"); !ok || s.Kafka.Topic != "clicks" {
		t.Errorf("TableFor: %v %v", s, ok)
	}
	if err := c.ValidateTables(nil); err == nil || !strings.Contains(err.Error(), "tables.CLICKS: no dataset") {
		t.Errorf("unknown dataset: %v", err)
	}
	c.Tables["clicks2"] = &TableSetup{}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tables.clicks2") {
		t.Errorf("bad entry: %v", err)
	}
	c.Tables["clicks2"] = nil
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "empty entry") {
		t.Errorf("nil entry: %v", err)
	}
}
