-- Reference copy of the OpenTelemetry Collector contrib ClickHouse exporter's DDL template
-- exporter/clickhouseexporter/internal/sqltemplates/traces_id_ts_lookup_mv.sql
-- as of collector-contrib v0.141.0 (blob of commit 57b29d74154d72320747c8dd2a0b4a1629a39187; see README.md for how that version
-- was chosen). A Go fmt template: the exporter fills the %s/%q verbs with database, traces table, cluster clause, database, traces table, database, traces table.
-- Lines starting with "-- " are this header; the test strips them.
CREATE MATERIALIZED VIEW IF NOT EXISTS "%s"."%s_trace_id_ts_mv" %s
TO "%s"."%s_trace_id_ts"
AS SELECT
              TraceId,
              min(Timestamp) as Start,
              max(Timestamp) as End
   FROM "%s"."%s"
   WHERE TraceId != ''
   GROUP BY TraceId
