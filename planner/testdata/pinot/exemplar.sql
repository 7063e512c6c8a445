-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "MAX", "field": "price"}, {"agg": "ARG_MAX", "field": "campaign", "by": "price"}, {"agg": "ARG_MIN", "field": "seen", "by": "qty", "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "first_mobile"}]}
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       MAX("price") AS "__m0",
       EXPR_MAX("campaign", "price", "campaign") AS "__m1",
       EXPR_MIN("seen", CASE WHEN "mobile" = TRUE THEN "qty" END, "seen") AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
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
SELECT "time" - MOD("time" - 1795305600000, 3600000) AS "__time",
       MAX("price") AS "__m0",
       EXPR_MAX("campaign", "price", "campaign") AS "__m1",
       EXPR_MIN("seen", CASE WHEN "mobile" = TRUE THEN "qty" END, "seen") AS "__m2"
FROM "clicks"
WHERE "time" >= 1795305600000 AND "time" < 1795392000000
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
