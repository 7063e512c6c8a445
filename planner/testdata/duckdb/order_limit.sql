-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign", "color"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}], "orderBy": [{"by": "revenue", "desc": true}, {"by": "COLOR"}], "limit": 10}
SELECT "campaign",
       "color",
       sum("price") AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "campaign" STRING
--   "color" STRING
--   "revenue" DOUBLE

-- rendered:
SELECT "campaign",
       "color",
       sum("price") AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;
