-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "APPROX_PERCENTILE", "field": "qty", "p": 0.5}]}
SELECT PERCENTILETDIGEST("qty", 50) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "approx_p50_qty" DOUBLE approximate

-- rendered:
SELECT PERCENTILETDIGEST("qty", 50) AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
