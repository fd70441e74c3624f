{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='source_dataset',
    on_schema_change='fail',
    contract={'enforced': true},
    indexes=[{'columns': ['series_code', 'area_code', 'year']}, {'columns': ['observation_id'], 'unique': True}],
    post_hook="{{ record_published_snapshots() }}",
) }}

-- Incremental by source dataset: a newly loaded snapshot replaces the rows of its own dataset and touches
-- no other; when nothing new was loaded, the build inserts nothing. Which datasets are new comes from
-- ops.observation_snapshots, as literal snapshot ids pushed down to the raw tables (macros/changed_snapshots.sql):
-- the unchanged sources are never scanned. The post-hook records what was published. The unique index on
-- observation_id holds the key across datasets, so the tests need only check the rows this build replaced.
-- The other index serves the analysts' access path (a series in an area, by year) and the marts built on
-- this table; see docs/performance.md.

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
where {{ changed_snapshot_filter('o.snapshot_id') }}
{% endif %}
