-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "AVG", "field": "qty"}, {"agg": "avg", "field": "price"}]}
SELECT avgOrNull(`qty`) AS `__m0`,
       avgOrNull(`price`) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;

-- args:
-- output:
--   "avg_qty" DOUBLE
--   "avg_price" DOUBLE

-- rendered:
SELECT avgOrNull(`qty`) AS `__m0`,
       avgOrNull(`price`) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;
