{{ config(contract={'enforced': true}) }}
{% set indices = {'stringency': 'oxcgrt.StringencyIndex', 'government_response': 'oxcgrt.GovernmentResponseIndex',
                  'containment_health': 'oxcgrt.ContainmentHealthIndex', 'economic_support': 'oxcgrt.EconomicSupportIndex'} %}

-- Area × year: local DRR strategies from the SDG database (countries), COVID-19 / recovery measures
-- submitted by member local governments, and the OxCGRT COVID-19 policy indices (daily, 0-100) of every
-- Asia-Pacific jurisdiction it tracks (countries, Australian states and cities, Chinese provinces, Indian
-- states) summarised per year: the mean and the maximum of the days reported, and the days above 70.
-- A count is NULL (not zero) where nobody reported.
with drr as (
    select f.area_code, f.year, max(f.value) as local_drr_strategy_share_pct,
           string_agg(distinct f.source_name, '; ') as source_names, max(f.snapshot_id) as snapshot_id
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
        string_agg(distinct s.source_name, '; ') as source_names,
        max(m.snapshot_id) as snapshot_id
    from {{ ref('stg_submissions__covid_recovery_measure') }} as m
    inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
    group by m.area_code, m.year
),

covid_policy as (
    select
        f.area_code,
        f.year,
        {% for name, series in indices.items() %}
        round(avg(f.value) filter (where f.series_code = '{{ series }}'), 2) as {{ name }}_index_mean,
        max(f.value) filter (where f.series_code = '{{ series }}') as {{ name }}_index_max,
        count(*) filter (where f.series_code = '{{ series }}' and f.value > 70) as {{ name }}_days_above_70,
        count(*) filter (where f.series_code = '{{ series }}') as {{ name }}_days_reported,
        max(f.snapshot_id) filter (where f.series_code = '{{ series }}') as {{ name }}_snapshot_id,
        {% endfor %}
        string_agg(distinct f.source_name, '; ') as source_names
    from {{ ref('fct_observation') }} as f
    where f.series_code in ({{ "'" ~ indices.values() | join("', '") ~ "'" }})
    group by f.area_code, f.year
)

select
    coalesce(d.area_code, m.area_code, c.area_code)::text as area_code,
    a.country_iso3::text as country_iso3,
    coalesce(d.year, m.year, c.year)::integer as year,
    d.local_drr_strategy_share_pct::numeric as local_drr_strategy_share_pct,
    m.covid_measures_count::integer as covid_measures_count,
    m.recovery_measures_count::integer as recovery_measures_count,
    {% for name in indices %}
    c.{{ name }}_index_mean::numeric as {{ name }}_index_mean,
    c.{{ name }}_index_max::numeric as {{ name }}_index_max,
    nullif(c.{{ name }}_days_reported, 0)::integer as {{ name }}_days_reported,
    case when c.{{ name }}_days_reported > 0 then c.{{ name }}_days_above_70 end::integer as {{ name }}_days_above_70,
    {% endfor %}
    concat_ws('; ', d.source_names, m.source_names, c.source_names)::text as source_names,
    -- provenance of each value: column → the snapshot it came from (columns without a value are left out)
    jsonb_strip_nulls(jsonb_build_object(
        'local_drr_strategy_share_pct', d.snapshot_id,
        'covid_measures_count', case when m.covid_measures_count > 0 then m.snapshot_id end,
        'recovery_measures_count', case when m.recovery_measures_count > 0 then m.snapshot_id end
        {% for name in indices %}, '{{ name }}_index', c.{{ name }}_snapshot_id{% endfor %}
    ))::jsonb as snapshot_ids
from drr as d
full outer join measures as m on m.area_code = d.area_code and m.year = d.year
full outer join covid_policy as c
    on c.area_code = coalesce(d.area_code, m.area_code) and c.year = coalesce(d.year, m.year)
inner join {{ ref('dim_area') }} as a on a.area_code = coalesce(d.area_code, m.area_code, c.area_code)
