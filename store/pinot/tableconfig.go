package pinot

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/olapgate/olapgate/internal/dataset"
)

// Table modes: what Pinot does with a second record of the same primary key. olapgate cannot
// deduplicate what Pinot pulls from the stream (a push retried after a lost answer is produced
// twice), so a dataset with a primaryKey defaults to dedup.
const (
	ModeNone   = "none"
	ModeDedup  = "dedup"
	ModeUpsert = "upsert"
)

// Upsert modes (Pinot's UpsertConfig.Mode).
const (
	UpsertFull    = "FULL"
	UpsertPartial = "PARTIAL"
)

// Consumer factories and decoder of the generated stream configs. kafka30 is Pinot's default
// Kafka connector since the kafka20 plugin was removed
// (docs.pinot.apache.org/build-with-pinot/ingestion/stream-ingestion/kafka-connector-versions);
// clusters on Kafka 4.x can set kafka.consumerFactory to the kafka40 one.
const (
	DefaultKafkaConsumerFactory   = "org.apache.pinot.plugin.stream.kafka30.KafkaConsumerFactory"
	DefaultKinesisConsumerFactory = "org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory"
	JSONMessageDecoder            = "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder"
)

// Flush defaults: rows 0 lets Pinot size segments to segmentSize (its auto-tuning); a
// consuming segment is committed after flush.time at the latest.
const (
	DefaultFlushTime        = "6h"
	DefaultFlushSegmentSize = "200M"
)

// TableSetup is how one Pinot dataset's REALTIME table is set up: the stream it consumes and
// what Pinot does with repeated primary keys. It is configured under backends.pinot.tables,
// keyed by dataset name; `olapgate pinot apply` creates the table from it, and push ingest
// into the dataset produces to its Kafka topic or Kinesis stream (the Pinot sink).
type TableSetup struct {
	// Kafka or Kinesis: exactly one.
	Kafka   *KafkaStream   `yaml:"kafka,omitempty"`
	Kinesis *KinesisStream `yaml:"kinesis,omitempty"`
	// Mode is none, dedup (Pinot drops records whose primary key it has seen: dedupConfig) or
	// upsert (the latest record per primary key wins: upsertConfig). Default: dedup when the
	// dataset has a primaryKey, else none. dedup and upsert need the dataset's primaryKey.
	Mode string `yaml:"mode,omitempty"`
	// UpsertMode is FULL (default: whole records replace) or PARTIAL (columns merge).
	UpsertMode string `yaml:"upsertMode,omitempty"`
	// Replication is the number of replicas of each consuming partition. Default 1.
	Replication int `yaml:"replication,omitempty"`
	// Flush bounds a consuming segment before Pinot commits it.
	Flush FlushThresholds `yaml:"flush,omitempty"`
	// Tenants place the table; empty: Pinot's DefaultTenant.
	Tenants Tenants `yaml:"tenants,omitempty"`
	// LegacyStreamConfigs puts the stream config under tableIndexConfig.streamConfigs, for
	// Pinot before 1.0, instead of ingestionConfig.streamIngestionConfig.streamConfigMaps.
	LegacyStreamConfigs bool `yaml:"legacyStreamConfigs,omitempty"`
}

// KafkaStream is a Kafka topic a REALTIME table consumes.
type KafkaStream struct {
	Topic string `yaml:"topic"`
	// Brokers are host:port as Pinot's servers reach them (stream.kafka.broker.list).
	Brokers []string `yaml:"brokers"`
	// ProducerBrokers are the brokers as olapgate's Pinot sink reaches them, when that differs
	// (e.g. another network); default Brokers.
	ProducerBrokers []string `yaml:"producerBrokers,omitempty"`
	// TransactionalID prefixes the Pinot sink's transactional IDs; it must be unique per
	// olapgate process and dataset (Kafka ACLs can grant a prefix). Default
	// "olapgate-<hostname>-<dataset>".
	TransactionalID string `yaml:"transactionalId,omitempty"`
	// ConsumerFactory overrides DefaultKafkaConsumerFactory.
	ConsumerFactory string `yaml:"consumerFactory,omitempty"`
	// OffsetReset is where a new table starts: smallest (default: the events produced before
	// the table existed are not lost) or largest.
	OffsetReset string `yaml:"offsetReset,omitempty"`
	// Properties are added to the stream config as they are (e.g. security.protocol,
	// sasl.mechanism, sasl.jaas.config for Pinot's consumer).
	Properties map[string]string `yaml:"properties,omitempty"`
}

