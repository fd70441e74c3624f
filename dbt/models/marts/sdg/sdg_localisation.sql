{{ config(
    contract={'enforced': true},
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='series_code',
    on_schema_change='append_new_columns',
) }}
-- depends_on: {{ ref('int_observations_unioned') }}

-- Area × series summary of the headline observations: the total ("_T") where the series has one (for a finance
-- series of SNG-WOFI, all subnational government, S13M; its S1312 and S1313 parts are never the headline nor
-- summed), else its only category (e.g. Sex=FEMALE for SG_GEN_LOCGELS). City-level breakdowns (Cities=…) stay in
-- fct_observation: one city is never a country's figure (issue 25: Dhaka stood for Bangladesh).
-- Incremental by series: a build recomputes only the series of the snapshots fct_observation just published
-- (macros/changed_snapshots.sql), read through fct_observation's (series_code, area_code, year) index.
with numeric as (
    select series_code, area_code, disaggregation, year, value, source_name, snapshot_id
    from {{ ref('fct_observation') }}
    where value is not null and {{ published_series_filter('series_code') }}
      and disaggregation not like 'Cities=%'
),

headline as (
    select
        series_code,
        area_code,
        case
            when bool_or(disaggregation = '_T') then '_T'
            when count(distinct disaggregation) = 1 then min(disaggregation)
        end as disaggregation
    from numeric
    group by series_code, area_code
),

series as (
    select n.*
    from numeric as n
    inner join headline as h using (series_code, area_code, disaggregation)
),

yearly as (  -- one value per year: several reporting types are averaged, never summed
    select series_code, area_code, disaggregation, year,
           case when count(*) = 1 then min(value) else avg(value) end as value,
           string_agg(distinct source_name, '; ') as source_names,
           max(snapshot_id) as snapshot_id
    from series
    group by series_code, area_code, disaggregation, year
),

ends as (
    select
        series_code,
        area_code,
        disaggregation,
        min(year) as first_year,
        max(year) as latest_year,
        count(*) as observations,
        (array_agg(value order by year))[1] as first_value,
        (array_agg(value order by year desc))[1] as latest_value,
        string_agg(distinct source_names, '; ') as source_names,
        max(snapshot_id) as snapshot_id  -- one series of one dataset: fct_observation holds its latest snapshot
    from yearly
    group by series_code, area_code, disaggregation
)

select
    area_code::text as area_code,
    series_code::text as series_code,
    disaggregation::text as disaggregation,
    first_year::integer as first_year,
    latest_year::integer as latest_year,
    latest_value::numeric as latest_value,
    case when latest_year > first_year
        then trim_scale(round((latest_value - first_value) / (latest_year - first_year), 6))
    end::numeric as change_per_year,
    observations::integer as observations,
    source_names::text as source_names,
    snapshot_id::text as snapshot_id
from ends
