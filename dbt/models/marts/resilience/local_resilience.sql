{{ config(contract={'enforced': true}) }}

-- Area × year. COVID-19 and recovery measure counts come from member submissions once they land.
select
    f.area_code::text as area_code,
    a.country_iso3::text as country_iso3,
    f.year::integer as year,
    max(f.value)::numeric as local_drr_strategy_share_pct,
    null::integer as covid_measures_count,
    null::integer as recovery_measures_count,
    string_agg(distinct f.source_name, '; ')::text as source_names
from {{ ref('fct_observation') }} as f
inner join {{ ref('dim_area') }} as a using (area_code)
where f.series_code = 'SG_DSR_SILS' and f.disaggregation = '_T'
group by f.area_code, a.country_iso3, f.year
