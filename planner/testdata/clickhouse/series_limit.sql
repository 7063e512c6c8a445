-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "groupBy": ["campaign", "slot"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}, {"agg": "COUNT"}], "seriesLimit": 3}
-- tenant: "acme"
SELECT `campaign`,
       `slot`,
       sumOrNull(`price`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND `tenant` = 'acme'
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 3;

-- args:
-- output:
--   "campaign" STRING
--   "slot" INT64
--   "revenue" DOUBLE

-- explained:
-- 1. rank the series: the top 3 by revenue
SELECT `campaign`,
       `slot`,
       sumOrNull(`price`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND `tenant` = 'acme'
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 3;
-- 2. aggregate per series (stand-in values for the series step 1 picks; the rest are series -1, __other__)
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       CASE WHEN `campaign` = '<series 1>' AND `slot` = 1 THEN 0 WHEN `campaign` = '<series 2>' AND `slot` = 2 THEN 1 WHEN `campaign` = '<series 3>' AND `slot` = 3 THEN 2 ELSE -1 END AS `__series`,
       sumOrNull(`price`) AS `__m0`,
       count() AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND `tenant` = 'acme'
GROUP BY 1, 2
LIMIT 100001;
