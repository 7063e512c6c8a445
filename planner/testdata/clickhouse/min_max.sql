-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "MIN", "field": "price"}, {"agg": "MAX", "field": "qty"}, {"agg": "max", "field": "seen"}]}
SELECT minOrNull(`price`) AS `__m0`,
       maxOrNull(`qty`) AS `__m1`,
       maxOrNull(`seen`) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;

-- args:
-- output:
--   "min_price" DOUBLE
--   "max_qty" INT64
--   "max_seen" TIMESTAMP

-- rendered:
SELECT minOrNull(`price`) AS `__m0`,
       maxOrNull(`qty`) AS `__m1`,
       maxOrNull(`seen`) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
LIMIT 1000;
