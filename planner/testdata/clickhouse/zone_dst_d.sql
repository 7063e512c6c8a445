-- query: {"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}, "granularity": "1d", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - positiveModulo(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - 946857600000000, 86400000000), 'UTC') AS `__time`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-03 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "count" INT64

-- rendered:
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - positiveModulo(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - 946857600000000, 86400000000), 'UTC') AS `__time`,
       count() AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-03 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
