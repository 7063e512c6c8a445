-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "APPROX_COUNT_DISTINCT", "field": "campaign"}]}
SELECT uniq(`campaign`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;

-- args:
-- output:
--   "approx_count_distinct_campaign" INT64 approximate

-- rendered:
SELECT uniq(`campaign`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;
