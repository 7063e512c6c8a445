-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "count", "field": "color"}]}
SELECT COUNT("color") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "count_color" INT64

-- rendered:
SELECT COUNT("color") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
