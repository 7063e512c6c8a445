-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "MAX", "field": "price"}, {"agg": "ARG_MAX", "field": "campaign", "by": "price"}, {"agg": "ARG_MIN", "field": "seen", "by": "qty", "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "first_mobile"}]}
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       maxOrNull(`price`) AS `__m0`,
       argMaxIfOrNull(`campaign`, tuple(`price`, `campaign`), `price` IS NOT NULL AND `campaign` IS NOT NULL) AS `__m1`,
       argMinIfOrNull(`seen`, tuple(CASE WHEN `mobile` = true THEN `qty` END, `seen`), CASE WHEN `mobile` = true THEN `qty` END IS NOT NULL AND `seen` IS NOT NULL) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
-- output:
--   "__time" TIMESTAMP
--   "max_price" DOUBLE
--   "campaign_at_max_price" STRING
--   "first_mobile" TIMESTAMP

-- rendered:
SELECT fromUnixTimestamp64Micro(toUnixTimestamp64Micro(`time`) - positiveModulo(toUnixTimestamp64Micro(`time`) - 946857600000000, 3600000000), 'UTC') AS `__time`,
       maxOrNull(`price`) AS `__m0`,
       argMaxIfOrNull(`campaign`, tuple(`price`, `campaign`), `price` IS NOT NULL AND `campaign` IS NOT NULL) AS `__m1`,
       argMinIfOrNull(`seen`, tuple(CASE WHEN `mobile` = true THEN `qty` END, `seen`), CASE WHEN `mobile` = true THEN `qty` END IS NOT NULL AND `seen` IS NOT NULL) AS `__m2`
FROM `clicks`
WHERE `time` >= toDateTime64('2026-11-22 00:00:00.000000', 6, 'UTC') AND `time` < toDateTime64('2026-11-23 00:00:00.000000', 6, 'UTC')
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
