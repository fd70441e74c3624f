{#- The value columns come from dbt/seeds/mart_wide_columns.csv (macros/wide_marts.sql); the test
    `wide_mart_matches_its_declaration` in the mart's YAML holds the built table to the seed and the YAML, the
    post-hook writes the seed's descriptions as column comments. -#}
{{ config(post_hook="{{ wide_column_comments(this) }}") }}
-- depends_on: {{ ref('mart_wide_columns') }}
{%- set wide = wide_columns(this.identifier) %}

-- Country × year. Its value columns are declared in dbt/seeds/mart_wide_columns.csv (series, disaggregation,
-- unit, type, aggregation): SDG counts and DRR shares, OECD-UCLG SNG-WOFI subnational finance (all subnational
-- government, sector S13M: `_T`), World Bank context, and the IMF Fiscal Decentralization Dataset's ratios for
-- all subnational government (sector SNG; ratios 0-1 of general government, unit RATIO); beside them the
-- official register's count of local governments. A value a source does not give is NULL, never zero.
with national as (
    select f.area_code, f.year, f.series_code, f.disaggregation, f.value, f.source_name, f.snapshot_id
    from {{ ref('fct_observation') }} as f
    where {{ wide_filter(wide, 'f.') }}
),

pivoted as (
    select
        area_code,
        year,
        {{ wide_pivot(wide) }},
        string_agg(distinct source_name, '; ') as source_names
    from national
    group by area_code, year
)

select
    a.country_iso3::text as country_iso3,
    p.area_code::text as area_code,
    p.year::integer as year,
    {{ wide_select(wide) }}
    case when coalesce({{ wide_columns_of_unit(wide, 'RATIO', 'p.') }}) is not null then 'RATIO' end::text
        as fiscal_ratios_unit,
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
