-- query: {"dataset": "clicks", "timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "COUNT", "as": "n"}, {"agg": "SUM", "field": "price", "as": "revenue"}, {"agg": "PERCENTILE", "field": "price", "p": 0.99}], "groupBy": ["campaign"], "filter": {"and": {"filters": [{"cmp": {"field": "color", "op": "IN", "values": ["red", "blue"]}}, {"not": {"cmp": {"field": "campaign", "op": "EQ", "values": ["NONE"]}}}]}}, "orderBy": [{"by": "revenue", "desc": true}], "limit": 10}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       `campaign`,
       count() AS `__m0`,
       sumOrNull(`price`) AS `__m1`,
       quantileExactInclusiveOrNull(0.99)(toFloat64(`price`)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND (`color` IN ('red', 'blue') AND NOT (`campaign` = 'NONE'))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "campaign" STRING
--   "n" INT64
--   "revenue" DOUBLE
--   "p99_price" DOUBLE

-- rendered:
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       `campaign`,
       count() AS `__m0`,
       sumOrNull(`price`) AS `__m1`,
       quantileExactInclusiveOrNull(0.99)(toFloat64(`price`)) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
  AND (`color` IN ('red', 'blue') AND NOT (`campaign` = 'NONE'))
GROUP BY 1, 2
ORDER BY 4 DESC NULLS LAST, 1 ASC NULLS LAST, 2 ASC NULLS LAST
LIMIT 10;
