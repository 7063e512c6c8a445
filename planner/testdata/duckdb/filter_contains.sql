-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "campaign", "op": "CONTAINS", "values": ["50%_off"]}}}
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
  AND contains("campaign", ?)
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
--   $3 string "50%_off"
-- output:
--   "count" INT64

-- rendered:
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
  AND contains("campaign", '50%_off')
LIMIT 1000;
