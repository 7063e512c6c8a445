-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "timeZone": "Asia/Kolkata", "groupBy": ["mobile"], "metrics": [{"agg": "COUNT"}], "timeSeries": true}
SELECT "time" - MOD("time" - 1795303800000, 3600000) AS "__time",
       "mobile",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
LIMIT 100001;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "mobile" BOOL
--   "count" INT64

-- explained:
-- 1. aggregate
SELECT "time" - MOD("time" - 1795303800000, 3600000) AS "__time",
       "mobile",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1h bucket of the range
