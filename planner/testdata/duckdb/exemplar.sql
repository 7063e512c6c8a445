-- query: {"timeRange": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, "granularity": "1h", "metrics": [{"agg": "MAX", "field": "price"}, {"agg": "ARG_MAX", "field": "campaign", "by": "price"}, {"agg": "ARG_MIN", "field": "seen", "by": "qty", "filter": {"cmp": {"field": "mobile", "op": "EQ", "values": [true]}}, "as": "first_mobile"}]}
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       max("price") AS "__m0",
       struct_extract(max(CASE WHEN "price" IS NOT NULL AND "campaign" IS NOT NULL THEN struct_pack(b := "price", v := "campaign") END), 'v') AS "__m1",
       struct_extract(min(CASE WHEN CASE WHEN "mobile" = ? THEN "qty" END IS NOT NULL AND "seen" IS NOT NULL THEN struct_pack(b := CASE WHEN "mobile" = ? THEN "qty" END, v := "seen") END), 'v') AS "__m2"
FROM "clicks"
WHERE "time" >= ? AND "time" < ?
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;

-- args:
--   $1 bool true
--   $2 bool true
--   $3 time.Time 2026-11-22T00:00:00Z
--   $4 time.Time 2026-11-23T00:00:00Z
-- output:
--   "__time" TIMESTAMP
--   "max_price" DOUBLE
--   "campaign_at_max_price" STRING
--   "first_mobile" TIMESTAMP

-- rendered:
SELECT time_bucket(to_microseconds(3600000000), "time", TIMESTAMP '2000-01-03 00:00:00') AS "__time",
       max("price") AS "__m0",
       struct_extract(max(CASE WHEN "price" IS NOT NULL AND "campaign" IS NOT NULL THEN struct_pack(b := "price", v := "campaign") END), 'v') AS "__m1",
       struct_extract(min(CASE WHEN CASE WHEN "mobile" = TRUE THEN "qty" END IS NOT NULL AND "seen" IS NOT NULL THEN struct_pack(b := CASE WHEN "mobile" = TRUE THEN "qty" END, v := "seen") END), 'v') AS "__m2"
FROM "clicks"
WHERE "time" >= TIMESTAMP '2026-11-22 00:00:00' AND "time" < TIMESTAMP '2026-11-23 00:00:00'
GROUP BY 1
ORDER BY 1 ASC NULLS LAST
LIMIT 1000;
