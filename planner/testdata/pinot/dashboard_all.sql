-- query: {"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}, "granularity": "1d", "timeZone": "America/New_York", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "filter": {"cmp": {"field": "price", "op": "GTE", "values": [100]}}, "as": "big"}, {"agg": "COUNT"}, {"ratio": ["big", "count"], "as": "big_share"}], "seriesLimit": 2, "compare": "previous_period", "timeSeries": true}
SELECT "campaign",
       COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS "__m0"
FROM "clicks"
WHERE "time" >= 1793404800000 AND "time" < 1793664000000
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;

-- args:
-- output:
--   "campaign" STRING
--   "big" INT64

-- explained:
-- 1. rank the series: the top 2 by big
SELECT "campaign",
       COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS "__m0"
FROM "clicks"
WHERE "time" >= 1793404800000 AND "time" < 1793664000000
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;
-- 2. aggregate per series (stand-in values for the series step 1 picks; the rest are series -1, __other__)
SELECT "time" + CASE WHEN "time" < 1793512800000 THEN -14400000 ELSE -18000000 END - MOD("time" + CASE WHEN "time" < 1793512800000 THEN -14400000 ELSE -18000000 END - 1793318400000, 86400000) AS "__time",
       CASE WHEN "campaign" = '<series 1>' THEN 0 WHEN "campaign" = '<series 2>' THEN 1 ELSE -1 END AS "__series",
       COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS "__m0",
       COUNT(*) AS "__m1",
       CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END AS "__m2"
FROM "clicks"
WHERE "time" >= 1793404800000 AND "time" < 1793664000000
GROUP BY 1, 2
LIMIT 100001;
-- 3. the previous period, joined by group and shifted bucket
SELECT "time" - 14400000 - MOD("time" - 1793073600000, 86400000) AS "__time",
       CASE WHEN "campaign" = '<series 1>' THEN 0 WHEN "campaign" = '<series 2>' THEN 1 ELSE -1 END AS "__series",
       COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS "__m0",
       COUNT(*) AS "__m1",
       CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "price" >= 100 THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END AS "__m2"
FROM "clicks"
WHERE "time" >= 1793145600000 AND "time" < 1793404800000
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1d bucket of the range
