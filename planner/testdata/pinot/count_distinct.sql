-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT_DISTINCT", "field": "campaign"}]}
SELECT DISTINCTCOUNT("campaign") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;

-- args:
-- output:
--   "count_distinct_campaign" INT64

-- rendered:
SELECT DISTINCTCOUNT("campaign") AS "__m0"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
LIMIT 1000;
