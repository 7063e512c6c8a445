-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT"}, {"agg": "COUNT", "filter": {"cmp": {"field": "color", "op": "EQ", "values": ["red"]}}, "as": "reds"}, {"agg": "SUM", "field": "qty", "filter": {"not": {"cmp": {"field": "slot", "op": "IN", "values": [1, 2]}}}, "as": "qty_off_slot"}, {"agg": "PERCENTILE", "field": "price", "p": 0.9, "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "p90_mobile"}, {"ratio": ["reds", "count"], "as": "red_share"}], "having": {"cmp": {"field": "red_share", "op": "GT", "values": [0.1]}}, "orderBy": [{"by": "red_share", "desc": true}]}
SELECT `campaign`,
       count() AS `__m0`,
       count(CASE WHEN `color` = 'red' THEN 1 END) AS `__m1`,
       accurateCast(sumOrNull(toInt128(CASE WHEN NOT (`slot` IN (1, 2)) THEN `qty` END)), 'Nullable(Int64)') AS `__m2`,
       quantileExactInclusiveOrNull(0.9)(toFloat64(CASE WHEN `mobile` = true THEN `price` END)) AS `__m3`,
       (toFloat64(count(CASE WHEN `color` = 'red' THEN 1 END)) / nullIf(toFloat64(count()), 0)) AS `__m4`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
HAVING (toFloat64(count(CASE WHEN `color` = 'red' THEN 1 END)) / nullIf(toFloat64(count()), 0)) > toFloat64(0.1)
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "count" INT64
--   "reds" INT64
--   "qty_off_slot" INT64
--   "p90_mobile" DOUBLE
--   "red_share" DOUBLE

-- rendered:
SELECT `campaign`,
       count() AS `__m0`,
       count(CASE WHEN `color` = 'red' THEN 1 END) AS `__m1`,
       accurateCast(sumOrNull(toInt128(CASE WHEN NOT (`slot` IN (1, 2)) THEN `qty` END)), 'Nullable(Int64)') AS `__m2`,
       quantileExactInclusiveOrNull(0.9)(toFloat64(CASE WHEN `mobile` = true THEN `price` END)) AS `__m3`,
       (toFloat64(count(CASE WHEN `color` = 'red' THEN 1 END)) / nullIf(toFloat64(count()), 0)) AS `__m4`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
HAVING (toFloat64(count(CASE WHEN `color` = 'red' THEN 1 END)) / nullIf(toFloat64(count()), 0)) > toFloat64(0.1)
ORDER BY 6 DESC NULLS LAST, 1 ASC NULLS LAST
LIMIT 1000;
