-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}, {"agg": "COUNT", "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, "as": "reds"}, {"agg": "SUM", "field": "qty", "filter": {"not": {"cmp": {"field": "slot", "op": "IN", "values": [1, 2]}}}, "as": "qty_off_slot"}, {"agg": "PERCENTILE", "field": "price", "p": 0.9, "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "p90_mobile"}, {"ratio": ["reds", "count"], "as": "red_share"}], "having": {"cmp": {"field": "red_share", "op": "GT", "values": [0.1]}}, "orderBy": [{"by": "red_share", "desc": true}]}
SELECT "campaign",
       COUNT(*) AS "__m0",
       COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS "__m1",
       SUM(CASE WHEN NOT ("slot" IN (1, 2)) THEN "qty" END) AS "__m2",
       PERCENTILE(CASE WHEN "mobile" = TRUE THEN "price" END, 90) AS "__m3",
       CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END AS "__m4"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
HAVING CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END > 0.1
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "count" INT64
--   "reds" INT64
--   "qty_off_slot" INT64
--   "p90_mobile" DOUBLE approximate
--   "red_share" DOUBLE

-- rendered:
SELECT "campaign",
       COUNT(*) AS "__m0",
       COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS "__m1",
       SUM(CASE WHEN NOT ("slot" IN (1, 2)) THEN "qty" END) AS "__m2",
       PERCENTILE(CASE WHEN "mobile" = TRUE THEN "price" END, 90) AS "__m3",
       CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END AS "__m4"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
HAVING CASE WHEN COUNT(*) = 0 THEN NULL ELSE CAST(COUNT(CASE WHEN "color" = 'red' THEN 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) END > 0.1
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;
