{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id') }}

-- Per snapshot and series: the source's own series code, the unit (of the unit list), the first and last year
-- held and the number of observations, for the indicator dictionary (dim_indicator). Incremental by snapshot,
-- like fct_observation: a snapshot is counted once, when it is new (macros/changed_snapshots.sql).

select
    source_dataset,
    snapshot_id,
    loaded_at,
    series_code,
    source_series_code,
    unit,
    min(year) as first_year,
    max(year) as last_year,
    count(*) as observations
from {{ ref('int_observations_unioned') }}
{% if is_incremental() %}
where {{ changed_snapshot_filter('snapshot_id') }}
{% endif %}
group by source_dataset, snapshot_id, loaded_at, series_code, source_series_code, unit
