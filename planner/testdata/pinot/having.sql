-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "qty"}, {"agg": "PERCENTILE", "field": "price", "p": 0.5}], "having": {"and": {"filters": [{"cmp": {"field": "n", "op": "GTE", "values": [10]}}, {"cmp": {"field": "p50_price", "op": "BETWEEN", "values": [1, 2.5]}}, {"not": {"cmp": {"field": "sum_qty", "op": "IS_NULL"}}}]}}}
SELECT "campaign",
       COUNT(*) AS "__m0",
       SUM("qty") AS "__m1",
       PERCENTILE("price", 50) AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
HAVING (COUNT(*) >= 10 AND PERCENTILE("price", 50) BETWEEN 1 AND 2.5 AND NOT (SUM("qty") IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "n" INT64
--   "sum_qty" INT64
--   "p50_price" DOUBLE approximate

-- rendered:
SELECT "campaign",
       COUNT(*) AS "__m0",
       SUM("qty") AS "__m1",
       PERCENTILE("price", 50) AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
HAVING (COUNT(*) >= 10 AND PERCENTILE("price", 50) BETWEEN 1 AND 2.5 AND NOT (SUM("qty") IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
