-- query: {"dataset": "clicks", "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "price", "as": "revenue"}, {"agg": "PERCENTILE", "field": "price", "p": 0.99}], "groupBy": ["campaign"], "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": ["red", "blue"]}}, {"not": {"cmp": {"field": "campaign", "op": "EQ", "values": ["NONE"]}}}]}}, "orderBy": [{"by": "revenue", "desc": true}], "limit": 10}
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       "campaign",
       COUNT(*) AS "__m0",
       SUM("price") AS "__m1",
       PERCENTILE("price", 99) AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND ("color" IN ('red', 'blue') AND NOT ("campaign" = 'NONE'))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "campaign" STRING
--   "n" INT64
--   "revenue" DOUBLE
--   "p99_price" DOUBLE approximate

-- rendered:
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       "campaign",
       COUNT(*) AS "__m0",
       SUM("price") AS "__m1",
       PERCENTILE("price", 99) AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND ("color" IN ('red', 'blue') AND NOT ("campaign" = 'NONE'))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;
