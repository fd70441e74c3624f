-- OECD-UCLG SNG-WOFI subnational government finance, latest snapshot, one row per country x sector x
-- measure x unit x year. series_code names measure and unit (E1 in % of GDP is not E1 in % of general
-- government); the sector (S13M state + local, S1313 local) is the disaggregation.
select
    r.snapshot_id,
    'SNG_WOFI.' || r.measure || '.' || (r.dimensions ->> 'UNIT_MEASURE') as series_code,
    coalesce(r.labels ->> 'MEASURE', r.measure) || ' (' || coalesce(r.labels ->> 'UNIT_MEASURE', r.dimensions ->> 'UNIT_MEASURE')
        || ')' as series_name,
    r.measure,
    r.dimensions ->> 'UNIT_MEASURE' as unit,
    r.dimensions ->> 'SECTOR' as sector,
    'SECTOR=' || (r.dimensions ->> 'SECTOR') as disaggregation,
    r.area_source_code as country_iso3,
    a.m49_code as area_code,
    r.time_period,
    r.year,
    r.value,
    r.obs_value,
    r.unit_mult,
    r.obs_status,
    r.source_file,
    r.row_number
from {{ source('oecd', 'oecd__sng_wofi_finance') }} as r
left join {{ ref('ref_m49_areas') }} as a on a.country_iso3 = r.area_source_code
where r.snapshot_id = {{ latest_snapshot_id('oecd', 'sng_wofi_finance') }}
