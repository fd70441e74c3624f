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

union all
-- National statistics offices and the OECD, mapped areas only (unmapped rows: int_areas_unmapped)
select
    n.series_code,
    n.area_code,
    n.year,
    n.period,
    n.disaggregation,
    '_Z' as reporting_type,
    n.value,
    n.value::text as value_text,
    n.value_qualifier,
    n.unit,
    null::text as nature,
    s.source_name,
    n.snapshot_id,
    s.source || '/' || s.dataset as source_dataset,
    s.loaded_at
from (
    select series_code, area_code, year, nullif(time_period, year::text) as period, '_T' as disaggregation, value,
        obs_status as value_qualifier, unit, snapshot_id
    from {{ ref('stg_abs__erp_lga') }}
    union all
    select series_code, area_code, year, nullif(time_period, year::text), '_T', value, obs_status, unit, snapshot_id
    from {{ ref('stg_stats_nz__agr_forestry') }}
    union all
    select series_code, area_code, year, nullif(time_period, year::text), disaggregation, value, obs_status, unit,
        snapshot_id
    from {{ ref('stg_oecd__sng_wofi_finance') }}
    union all
    select series_code, area_code, year, null, '_T', value, status, unit, snapshot_id
    from {{ ref('stg_psa__poverty_incidence') }}
) as n
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
where n.area_code is not null
