-- query: {"dataset": "clicks", "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "price", "as": "revenue"}, {"agg": "PERCENTILE", "field": "price", "p": 0.99}], "groupBy": ["campaign"], "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": ["red", "blue"]}}, {"not": {"cmp": {"field": "campaign", "op": "EQ", "values": ["NONE"]}}}]}}, "orderBy": [{"by": "revenue", "desc": true}], "limit": 10}
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "campaign",
       count(*) AS "__m0",
       sum("price") AS "__m1",
       quantile_cont(CAST("price" AS DOUBLE), 0.99) AS "__m2"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
  AND ("color" IN (?, ?) AND NOT ("campaign" = ?))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;

-- args:
--   $1 time.Time 2026-11-22T00:00:00Z
--   $2 time.Time 2026-11-23T00:00:00Z
--   $3 string "red"
--   $4 string "blue"
--   $5 string "NONE"
-- output:
--   "__time" TIMESTAMP
--   "campaign" STRING
--   "n" INT64
--   "revenue" DOUBLE
--   "p99_price" DOUBLE

-- rendered:
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       "campaign",
       count(*) AS "__m0",
       sum("price") AS "__m1",
       quantile_cont(CAST("price" AS DOUBLE), 0.99) AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
  AND ("color" IN ('red', 'blue') AND NOT ("campaign" = 'NONE'))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;
