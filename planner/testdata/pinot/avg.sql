-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "AVG", "field": "qty"}, {"agg": "avg", "field": "price"}]}
SELECT AVG("qty") AS "__m0",
       AVG("price") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "avg_qty" DOUBLE
--   "avg_price" DOUBLE

-- rendered:
SELECT AVG("qty") AS "__m0",
       AVG("price") AS "__m1"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
