-- Observations of every source in one shape (series × area × period × disaggregation). The branches only
-- shape rows; provenance (source name, load time) is joined once, after the union.
with observations as (
    select
        o.series_code, o.area_code, o.year, null::text as period, o.disaggregation, o.reporting_type, o.value,
        o.value_text, o.value_qualifier, o.unit, o.nature, o.snapshot_id, null::text as source_dataset
    from {{ ref('stg_un_sdg__series_data') }} as o

    union all
    -- Local indicators submitted by members (voluntary local reviews)
    select
        l.indicator_code, l.area_code, l.year, null::text, '_T', '_Z', l.value, l.value_text, null::text, l.unit,
        null::text, l.snapshot_id, 'submissions/local_indicator/member=' || l.submitted_by
    from {{ ref('stg_submissions__local_indicator') }} as l

    union all
    -- World Bank WDI context indicators (null values are kept: value NULL, value_text NULL)
    select
        w.indicator_id, w.area_code, w.year, null::text, '_T', '_Z', w.value, w.value_text, null::text, null::text,
        null::text, w.snapshot_id, null::text
    from {{ ref('stg_world_bank__indicators') }} as w

    union all
    -- National statistics offices and the OECD with their own staging models, mapped areas only
    -- (unmapped rows: int_areas_unmapped)
    select
        n.series_code, n.area_code, n.year, n.period, n.disaggregation, '_Z', n.value, n.value::text,
        n.value_qualifier, n.unit, null::text, n.snapshot_id, null::text
    from (
        select series_code, area_code, year, nullif(time_period, year::text) as period, '_T' as disaggregation,
            value, obs_status as value_qualifier, unit, snapshot_id
        from {{ ref('stg_abs__erp_lga') }}
        union all
        select series_code, area_code, year, nullif(time_period, year::text), '_T', value, obs_status, unit,
            snapshot_id
        from {{ ref('stg_stats_nz__agr_forestry') }}
        union all
        select series_code, area_code, year, nullif(time_period, year::text), disaggregation, value, obs_status,
            unit, snapshot_id
        from {{ ref('stg_oecd__sng_wofi_finance') }}
        union all
        select series_code, area_code, year, null, '_T', value, status, unit, snapshot_id
        from {{ ref('stg_psa__poverty_incidence') }}
    ) as n
    where n.area_code is not null

    union all
    -- Every other SDMX or PXWeb dataset, from its registry entry alone (mapped areas only)
    select
        r.series_code, r.area_code, r.year, r.period, r.disaggregation, '_Z', r.value, r.value_text,
        r.value_qualifier, r.unit, null::text, r.snapshot_id, r.source_dataset
    from {{ ref('int_registry_observations') }} as r
    where r.area_code is not null
)

select
    o.series_code,
    o.area_code,
    o.year,
    o.period,
    o.disaggregation,
    o.reporting_type,
    o.value,
    o.value_text,
    o.value_qualifier,
    o.unit,
    o.nature,
    s.source_name,
    o.snapshot_id,
    coalesce(o.source_dataset, s.source || '/' || s.dataset) as source_dataset,
    s.loaded_at
from observations as o
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
