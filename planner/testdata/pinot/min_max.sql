-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "MIN", "field": "price"}, {"agg": "MAX", "field": "qty"}, {"agg": "max", "field": "seen"}]}
SELECT MIN("price") AS "__m0",
       MAX("qty") AS "__m1",
       MAX("seen") AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "min_price" DOUBLE
--   "max_qty" INT64
--   "max_seen" TIMESTAMP

-- rendered:
SELECT MIN("price") AS "__m0",
       MAX("qty") AS "__m1",
       MAX("seen") AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
