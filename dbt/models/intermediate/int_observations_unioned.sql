select
    o.series_code,
    o.area_code,
    o.year,
    null::text as period,
    o.disaggregation,
    o.reporting_type,
    o.value,
    o.value_text,
    o.value_qualifier,
    o.unit,
    o.nature,
    s.source_name,
    o.snapshot_id,
    s.source || '/' || s.dataset as source_dataset,
    s.loaded_at
from {{ ref('stg_un_sdg__series_data') }} as o
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
