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

union all
-- Local indicators submitted by members (voluntary local reviews)
select
    l.indicator_code as series_code,
    l.area_code,
    l.year,
    null::text as period,
    '_T' as disaggregation,
    '_Z' as reporting_type,
    l.value,
    l.value_text,
    null::text as value_qualifier,
    l.unit,
    null::text as nature,
    s.source_name,
    l.snapshot_id,
    'submissions/local_indicator/member=' || l.submitted_by as source_dataset,
    s.loaded_at
from {{ ref('stg_submissions__local_indicator') }} as l
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)

union all
-- World Bank WDI context indicators (null values are kept: value NULL, value_text NULL)
select
    w.indicator_id as series_code,
    w.area_code,
    w.year,
    null::text as period,
    '_T' as disaggregation,
    '_Z' as reporting_type,
    w.value,
    w.value_text,
    null::text as value_qualifier,
    null::text as unit,
    null::text as nature,
    s.source_name,
    w.snapshot_id,
    s.source || '/' || s.dataset as source_dataset,
    s.loaded_at
from {{ ref('stg_world_bank__indicators') }} as w
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
