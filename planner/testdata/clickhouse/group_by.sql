-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign", "mobile"], "metrics": [{"agg": "COUNT"}, {"agg": "SUM", "field": "qty"}]}
SELECT `campaign`,
       `mobile`,
       count() AS `__m0`,
       accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "campaign" STRING
--   "mobile" BOOL
--   "count" INT64
--   "sum_qty" INT64

-- rendered:
SELECT `campaign`,
       `mobile`,
       count() AS `__m0`,
       accurateCast(sumOrNull(toInt128(`qty`)), 'Nullable(Int64)') AS `__m1`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 1000;
