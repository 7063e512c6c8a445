-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "2w", "metrics": [{"agg": "COUNT"}]}
SELECT "time" - MOD("time" - 1794787200000, 1209600000) AS "__time",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "count" INT64

-- rendered:
SELECT "time" - MOD("time" - 1794787200000, 1209600000) AS "__time",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
