select
    w.snapshot_id,
    w.indicator_id,
    w.indicator_name,
    w.country_iso3,
    a.m49_code as area_code,
    w.year,
    w.value_num as value,
    w.value_num::text as value_text,
    w.obs_status
from {{ source('world_bank', 'world_bank__indicators') }} as w
inner join {{ ref('ref_m49_areas') }} as a on a.country_iso3 = w.country_iso3
where w.snapshot_id = {{ latest_snapshot_id('world_bank', 'indicators') }}
  and w.year is not null
