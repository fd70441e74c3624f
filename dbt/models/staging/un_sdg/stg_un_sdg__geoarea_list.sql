select
    snapshot_id,
    geo_area_code,
    area_code,
    geo_area_name as area_name
from {{ source('un_sdg', 'un_sdg__geoarea_list') }}
where snapshot_id = {{ latest_snapshot_id('un_sdg', 'geoarea_list') }}
