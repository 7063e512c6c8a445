-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "6h", "groupBy": ["color"], "metrics": [{"agg": "COUNT"}, {"agg": "AVG", "field": "price"}], "compare": "previous_period", "limit": 50}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 21600000000), 'UTC') AS `__time`,
       `color`,
       count() AS `__m0`,
       avgOrNull(`price`) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 50;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "color" STRING
--   "count" INT64
--   "avg_price" DOUBLE

-- explained:
-- 1. aggregate
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 21600000000), 'UTC') AS `__time`,
       `color`,
       count() AS `__m0`,
       avgOrNull(`price`) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 50;
-- 2. the previous period, joined by group and shifted bucket
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 21600000000), 'UTC') AS `__time`,
       `color`,
       count() AS `__m0`,
       avgOrNull(`price`) AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-21 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
LIMIT 100001;
