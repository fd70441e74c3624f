{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id') }}

-- Per UN SDG Series/Data snapshot: each area code seen, with the name the API gave it. int_areas_harmonised
-- keeps those no reference list has. Incremental by snapshot: a 10M-row snapshot is read once, when it is new.

select distinct on (area_code, snapshot_id) area_code, area_name, snapshot_id
from {{ ref('stg_un_sdg__series_data') }}
{% if is_incremental() %}
where {{ changed_snapshot_filter('snapshot_id') }}
{% endif %}
order by area_code, snapshot_id, area_name
