{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id') }}

-- Per UN SDG Series/Data snapshot: each series with its names and the number of observations in each unit,
-- from which dim_indicator takes the most frequent unit. Incremental by snapshot: a 10M-row snapshot is
-- counted once, when it is new (macros/changed_snapshots.sql), not at every build.

select
    series_code,
    series_description,
    sdg_goal,
    sdg_target,
    sdg_indicator,
    sdg_indicators,
    unit,
    snapshot_id,
    count(*) as observations
from {{ ref('stg_un_sdg__series_data') }}
{% if is_incremental() %}
where {{ changed_snapshot_filter('snapshot_id') }}
{% endif %}
group by series_code, series_description, sdg_goal, sdg_target, sdg_indicator, sdg_indicators, unit, snapshot_id
