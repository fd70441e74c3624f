-- Observations of every source in one shape (series × area × period × disaggregation). The branches only
-- shape rows; provenance (source name, load time) and the unit of the one unit list are joined once, after
-- the union. source_series_code is the source's own code of the series (what its registry entry declares).
with observations as (
    select
        o.series_code, o.area_code, o.year, null::text as period, o.disaggregation, o.reporting_type, o.value,
        o.value_text, o.value_qualifier, o.unit, o.nature, o.snapshot_id, null::text as source_dataset,
        o.series_code as source_series_code
    from {{ ref('stg_un_sdg__series_data') }} as o
    where not exists (  -- one city, one country: a city row filed under a country it is not in is held out
        select 1 from {{ ref('int_un_sdg_city_filings') }} as f
        where f.snapshot_id = o.snapshot_id and f.city = o.dimensions ->> 'Cities' and f.area_code = o.area_code
          and f.decision in ('misfiled', 'ambiguous'))

    union all
    -- Local indicators submitted by members (voluntary local reviews)
    select
        l.indicator_code, l.area_code, l.year, null::text, '_T', '_Z', l.value, l.value_text, null::text, l.unit,
        null::text, l.snapshot_id, 'submissions/local_indicator/member=' || l.submitted_by, l.indicator_code
    from {{ ref('stg_submissions__local_indicator') }} as l

    union all
    -- World Bank WDI context indicators (null values are kept: value NULL, value_text NULL)
    select
        w.indicator_id, w.area_code, w.year, null::text, '_T', '_Z', w.value, w.value_text, null::text, null::text,
        null::text, w.snapshot_id, null::text, w.indicator_id
    from {{ ref('stg_world_bank__indicators') }} as w

    union all
    -- Every SDMX, PXWeb and tabular dataset (national statistics offices, the OECD, the IMF, OWID, OxCGRT),
    -- from its registry entry alone: one route (mapped areas only; unmapped rows: int_areas_unmapped)
    select
        r.series_code, r.area_code, r.year, r.period, r.disaggregation, '_Z', r.value, r.value_text,
        r.value_qualifier, r.unit, null::text, r.snapshot_id, r.source_dataset, r.source_series_code
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
    -- a unit the source publishes (mapped; validation refused any unknown one), else the one its entry declares,
    -- else NOT_STATED: said, never guessed, and no dataset without a unit can block the build
    coalesce(published.unit_code, case when o.unit is null then coalesce(declared.unit_code, 'NOT_STATED') end)
        as unit,
    o.unit as source_unit,
    o.source_series_code,
    o.nature,
    s.source_name,
    o.snapshot_id,
    coalesce(o.source_dataset, s.source || '/' || s.dataset) as source_dataset,
    s.loaded_at
from observations as o
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
left join {{ ref('int_series_declared') }} as d
    on d.source = s.source and d.dataset = s.dataset and d.source_series_code = o.source_series_code
-- the unit as published, else as the entry declares it (World Bank and Stats NZ publish none), in the list's code
left join {{ ref('int_units_mapped') }} as published
    on published.source in (s.source, '*') and published.source_unit = o.unit
left join {{ ref('int_units_mapped') }} as declared
    on declared.source in (s.source, '*') and declared.source_unit = d.unit
