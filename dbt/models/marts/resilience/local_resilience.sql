{{ config(contract={'enforced': true}) }}

-- Area × year: local DRR strategies from the SDG database (countries) and COVID-19 / recovery measures
-- submitted by member local governments. A count is NULL (not zero) where nobody reported.
with drr as (
    select f.area_code, f.year, max(f.value) as local_drr_strategy_share_pct,
           string_agg(distinct f.source_name, '; ') as source_names
    from {{ ref('fct_observation') }} as f
    where f.series_code = 'SG_DSR_SILS' and f.disaggregation = '_T'
    group by f.area_code, f.year
),

measures as (
    select
        m.area_code,
        m.year,
        count(*) filter (where m.measure_type = 'covid_response') as covid_measures_count,
        count(*) filter (where m.measure_type = 'recovery') as recovery_measures_count,
        string_agg(distinct s.source_name, '; ') as source_names
    from {{ ref('stg_submissions__covid_recovery_measure') }} as m
    inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
    group by m.area_code, m.year
)

select
    coalesce(d.area_code, m.area_code)::text as area_code,
    a.country_iso3::text as country_iso3,
    coalesce(d.year, m.year)::integer as year,
    d.local_drr_strategy_share_pct::numeric as local_drr_strategy_share_pct,
    m.covid_measures_count::integer as covid_measures_count,
    m.recovery_measures_count::integer as recovery_measures_count,
    concat_ws('; ', d.source_names, m.source_names)::text as source_names
from drr as d
full outer join measures as m on m.area_code = d.area_code and m.year = d.year
inner join {{ ref('dim_area') }} as a on a.area_code = coalesce(d.area_code, m.area_code)
