-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}], "orderBy": [{"by": "count", "desc": true}]}
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "campaign",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "__time" TIMESTAMP
--   "campaign" STRING
--   "count" INT64

-- rendered:
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "campaign",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;
