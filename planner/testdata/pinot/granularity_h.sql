-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}], "orderBy": [{"by": "count", "desc": true}]}
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       "campaign",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "campaign" STRING
--   "count" INT64

-- rendered:
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       "campaign",
       COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;
