-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"or": {"filters": [ {"and": {"filters": [{"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, {"not": {"cmp": {"field": "slot", "op": "IS_NULL"}}}]}}, {"not": {"or": {"filters": [{"cmp": {"field": "campaign", "op": "CONTAINS", "values": ["x"]}}, {"cmp": {"field": "qty", "op": "GT", "values": [5]}}]}}}]}}}
SELECT count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND ((`color` = 'red' AND NOT (`slot` IS NULL)) OR NOT ((position(`campaign`, 'x') > 0 OR `qty` > 5)))
LIMIT 1000;

-- args:
-- output:
--   "count" INT64

-- rendered:
SELECT count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND ((`color` = 'red' AND NOT (`slot` IS NULL)) OR NOT ((position(`campaign`, 'x') > 0 OR `qty` > 5)))
LIMIT 1000;