// KinesisStream is a Kinesis stream a REALTIME table consumes.
type KinesisStream struct {
	Stream string `yaml:"stream"`
	Region string `yaml:"region"`
	// Endpoint overrides the AWS endpoint (a local Kinesis).
	Endpoint string `yaml:"endpoint,omitempty"`
	// ShardIteratorType is where a new table starts: TRIM_HORIZON (default) or LATEST.
	ShardIteratorType string `yaml:"shardIteratorType,omitempty"`
	// Properties are added to the stream config as they are (accessKey/secretKey, or
	// iamRoleBasedAccessEnabled and roleArn).
	Properties map[string]string `yaml:"properties,omitempty"`
}

// FlushThresholds are Pinot's realtime.segment.flush.threshold.* settings.
type FlushThresholds struct {
	// Rows per consuming segment; 0 (default): sized by SegmentSize.
	Rows int `yaml:"rows,omitempty"`
	// Time, a Pinot period ("6h", "30m"). Default 6h.
	Time string `yaml:"time,omitempty"`
	// SegmentSize of a committed segment when Rows is 0 ("200M", the default).
	SegmentSize string `yaml:"segmentSize,omitempty"`
}

// Tenants is the table's broker and server tenant (TableConfig "tenants").
type Tenants struct {
	Broker string `yaml:"broker,omitempty" json:"broker,omitempty"`
	Server string `yaml:"server,omitempty" json:"server,omitempty"`
}

var (
	periodRE = regexp.MustCompile(`^[0-9]+[smhd]$`)
	sizeRE   = regexp.MustCompile(`^[0-9]+[KMG]?$`)
)

// Validate checks the setup on its own; ValidateFor checks it against its dataset.
func (s *TableSetup) Validate() error {
	if (s.Kafka == nil) == (s.Kinesis == nil) {
		return errors.New("give exactly one of kafka or kinesis")
	}
	if k := s.Kafka; k != nil {
		if k.Topic == "" {
			return errors.New("kafka: topic is required")
		}
		if len(k.Brokers) == 0 {
			return errors.New("kafka: brokers: at least one is required")
		}
		for _, b := range append(slices.Clone(k.Brokers), k.ProducerBrokers...) {
			if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
				return fmt.Errorf("kafka: broker %q: want host:port", b)
			}
		}
		switch k.OffsetReset {
		case "", "smallest", "largest":
		default:
			return fmt.Errorf("kafka: offsetReset %q: want smallest or largest", k.OffsetReset)
		}
	}
	if k := s.Kinesis; k != nil {
		if k.Stream == "" || k.Region == "" {
			return errors.New("kinesis: stream and region are required")
		}
		switch k.ShardIteratorType {
		case "", "TRIM_HORIZON", "LATEST":
		default:
			return fmt.Errorf("kinesis: shardIteratorType %q: want TRIM_HORIZON or LATEST", k.ShardIteratorType)
		}
	}
	switch s.Mode {
	case "", ModeNone, ModeDedup, ModeUpsert:
	default:
		return fmt.Errorf("mode %q: want none, dedup or upsert", s.Mode)
	}
	switch s.UpsertMode {
	case "":
	case UpsertFull, UpsertPartial:
		if s.Mode != ModeUpsert {
			return fmt.Errorf("upsertMode %s: needs mode upsert", s.UpsertMode)
		}
	default:
		return fmt.Errorf("upsertMode %q: want FULL or PARTIAL", s.UpsertMode)
	}
	if s.Replication < 0 {
		return fmt.Errorf("replication %d: must not be negative", s.Replication)
	}
	if s.Flush.Rows < 0 {
		return fmt.Errorf("flush.rows %d: must not be negative", s.Flush.Rows)
	}
	if s.Flush.Time != "" && !periodRE.MatchString(s.Flush.Time) {
		return fmt.Errorf("flush.time %q: want a Pinot period such as 6h or 30m", s.Flush.Time)
	}
	if s.Flush.SegmentSize != "" && !sizeRE.MatchString(s.Flush.SegmentSize) {
		return fmt.Errorf("flush.segmentSize %q: want a size such as 200M", s.Flush.SegmentSize)
	}
	return nil
}

