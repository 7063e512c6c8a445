-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "timeZone": "Asia/Kolkata", "groupBy": ["mobile"], "metrics": [{"agg": "COUNT"}], "timeSeries": true}
SELECT time_bucket(to_microseconds(3600000000), "time" + to_microseconds(19800000000), TIMESTAMP '2000-01-03 00:00:00') - to_microseconds(19800000000) AS "__time",
       "mobile",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1, 2
LIMIT 100001;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "__time" TIMESTAMP
--   "mobile" BOOL
--   "count" INT64

-- explained:
-- 1. aggregate
SELECT time_bucket(to_microseconds(3600000000), "time" + to_microseconds(19800000000), TIMESTAMP '2000-01-03 00:00:00') - to_microseconds(19800000000) AS "__time",
       "mobile",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1, 2
LIMIT 100001;
-- then every series gets every 1h bucket of the range
