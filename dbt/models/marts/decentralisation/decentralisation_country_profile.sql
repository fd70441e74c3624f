{{ config(contract={'enforced': true}) }}
{#- column → IMF FD series (sector SNG: state and local government together) -#}
{% set imf = {
    'expenditure_decentralisation_ratio': 'imf_fd.sd.SNG',
    'revenue_decentralisation_ratio': 'imf_fd.rd.SNG',
    'tax_decentralisation_ratio': 'imf_fd.taxd.SNG',
    'vertical_fiscal_imbalance_ratio': 'imf_fd.vfi.SNG',
    'transfer_dependency_ratio': 'imf_fd.transferDep1.SNG',
    'subnational_debt_share_ratio': 'imf_fd.debt.SNG',
} %}
{% set imf_series = imf.values() | list %}
{% set columns = {'local_governments_count': 'SG_GOV_LOGV', 'local_drr_strategy_share_pct': 'SG_DSR_SILS',
                  'urban_population_pct': 'SP.URB.TOTL.IN.ZS', 'gdp_per_capita_usd': 'NY.GDP.PCAP.CD',
                  'sng_expenditure_pct_gdp': 'SNG_WOFI.E1.PT_B1GQ',
                  'sng_expenditure_pct_general_government': 'SNG_WOFI.E1.PT_OTE_S13_TRANSACT',
                  'sng_revenue_pct_gdp': 'SNG_WOFI.R1.PT_B1GQ'} %}
{% do columns.update(imf) %}

-- Country × year. SDG counts and DRR shares, OECD-UCLG SNG-WOFI subnational finance (all subnational
-- government, sector S13M), World Bank context, and the official register's count of local governments
-- beside the SDG count, and the IMF Fiscal Decentralization Dataset's ratios for all subnational government
-- (sector SNG; ratios 0-1 of general government, unit RATIO). A value a source does not give is NULL, never zero.
with national as (
    select f.area_code, f.year, f.series_code, f.value, f.source_name, f.snapshot_id
    from {{ ref('fct_observation') }} as f
    where (f.series_code in ('SG_GOV_LOGV', 'SG_DSR_SILS', 'SP.URB.TOTL.IN.ZS', 'NY.GDP.PCAP.CD')
           and f.disaggregation = '_T')
       or (f.series_code in ('SNG_WOFI.E1.PT_B1GQ', 'SNG_WOFI.E1.PT_OTE_S13_TRANSACT', 'SNG_WOFI.R1.PT_B1GQ')
           and f.disaggregation = '_T')  -- all subnational government (S13M)
       or f.series_code in ({{ "'" ~ imf_series | join("', '") ~ "'" }})
),

pivoted as (
    select
        area_code,
        year,
        max(value) filter (where series_code = 'SG_GOV_LOGV') as local_governments_count,
        max(value) filter (where series_code = 'SG_DSR_SILS') as local_drr_strategy_share_pct,
        max(value) filter (where series_code = 'SP.URB.TOTL.IN.ZS') as urban_population_pct,
        max(value) filter (where series_code = 'NY.GDP.PCAP.CD') as gdp_per_capita_usd,
        max(value) filter (where series_code = 'SNG_WOFI.E1.PT_B1GQ') as sng_expenditure_pct_gdp,
        max(value) filter (
            where series_code = 'SNG_WOFI.E1.PT_OTE_S13_TRANSACT'
        ) as sng_expenditure_pct_general_government,
        max(value) filter (where series_code = 'SNG_WOFI.R1.PT_B1GQ') as sng_revenue_pct_gdp,
        {% for column, series in imf.items() %}
        max(value) filter (where series_code = '{{ series }}') as {{ column }},
        {% endfor %}
        string_agg(distinct source_name, '; ') as source_names,
        -- provenance of each value: column → the snapshot it came from (columns without a value are left out)
        jsonb_strip_nulls(jsonb_build_object(
            {% for column, series in columns.items() %}
            '{{ column }}', max(snapshot_id) filter (where series_code = '{{ series }}'){{ ',' if not loop.last }}
            {% endfor %}
        )) as snapshot_ids
    from national
    group by area_code, year
)

select
    a.country_iso3::text as country_iso3,
    p.area_code::text as area_code,
    p.year::integer as year,
    p.local_governments_count::integer as local_governments_count,
    p.local_drr_strategy_share_pct::numeric as local_drr_strategy_share_pct,
    p.sng_expenditure_pct_gdp::numeric as sng_expenditure_pct_gdp,
    p.sng_expenditure_pct_general_government::numeric as sng_expenditure_pct_general_government,
    p.sng_revenue_pct_gdp::numeric as sng_revenue_pct_gdp,
    p.urban_population_pct::numeric as urban_population_pct,
    p.gdp_per_capita_usd::numeric as gdp_per_capita_usd,
    {% for column in imf %}
    p.{{ column }}::numeric as {{ column }},
    {% endfor %}
    case when coalesce({{ imf | join(', ') }}) is not null then 'RATIO' end::text as fiscal_ratios_unit,
    -- a register describes the year of its vintage: its count is no figure for the years before
    case when p.year >= r.register_vintage_year then r.register_local_governments end::integer
        as register_local_governments_count,
    case when p.year >= r.register_vintage_year then r.register_vintage end::text as register_vintage,
    p.source_names::text as source_names,
    (p.snapshot_ids || case when p.year >= r.register_vintage_year
        then jsonb_build_object('register_local_governments_count', r.register_snapshot_id)
        else '{}'::jsonb end)::jsonb as snapshot_ids
from pivoted as p
inner join {{ ref('dim_area') }} as a using (area_code)
left join {{ ref('int_local_governments_counted') }} as r on r.country_iso3 = a.country_iso3
where a.area_level = 'country'
