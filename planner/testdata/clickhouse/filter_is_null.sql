-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "color", "op": "IS_NULL"}}}
SELECT count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND `color` IS NULL
LIMIT 1000;

-- args:
-- output:
--   "count" INT64

-- rendered:
SELECT count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND `color` IS NULL
LIMIT 1000;