// ModeFor is the mode the table gets for d: the configured one, or dedup when d has a
// primaryKey.
func (s *TableSetup) ModeFor(d *dataset.Dataset) string {
	switch {
	case s.Mode != "":
		return s.Mode
	case len(d.PrimaryKey) > 0:
		return ModeDedup
	}
	return ModeNone
}

// ValidateFor checks the setup against its (validated) dataset.
func (s *TableSetup) ValidateFor(d *dataset.Dataset) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if d.Backend != dataset.BackendPinot {
		return fmt.Errorf("dataset %s has backend %s, not pinot", d.Name, d.Backend)
	}
	if m := s.ModeFor(d); m != ModeNone && len(d.PrimaryKey) == 0 {
		return fmt.Errorf("mode %s needs the dataset's primaryKey (e.g. primaryKey: [%s])", m, cmpOr(d.EventID, "id"))
	}
	return nil
}

// ValidateTables checks backends.pinot.tables against the declared (validated) datasets:
// each entry names a pinot dataset and fits it.
func (c *Config) ValidateTables(ds []*dataset.Dataset) error {
	names := make([]string, 0, len(c.Tables))
	for n := range c.Tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		i := slices.IndexFunc(ds, func(d *dataset.Dataset) bool { return strings.EqualFold(d.Name, n) })
		if i < 0 {
			return fmt.Errorf("tables.%s: no dataset of that name is declared", n)
		}
		if err := c.Tables[n].ValidateFor(ds[i]); err != nil {
			return fmt.Errorf("tables.%s: %w", n, err)
		}
	}
	return nil
}

