{{ config(materialized='table') }}  -- read by several marts: computed once per build
-- One row per twin-town partnership with at least one side in Asia-Pacific (the countries of ref_m49_areas) or
-- Taiwan (TWN, not an M49 area: counted apart). A pair listed on both countries' pages is one partnership: the
-- two sides are put in a fixed order (country, then the name lower-cased and trimmed) and the listings of the
-- same two sides are merged; evidence names every page and line that lists it. Names are as first published.
with asia_pacific as (
    select country_iso3 from {{ ref('ref_m49_areas') }} where area_level = 'country'
),

sides as (
    select
        t.*,
        coalesce(t.country_iso3, '?') || '|' || lower(btrim(t.city_name)) as key_listed,
        coalesce(t.partner_country_iso3, '?') || '|' || lower(btrim(t.partner_city_name)) as key_partner
    from {{ ref('stg_twinning__twin_cities') }} as t
    where t.country_iso3 in (select country_iso3 from asia_pacific)
       or t.partner_country_iso3 in (select country_iso3 from asia_pacific)
       or 'TWN' in (t.country_iso3, t.partner_country_iso3)
),

ordered as (
    select
        s.snapshot_id,
        s.row_number,
        s.page_country_name,
        s.key_listed <= s.key_partner as listed_first,
        least(s.key_listed, s.key_partner) || '||' || greatest(s.key_listed, s.key_partner) as pair_key,
        case when s.key_listed <= s.key_partner then s.city_name else s.partner_city_name end as name_a,
        case when s.key_listed <= s.key_partner then s.country_iso3 else s.partner_country_iso3 end as iso3_a,
        case when s.key_listed <= s.key_partner then s.page_country_name else s.partner_country_name end
            as country_name_a,
        case when s.key_listed <= s.key_partner then s.partner_city_name else s.city_name end as name_b,
        case when s.key_listed <= s.key_partner then s.partner_country_iso3 else s.country_iso3 end as iso3_b,
        case when s.key_listed <= s.key_partner then s.partner_country_name else s.page_country_name end
            as country_name_b
    from sides as s
)

select
    'twinning:' || left(md5(pair_key), 16) as partnership_id,
    pair_key,
    (array_agg(name_a order by row_number))[1] as partner_name_a,
    (array_agg(iso3_a order by row_number))[1] as country_iso3_a,
    (array_agg(country_name_a order by row_number))[1] as country_name_a,
    (array_agg(name_b order by row_number))[1] as partner_name_b,
    (array_agg(iso3_b order by row_number))[1] as country_iso3_b,
    (array_agg(country_name_b order by row_number))[1] as country_name_b,
    count(*)::integer as listings,
    string_agg('Wikipedia, List of twin towns and sister cities in ' || page_country_name
               || ' (line ' || row_number || ')', '; ' order by row_number) as evidence,
    min(snapshot_id) as snapshot_id
from ordered
group by pair_key
