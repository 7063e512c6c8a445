-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "PERCENTILE", "field": "price", "p": 0.99}, {"agg": "percentile", "field": "qty", "p": 0.999}]}
SELECT quantile_cont(CAST("price" AS DOUBLE), 0.99) AS "__m0",
       quantile_cont(CAST("qty" AS DOUBLE), 0.999) AS "__m1"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "p99_price" DOUBLE
--   "p99_9_qty" DOUBLE

-- rendered:
SELECT quantile_cont(CAST("price" AS DOUBLE), 0.99) AS "__m0",
       quantile_cont(CAST("qty" AS DOUBLE), 0.999) AS "__m1"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
LIMIT 1000;
