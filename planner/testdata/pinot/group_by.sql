-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign", "mobile"], "metrics": [{"agg": "COUNT"}, {"agg": "SUM", "field": "qty"}]}
SELECT "campaign",
       "mobile",
       COUNT(*) AS "__m0",
       SUM("qty") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "mobile" BOOL
--   "count" INT64
--   "sum_qty" INT64

-- rendered:
SELECT "campaign",
       "mobile",
       COUNT(*) AS "__m0",
       SUM("qty") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;
