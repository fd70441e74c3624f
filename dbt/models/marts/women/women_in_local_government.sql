{{ config(contract={'enforced': true}) }}

-- SDG 5.5.1(b): the series has one category (Sex = FEMALE), so it is read by series, not by "_T".
with sdg as (
    select distinct on (f.area_code, f.year)
        f.area_code,
        f.year,
        f.value as women_seat_share_pct,
        f.source_name
    from {{ ref('fct_observation') }} as f
    where f.series_code = 'SG_GEN_LOCGELS'
    order by f.area_code, f.year, (f.reporting_type = 'N') desc, f.disaggregation
)

select
    s.area_code::text as area_code,
    a.country_iso3::text as country_iso3,
    a.area_level::text as area_level,
    s.year::integer as year,
    s.women_seat_share_pct::numeric as women_seat_share_pct,
    null::integer as seats_total,
    null::integer as seats_women,
    s.source_name::text as source_name
from sdg as s
inner join {{ ref('dim_area') }} as a using (area_code)
where a.area_level in ('country', 'local_government')
