-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign"], "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "qty"}, {"agg": "PERCENTILE", "field": "price", "p": 0.5}], "having": {"and": {"filters": [{"cmp": {"field": "n", "op": "GTE", "values": [10]}}, {"cmp": {"field": "p50_price", "op": "BETWEEN", "values": [1, 2.5]}}, {"not": {"cmp": {"field": "sum_qty", "op": "IS_NULL"}}}]}}}
SELECT `campaign`,
       count() AS `__m0`,
       accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') AS `__m1`,
       quantileExactInclusiveOrNull(0.5)(toFloat64(`price`)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
HAVING (count() >= 10 AND quantileExactInclusiveOrNull(0.5)(toFloat64(`price`)) BETWEEN toFloat64(1) AND toFloat64(2.5) AND NOT (accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "n" INT64
--   "sum_qty" INT64
--   "p50_price" DOUBLE

-- rendered:
SELECT `campaign`,
       count() AS `__m0`,
       accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') AS `__m1`,
       quantileExactInclusiveOrNull(0.5)(toFloat64(`price`)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
HAVING (count() >= 10 AND quantileExactInclusiveOrNull(0.5)(toFloat64(`price`)) BETWEEN toFloat64(1) AND toFloat64(2.5) AND NOT (accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') IS NULL))
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
