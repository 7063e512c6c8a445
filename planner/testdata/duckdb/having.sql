-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "qty"}, {"agg": "PERCENTILE", "field": "price", "p": 0.5}], "having": {"and": {"filters": [{"cmp": {"field": "n", "op": "GTE", "values": [10]}}, {"cmp": {"field": "p50_price", "op": "BETWEEN", "values": [1, 2.5]}}, {"not": {"cmp": {"field": "sum_qty", "op": "IS_NULL"}}}]}}}
SELECT "campaign",
       count(*) AS "__m0",
       CAST(sum("qty") AS BIGINT) AS "__m1",
       quantile_cont(CAST("price" AS DOUBLE), 0.5) AS "__m2"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1
HAVING (count(*) >= ? AND quantile_cont(CAST("price" AS DOUBLE), 0.5) BETWEEN ? AND ? AND NOT (CAST(sum("qty") AS BIGINT) IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
--   $3 int64 10
--   $4 float64 1
--   $5 float64 2.5
-- output:
--   "campaign" STRING
--   "n" INT64
--   "sum_qty" INT64
--   "p50_price" DOUBLE

-- rendered:
SELECT "campaign",
       count(*) AS "__m0",
       CAST(sum("qty") AS BIGINT) AS "__m1",
       quantile_cont(CAST("price" AS DOUBLE), 0.5) AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1
HAVING (count(*) >= 10 AND quantile_cont(CAST("price" AS DOUBLE), 0.5) BETWEEN CAST(1 AS DOUBLE) AND CAST(2.5 AS DOUBLE) AND NOT (CAST(sum("qty") AS BIGINT) IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
