-- query: {"timeRange": {"start": "2026-10-31T00:00:00Z", "end": "2026-11-03T00:00:00Z"}, "granularity": "15m", "timeZone": "America/New_York", "metrics": [{"agg": "COUNT"}]}
SELECT "time" - MOD("time" + CASE WHEN "time" < 1793512800000 THEN -14400000 ELSE -18000000 END - 1793386800000, 900000) AS "__time",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1793404800000 AND "time" < 1793664000000
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "count" INT64

-- rendered:
SELECT "time" - MOD("time" + CASE WHEN "time" < 1793512800000 THEN -14400000 ELSE -18000000 END - 1793386800000, 900000) AS "__time",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1793404800000 AND "time" < 1793664000000
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
