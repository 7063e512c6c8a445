CREATE TABLE IF NOT EXISTS `pageviews` (
  `at` DateTime64(6, 'UTC'),
  `page` Nullable(String),
  `ms` Nullable(Int64)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(`at`)
ORDER BY `at`
SETTINGS non_replicated_deduplication_window = 500;
