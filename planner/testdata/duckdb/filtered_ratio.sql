-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}, {"agg": "COUNT", "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, "as": "reds"}, {"agg": "SUM", "field": "qty", "filter": {"not": {"cmp": {"field": "slot", "op": "IN", "values": [1, 2]}}}, "as": "qty_off_slot"}, {"agg": "PERCENTILE", "field": "price", "p": 0.9, "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "p90_mobile"}, {"ratio": ["reds", "count"], "as": "red_share"}], "having": {"cmp": {"field": "red_share", "op": "GT", "values": [0.1]}}, "orderBy": [{"by": "red_share", "desc": true}]}
SELECT "campaign",
       count(*) AS "__m0",
       count(CASE WHEN "color" = ? THEN 1 END) AS "__m1",
       CAST(sum(CASE WHEN NOT ("slot" IN (?, ?)) THEN "qty" END) AS BIGINT) AS "__m2",
       quantile_cont(CAST(CASE WHEN "mobile" = ? THEN "price" END AS DOUBLE), 0.9) AS "__m3",
       (CAST(count(CASE WHEN "color" = ? THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) AS "__m4"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1
HAVING (CAST(count(CASE WHEN "color" = ? THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) > ?
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;

-- args:
--   $1 string "red"
--   $2 int64 1
--   $3 int64 2
--   $4 bool true
--   $5 string "red"
--   $6 time.Time 2026-11-22T00:00:00Z
--   $7 time.Time 2026-11-23T00:00:00Z
--   $8 string "red"
--   $9 float64 0.1
-- output:
--   "campaign" STRING
--   "count" INT64
--   "reds" INT64
--   "qty_off_slot" INT64
--   "p90_mobile" DOUBLE
--   "red_share" DOUBLE

-- rendered:
SELECT "campaign",
       count(*) AS "__m0",
       count(CASE WHEN "color" = 'red' THEN 1 END) AS "__m1",
       CAST(sum(CASE WHEN NOT ("slot" IN (1, 2)) THEN "qty" END) AS BIGINT) AS "__m2",
       quantile_cont(CAST(CASE WHEN "mobile" = TRUE THEN "price" END AS DOUBLE), 0.9) AS "__m3",
       (CAST(count(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) AS "__m4"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1
HAVING (CAST(count(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / NULLIF(CAST(count(*) AS DOUBLE), 0)) > CAST(0.1 AS DOUBLE)
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;
