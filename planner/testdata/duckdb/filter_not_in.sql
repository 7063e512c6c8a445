-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"cmp": {"field": "slot", "op": "NOT_IN", "values": [1, 2]}}}
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
  AND "slot" NOT IN (?, ?)
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
--   $3 int64 1
--   $4 int64 2
-- output:
--   "count" INT64

-- rendered:
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
  AND "slot" NOT IN (1, 2)
LIMIT 1000;
