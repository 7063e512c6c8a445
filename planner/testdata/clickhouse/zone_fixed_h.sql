-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "timeZone": "Asia/Kolkata", "metrics": [{"agg": "COUNT"}]}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) + (19800000000) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "count" INT64

-- rendered:
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) + (19800000000) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
