CREATE TABLE IF NOT EXISTS `events` (
  `time` DateTime64(6, 'UTC'),
  `s` Nullable(String),
  `n` Nullable(Int64),
  `f` Nullable(Float64),
  `b` Nullable(Bool),
  `ts` Nullable(DateTime64(6, 'UTC')),
  `mi` Nullable(Int64),
  `mf` Nullable(Float64),
  `id` Nullable(String),
  `tenant` Nullable(String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(`time`)
ORDER BY (`tenant`, `time`)
SETTINGS non_replicated_deduplication_window = 10000, allow_nullable_key = 1;
