-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "timeZone": "Asia/Kolkata", "groupBy": ["mobile"], "metrics": [{"agg": "COUNT"}], "timeSeries": true}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) + (19800000000) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       `mobile`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
LIMIT 100001;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "mobile" BOOL
--   "count" INT64

-- explained:
-- 1. aggregate
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) + (19800000000) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       `mobile`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1h bucket of the range
