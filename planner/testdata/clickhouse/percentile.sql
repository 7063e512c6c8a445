-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "PERCENTILE", "field": "price", "p": 0.99}, {"agg": "percentile", "field": "qty", "p": 0.999}]}
SELECT quantileExactInclusiveOrNull(0.99)(toFloat64(`price`)) AS `__m0`,
       quantileExactInclusiveOrNull(0.999)(toFloat64(`qty`)) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;

-- args:
-- output:
--   "p99_price" DOUBLE
--   "p99_9_qty" DOUBLE

-- rendered:
SELECT quantileExactInclusiveOrNull(0.99)(toFloat64(`price`)) AS `__m0`,
       quantileExactInclusiveOrNull(0.999)(toFloat64(`qty`)) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;
