-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign", "color"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}], "orderBy": [{"by": "revenue", "desc": true}, {"by": "COLOR"}], "limit": 10}
SELECT "campaign",
       "color",
       SUM("price") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;

-- args:
-- output:
--   "campaign" STRING
--   "color" STRING
--   "revenue" DOUBLE

-- rendered:
SELECT "campaign",
       "color",
       SUM("price") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;
