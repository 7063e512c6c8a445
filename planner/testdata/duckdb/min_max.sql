-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "MIN", "field": "price"}, {"agg": "MAX", "field": "qty"}, {"agg": "max", "field": "seen"}]}
SELECT min("price") AS "__m0",
       max("qty") AS "__m1",
       max("seen") AS "__m2"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
-- output:
--   "min_price" DOUBLE
--   "max_qty" INT64
--   "max_seen" TIMESTAMP

-- rendered:
SELECT min("price") AS "__m0",
       max("qty") AS "__m1",
       max("seen") AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
LIMIT 1000;
