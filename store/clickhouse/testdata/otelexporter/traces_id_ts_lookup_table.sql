-- Reference copy of the OpenTelemetry Collector contrib ClickHouse exporter's DDL template
-- exporter/clickhouseexporter/internal/sqltemplates/traces_id_ts_lookup_table.sql
-- as of collector-contrib v0.141.0 (blob of commit 61540ced55e993255df9bcfca48ed89a87d3914f; see README.md for how that version
-- was chosen). A Go fmt template: the exporter fills the %s/%q verbs with database, traces table, cluster clause, engine, TTL clause.
-- Lines starting with "-- " are this header; the test strips them.
CREATE TABLE IF NOT EXISTS "%s"."%s_trace_id_ts" %s (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = %s
    PARTITION BY toDate(Start)
    ORDER BY (TraceId, Start)
    %s
    SETTINGS index_granularity=8192, ttl_only_drop_parts = 1
