-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "APPROX_PERCENTILE", "field": "qty", "p": 0.5}]}
SELECT toFloat64(quantileTDigestOrNull(0.5)(toFloat64(`qty`))) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;

-- args:
-- output:
--   "approx_p50_qty" DOUBLE approximate

-- rendered:
SELECT toFloat64(quantileTDigestOrNull(0.5)(toFloat64(`qty`))) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;
