-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "6h", "groupBy": ["color"], "metrics": [{"agg": "COUNT"}, {"agg": "AVG", "field": "price"}], "compare": "previous_period", "limit": 50}
SELECT "time" - MOD("time" - 1795305600000, 21600000) AS "__time",
       "color",
       COUNT(*) AS "__m0",
       AVG("price") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
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
SELECT "time" - MOD("time" - 1795305600000, 21600000) AS "__time",
       "color",
       COUNT(*) AS "__m0",
       AVG("price") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 50;
-- 2. the previous period, joined by group and shifted bucket
SELECT "time" - MOD("time" - 1795219200000, 21600000) AS "__time",
       "color",
       COUNT(*) AS "__m0",
       AVG("price") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795219200000 AND "time" < 1795305600000
GROUP BY 1, 2
LIMIT 100001;
