-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "slot", "op": "NOT_IN", "values": [1, 2]}}}
SELECT COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND "slot" NOT IN (1, 2)
LIMIT 1000;

-- args:
-- output:
--   "count" INT64

-- rendered:
SELECT COUNT(*) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
  AND "slot" NOT IN (1, 2)
LIMIT 1000;
