{{ config(contract={'enforced': true}) }}

-- Countries from SDG 5.5.1(b) (SG_GEN_LOCGELS has one category, Sex = FEMALE, so it is read by series,
-- not by "_T"), member local governments from their council submissions. Where two vintages of the series give
-- an area and year (the UN 2020 release, OWID's 2024 export of the IPU's data), the one retrieved last wins;
-- the other stays in fct_observation with its snapshot. Within a vintage, national reporting is preferred.
with sdg as (
    select distinct on (f.area_code, f.year)
        f.area_code,
        f.year,
        f.value as women_seat_share_pct,
        null::integer as seats_total,
        null::integer as seats_women,
        f.source_name,
        f.snapshot_id
    from {{ ref('fct_observation') }} as f
    inner join {{ ref('stg_lgstats__snapshot_origins') }} as o using (snapshot_id)
    where f.series_code = 'SG_GEN_LOCGELS'
    order by f.area_code, f.year, o.retrieved_at desc, (f.reporting_type = 'N') desc, f.disaggregation
),

councils as (
    select
        c.area_code,
        c.election_year as year,
        round(100.0 * c.seats_women / c.seats_total, 2) as women_seat_share_pct,
        c.seats_total,
        c.seats_women,
        s.source_name,
        c.snapshot_id
    from {{ ref('stg_submissions__council_composition') }} as c
    inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
),

combined as (
    select * from sdg
    union all
    select * from councils where area_code not in (select area_code from sdg)
)

select
    x.area_code::text as area_code,
    a.country_iso3::text as country_iso3,
    a.area_level::text as area_level,
    x.year::integer as year,
    x.women_seat_share_pct::numeric as women_seat_share_pct,
    x.seats_total::integer as seats_total,
    x.seats_women::integer as seats_women,
    x.source_name::text as source_name,
    x.snapshot_id::text as snapshot_id
from combined as x
inner join {{ ref('dim_area') }} as a using (area_code)
where a.area_level in ('country', 'local_government')
