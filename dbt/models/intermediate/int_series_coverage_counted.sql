{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id') }}

-- Per snapshot and series: the source's own series code, the unit (of the unit list), the first and last year
-- held and the number of observations, for the indicator dictionary (dim_indicator). Incremental by snapshot:
-- a snapshot the build can hold (ops.observation_snapshots) is counted once, when this table has not counted
-- that load of it yet. Not by fct_observation's `changed` flag, which fct_observation clears when it publishes:
-- dbt may build this model after it.

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
{% set uncounted = run_query("select o.snapshot_id from " ~ source('ops', 'observation_snapshots') ~ " as o "
    ~ "where not exists (select 1 from " ~ this ~ " as c where c.snapshot_id = o.snapshot_id "
    ~ "and c.loaded_at = o.loaded_at)").columns[0].values() if execute else [] %}
where {{ snapshot_id_list('snapshot_id', uncounted) }}
{% endif %}
group by source_dataset, snapshot_id, loaded_at, series_code, source_series_code, unit
