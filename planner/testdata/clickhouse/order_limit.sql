-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "groupBy": ["campaign", "color"], "metrics": [{"agg": "SUM", "field": "price", "as": "revenue"}], "orderBy": [{"by": "revenue", "desc": true}, {"by": "COLOR"}], "limit": 10}
SELECT `campaign`,
       `color`,
       sumOrNull(`price`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;

-- args:
-- output:
--   "campaign" STRING
--   "color" STRING
--   "revenue" DOUBLE

-- rendered:
SELECT `campaign`,
       `color`,
       sumOrNull(`price`) AS `__m0`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1, 2
ORDER BY 3 DESC NULLS LAST, 2 ASC NULLS LAST, 1 ASC NULLS LAST
LIMIT 10;
