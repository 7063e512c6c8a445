-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "6h", "groupBy": ["color"], "metrics": [{"agg": "COUNT"}, {"agg": "AVG", "field": "price"}], "compare": "previous_period", "limit": 50}
SELECT time_bucket(to_microseconds(21600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "color",
       count(*) AS "__m0",
       avg("price") AS "__m1"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 50;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "__time" TIMESTAMP
--   "color" STRING
--   "count" INT64
--   "avg_price" DOUBLE

-- explained:
-- 1. aggregate
SELECT time_bucket(to_microseconds(21600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "color",
       count(*) AS "__m0",
       avg("price") AS "__m1"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 50;
-- 2. the previous period, joined by group and shifted bucket
SELECT time_bucket(to_microseconds(21600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "color",
       count(*) AS "__m0",
       avg("price") AS "__m1"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-21 00:00:00' AND "time" < TIMESTAMP '2026-11-22 00:00:00'
GROUP BY 1, 2
LIMIT 100001;
