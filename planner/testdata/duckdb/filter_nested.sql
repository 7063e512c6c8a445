-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "metrics": [{"agg": "COUNT"}], "filter": {"or": {"filters": [ {"and": {"filters": [{"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, {"not": {"cmp": {"field": "slot", "op": "IS_NULL"}}}]}}, {"not": {"or": {"filters": [{"cmp": {"field": "campaign", "op": "CONTAINS", "values": ["x"]}}, {"cmp": {"field": "qty", "op": "GT", "values": [5]}}]}}}]}}}
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
  AND (("color" = ? AND NOT ("slot" IS NULL)) OR NOT ((contains("campaign", ?) OR "qty" > ?)))
LIMIT 1000;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
--   $3 string "red"
--   $4 string "x"
--   $5 int64 5
-- output:
--   "count" INT64

-- rendered:
SELECT count(*) AS "__m0"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
  AND (("color" = 'red' AND NOT ("slot" IS NULL)) OR NOT ((contains("campaign", 'x') OR "qty" > 5)))
LIMIT 1000;
