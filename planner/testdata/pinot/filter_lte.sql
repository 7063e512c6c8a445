-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "qty", "op": "LTE", "values": [10]}}}
SELECT COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND "qty" <= 10
LIMIT 1000;

-- args:
-- output:
--   "count" INT64

-- rendered:
SELECT COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND "qty" <= 10
LIMIT 1000;
