-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "PERCENTILE", "field": "price", "p": 0.99}, {"agg": "percentile", "field": "qty", "p": 0.999}]}
SELECT PERCENTILE("price", 99) AS "__m0",
       PERCENTILE("qty", 99.9) AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "p99_price" DOUBLE approximate
--   "p99_9_qty" DOUBLE approximate

-- rendered:
SELECT PERCENTILE("price", 99) AS "__m0",
       PERCENTILE("qty", 99.9) AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
