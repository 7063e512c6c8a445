-- query: {"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}, "granularity": "1d", "timeZone": "America/New_York", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "filter": {"cmp": {"field": "price", "op": "GTE", "values": [100]}}, "as": "big"}, {"agg": "COUNT"}, {"ratio": ["big", "count"], "as": "big_share"}], "seriesLimit": 2, "compare": "previous_period", "timeSeries": true}
SELECT `campaign`,
       count(CASE WHEN `price` >= toFloat64(100) THEN 1 END) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-03 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;

-- args:
-- output:
--   "campaign" STRING
--   "big" INT64

-- explained:
-- 1. rank the series: the top 2 by big
SELECT `campaign`,
       count(CASE WHEN `price` >= toFloat64(100) THEN 1 END) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-03 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;
-- 2. aggregate per series (stand-in values for the series step 1 picks; the rest are series -1, __other__)
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - positiveModulo(toUnixTimestamp64Micro(`time`) + CASE WHEN `time` < toDateTime64('2026-11-01 06:00:00.000000', 6, 'UTC') THEN (-14400000000) ELSE (-18000000000) END - 946857600000000, 86400000000), 'UTC') AS `__time`,
       CASE WHEN `campaign` = '<series 1>' THEN 0 WHEN `campaign` = '<series 2>' THEN 1 ELSE -1 END AS `__series`,
       count(CASE WHEN `price` >= toFloat64(100) THEN 1 END) AS `__m0`,
       count() AS `__m1`,
       (toFloat64(count(CASE WHEN `price` >= toFloat64(100) THEN 1 END)) / nullIf(toFloat64(count()), 0)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-03 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
LIMIT 100001;
-- 3. the previous period, joined by group and shifted bucket
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) + (-14400000000) - positiveModulo(toUnixTimestamp64Micro(`time`) + (-14400000000) - 946857600000000, 86400000000), 'UTC') AS `__time`,
       CASE WHEN `campaign` = '<series 1>' THEN 0 WHEN `campaign` = '<series 2>' THEN 1 ELSE -1 END AS `__series`,
       count(CASE WHEN `price` >= toFloat64(100) THEN 1 END) AS `__m0`,
       count() AS `__m1`,
       (toFloat64(count(CASE WHEN `price` >= toFloat64(100) THEN 1 END)) / nullIf(toFloat64(count()), 0)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-10-28 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-10-31 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1d bucket of the range
