-- query: {"timeRange": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}, "granularity": "1w", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}
SELECT time_bucket(to_microseconds(604800000000), "time" + CASE WHEN "time" < ? THEN to_microseconds(-18000000000) WHEN "time" < ? THEN to_microseconds(-14400000000) ELSE to_microseconds(-18000000000) END, TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
--   $1 time.Time 2026-03-08T07:00:00Z
--   $2 time.Time 2026-11-01T06:00:00Z
--   $3 time.Time 2026-01-01T00:00:00Z
--   $4 time.Time 2027-01-01T00:00:00Z
-- output:
--   "__time" TIMESTAMP
--   "count" INT64

-- rendered:
SELECT time_bucket(to_microseconds(604800000000), "time" + CASE WHEN "time" < TIMESTAMP '2026-03-08 07:00:00' THEN to_microseconds(-18000000000) WHEN "time" < TIMESTAMP '2026-11-01 06:00:00' THEN to_microseconds(-14400000000) ELSE to_microseconds(-18000000000) END, TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-01-01 00:00:00' AND "time" < TIMESTAMP '2027-01-01 00:00:00'
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
