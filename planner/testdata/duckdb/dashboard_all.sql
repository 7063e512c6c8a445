-- query: {"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}, "granularity": "1d", "timeZone": "America/New_York", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "filter": {"cmp": {"field": "price", "op": "GTE", "values": [100]}}, "as": "big"}, {"agg": "COUNT"}, {"ratio": ["big", "count"], "as": "big_share"}], "seriesLimit": 2, "compare": "previous_period", "timeSeries": true}
SELECT "campaign",
       count(CASE WHEN "price" >= ? THEN 1 END) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;

-- args:
--   $1 float64 100
--   $2 time.Time 2026-10-31T00:00:00Z
--   $3 time.Time 2026-11-03T00:00:00Z
-- output:
--   "campaign" STRING
--   "big" INT64

-- explained:
-- 1. rank the series: the top 2 by big
SELECT "campaign",
       count(CASE WHEN "price" >= CAST(100 AS DOUBLE) THEN 1 END) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-10-31 00:00:00' AND "time" < TIMESTAMP '2026-11-03 00:00:00'
GROUP BY 1
ORDER BY 2 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 2;
-- 2. aggregate per series (stand-in values for the series step 1 picks; the rest are series -1, __other__)
SELECT time_bucket(to_microseconds(86400000000), "time" + CASE WHEN "time" < TIMESTAMP '2026-11-01 06:00:00' THEN to_microseconds(-14400000000) ELSE to_microseconds(-18000000000) END, TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       CASE WHEN "campaign" = '<series 1>' THEN 0 WHEN "campaign" = '<series 2>' THEN 1 ELSE -1 END AS "__series",
       count(CASE WHEN "price" >= CAST(100 AS DOUBLE) THEN 1 END) AS "__m0",
       count(*) AS "__m1",
       (CAST(count(CASE WHEN "price" >= CAST(100 AS DOUBLE) THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-10-31 00:00:00' AND "time" < TIMESTAMP '2026-11-03 00:00:00'
GROUP BY 1, 2
LIMIT 100001;
-- 3. the previous period, joined by group and shifted bucket
SELECT time_bucket(to_microseconds(86400000000), "time" + to_microseconds(-14400000000), TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       CASE WHEN "campaign" = '<series 1>' THEN 0 WHEN "campaign" = '<series 2>' THEN 1 ELSE -1 END AS "__series",
       count(CASE WHEN "price" >= CAST(100 AS DOUBLE) THEN 1 END) AS "__m0",
       count(*) AS "__m1",
       (CAST(count(CASE WHEN "price" >= CAST(100 AS DOUBLE) THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-10-28 00:00:00' AND "time" < TIMESTAMP '2026-10-31 00:00:00'
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1d bucket of the range
