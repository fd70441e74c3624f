select
    snapshot_id,
    series_code,
    series_description,
    goal ->> 0 as sdg_goal,
    target ->> 0 as sdg_target,
    indicator ->> 0 as sdg_indicator,
    indicator as sdg_indicators,
    release
from {{ source('un_sdg', 'un_sdg__series_list') }}
where snapshot_id = {{ latest_snapshot_id('un_sdg', 'series_list') }}