// TableFor returns the table setup of dataset name, if one is configured.
func (c *Config) TableFor(name string) (*TableSetup, bool) {
	for n, s := range c.Tables {
		if strings.EqualFold(n, name) {
			return s, true
		}
	}
	return nil, false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TableConfig is a Pinot table config (POST /tables on the controller). Key names are Pinot's
// (pinot-spi org.apache.pinot.spi.config.table.TableConfig: tableName, tableType,
// segmentsConfig, tenants, tableIndexConfig and metadata are required; routing, upsertConfig,
// dedupConfig, ingestionConfig optional), as docs.pinot.apache.org's table reference and
// stream ingestion pages document them.
type TableConfig struct {
	// TableName is the raw name; the controller adds the _REALTIME suffix (GET answers it with
	// the suffix).
	TableName        string           `json:"tableName"`
	TableType        string           `json:"tableType"`
	SegmentsConfig   SegmentsConfig   `json:"segmentsConfig"`
	Tenants          Tenants          `json:"tenants"`
	TableIndexConfig TableIndexConfig `json:"tableIndexConfig"`
	IngestionConfig  *IngestionConfig `json:"ingestionConfig,omitempty"`
	Routing          *RoutingConfig   `json:"routing,omitempty"`
	UpsertConfig     *UpsertConfig    `json:"upsertConfig,omitempty"`
	DedupConfig      *DedupConfig     `json:"dedupConfig,omitempty"`
	Metadata         TableMetadata    `json:"metadata"`
}

// SegmentsConfig is Pinot's SegmentsValidationAndRetentionConfig. Its values are strings in
// Pinot's JSON ("replication": "1"); replicasPerPartition is deprecated for replication.
type SegmentsConfig struct {
	TimeColumnName string `json:"timeColumnName"`
	// TimeType is deprecated in Pinot (the schema's dateTimeFieldSpec says it) but still read
	// by older controllers.
	TimeType    string `json:"timeType"`
	SchemaName  string `json:"schemaName"`
	Replication string `json:"replication"`
}

// TableIndexConfig is Pinot's IndexingConfig; StreamConfigs only with LegacyStreamConfigs.
type TableIndexConfig struct {
	LoadMode string `json:"loadMode"`
	// NullHandlingEnabled is set for partial upserts, which need null vectors to tell an
	// absent column from a value (Pinot's upsert docs, before column-based null handling).
	NullHandlingEnabled bool              `json:"nullHandlingEnabled,omitempty"`
	StreamConfigs       map[string]string `json:"streamConfigs,omitempty"`
}

// IngestionConfig holds the stream config (Pinot 1.0+: ingestionConfig.streamIngestionConfig
// .streamConfigMaps, a list of string maps; pinot-spi StreamIngestionConfig).
type IngestionConfig struct {
	StreamIngestionConfig StreamIngestionConfig `json:"streamIngestionConfig"`
}

// StreamIngestionConfig lists the streams a table consumes.
type StreamIngestionConfig struct {
	StreamConfigMaps []map[string]string `json:"streamConfigMaps"`
}

// RoutingConfig: upsert and dedup tables need instanceSelectorType strictReplicaGroup, so all
// segments of a partition are served by one server per replica group (Pinot's upsert and dedup
// docs, "Use strictReplicaGroup for routing"; pinot-spi RoutingConfig).
type RoutingConfig struct {
	InstanceSelectorType string `json:"instanceSelectorType"`
}

// UpsertConfig is Pinot's UpsertConfig: mode FULL or PARTIAL; the comparison column defaults
// to the time column.
type UpsertConfig struct {
	Mode                         string `json:"mode"`
	DefaultPartialUpsertStrategy string `json:"defaultPartialUpsertStrategy,omitempty"`
}

// DedupConfig is Pinot's DedupConfig (dedupEnabled required; hashFunction NONE, MD5 or MURMUR3).
type DedupConfig struct {
	DedupEnabled bool   `json:"dedupEnabled"`
	HashFunction string `json:"hashFunction"`
}

// TableMetadata is Pinot's TableCustomConfig.
type TableMetadata struct {
	CustomConfigs map[string]string `json:"customConfigs"`
}

// StreamConfig is the stream config map of a table: Pinot's StreamConfigProperties keys
// (streamType, stream.<type>.topic.name, stream.<type>.consumer.factory.class.name,
// stream.<type>.decoder.class.name, stream.<type>.consumer.prop.auto.offset.reset,
// realtime.segment.flush.threshold.rows/.time/.segment.size), Kafka's
// (stream.kafka.broker.list, stream.kafka.isolation.level) and Kinesis's (region,
// shardIteratorType, endpoint; pinot-kinesis KinesisConfig).
func (s *TableSetup) StreamConfig() map[string]string {
	m := map[string]string{}
	var typ string
	switch {
	case s.Kafka != nil:
		typ = "kafka"
		k := s.Kafka
		for key, v := range k.Properties {
			m[key] = v
		}
		m["stream.kafka.topic.name"] = k.Topic
		m["stream.kafka.broker.list"] = strings.Join(k.Brokers, ",")
		m["stream.kafka.consumer.factory.class.name"] = cmpOr(k.ConsumerFactory, DefaultKafkaConsumerFactory)
		m["stream.kafka.decoder.class.name"] = JSONMessageDecoder
		m["stream.kafka.consumer.prop.auto.offset.reset"] = cmpOr(k.OffsetReset, "smallest")
		// The Pinot sink produces in Kafka transactions: read_committed makes Pinot skip the
		// records of aborted ones (the default, read_uncommitted, would ingest them).
		m["stream.kafka.isolation.level"] = "read_committed"
	case s.Kinesis != nil:
		typ = "kinesis"
		k := s.Kinesis
		for key, v := range k.Properties {
			m[key] = v
		}
		m["stream.kinesis.topic.name"] = k.Stream
		m["region"] = k.Region
		if k.Endpoint != "" {
			m["endpoint"] = k.Endpoint
		}
		m["shardIteratorType"] = cmpOr(k.ShardIteratorType, "TRIM_HORIZON")
		m["stream.kinesis.consumer.factory.class.name"] = DefaultKinesisConsumerFactory
		m["stream.kinesis.decoder.class.name"] = JSONMessageDecoder
	}
	m["streamType"] = typ
	// Deprecated since Pinot 1.0 (only partition-level consumers remain) and required by
	// older versions.
	m["stream."+typ+".consumer.type"] = "lowlevel"
	m["realtime.segment.flush.threshold.rows"] = strconv.Itoa(s.Flush.Rows)
	m["realtime.segment.flush.threshold.time"] = cmpOr(s.Flush.Time, DefaultFlushTime)
	if s.Flush.Rows == 0 {
		m["realtime.segment.flush.threshold.segment.size"] = cmpOr(s.Flush.SegmentSize, DefaultFlushSegmentSize)
	}
	return m
}

// TableConfigFor generates the REALTIME table config of dataset d (validated) set up as s.
// The schema it goes with is SchemaFor(d); the time column is that schema's
// dateTimeFieldSpec (epoch milliseconds).
func TableConfigFor(d *dataset.Dataset, s *TableSetup) (*TableConfig, error) {
	if err := s.ValidateFor(d); err != nil {
		return nil, fmt.Errorf("pinot table config for dataset %s: %w", d.Name, err)
	}
	repl := s.Replication
	if repl == 0 {
		repl = 1
	}
	t := &TableConfig{
		TableName: d.Name,
		TableType: "REALTIME",
		SegmentsConfig: SegmentsConfig{
			TimeColumnName: d.TimeColumn, TimeType: "MILLISECONDS", SchemaName: d.Name, Replication: strconv.Itoa(repl),
		},
		Tenants:          s.Tenants,
		TableIndexConfig: TableIndexConfig{LoadMode: "MMAP"},
		Metadata:         TableMetadata{CustomConfigs: map[string]string{"olapgate.dataset": d.Name}},
	}
	if c, ok := d.Column(d.TimeColumn); ok {
		t.SegmentsConfig.TimeColumnName = c.Name
	}
	sc := s.StreamConfig()
	if s.LegacyStreamConfigs {
		t.TableIndexConfig.StreamConfigs = sc
	} else {
		t.IngestionConfig = &IngestionConfig{StreamIngestionConfig: StreamIngestionConfig{StreamConfigMaps: []map[string]string{sc}}}
	}
	switch s.ModeFor(d) {
	case ModeDedup:
		t.DedupConfig = &DedupConfig{DedupEnabled: true, HashFunction: "NONE"}
		t.Routing = &RoutingConfig{InstanceSelectorType: "strictReplicaGroup"}
	case ModeUpsert:
		u := &UpsertConfig{Mode: cmpOr(s.UpsertMode, UpsertFull)}
		if u.Mode == UpsertPartial {
			// Pinot refuses partial-upsert tables without a default strategy (apache/pinot#11931).
			u.DefaultPartialUpsertStrategy = "OVERWRITE"
			t.TableIndexConfig.NullHandlingEnabled = true
		}
		t.UpsertConfig = u
		t.Routing = &RoutingConfig{InstanceSelectorType: "strictReplicaGroup"}
	}
	return t, nil
}

// JSON is the table config as the controller takes it.
func (t *TableConfig) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode pinot table config %s: %w", t.TableName, err)
	}
	return append(b, '\n'), nil
}
