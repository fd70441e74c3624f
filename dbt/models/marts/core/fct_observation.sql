{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='source_dataset',
    on_schema_change='fail',
    contract={'enforced': true},
    indexes=[{'columns': ['series_code', 'area_code', 'year']}],
) }}

-- Incremental by source dataset: a newly loaded snapshot replaces the rows of its own dataset and touches
-- no other; when nothing new was loaded, the build inserts nothing. The one index serves the analysts' access
-- path (a series in an area, by year) and the marts built on this table; see docs/performance.md.

select
    md5(concat_ws('|', series_code, area_code, year, period, disaggregation, reporting_type, unit))::text
        as observation_id,
    series_code::text as series_code,
    area_code::text as area_code,
    year::integer as year,
    period::text as period,
    disaggregation::text as disaggregation,
    reporting_type::text as reporting_type,
    value::numeric as value,
    value_text::text as value_text,
    value_qualifier::text as value_qualifier,
    unit::text as unit,
    nature::text as nature,
    source_name::text as source_name,
    snapshot_id::text as snapshot_id,
    source_dataset::text as source_dataset,
    loaded_at::timestamptz as loaded_at
from {{ ref('int_observations_unioned') }} as o
{% if is_incremental() %}
-- every row of each source dataset that has something new (delete+insert then replaces that dataset whole)
where o.source_dataset in (
    select n.source_dataset
    from {{ ref('int_observations_unioned') }} as n
    where not exists (
        select 1 from {{ this }} as t
        where t.snapshot_id = n.snapshot_id and t.loaded_at = n.loaded_at
    )
)
{% endif %}
