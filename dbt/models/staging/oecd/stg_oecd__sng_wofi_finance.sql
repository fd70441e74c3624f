-- OECD-UCLG SNG-WOFI subnational government finance, latest snapshot, one row per country x sector x
-- measure x unit x year. series_code names measure and unit (E1 in % of GDP is not E1 in % of general
-- government). The sector is the disaggregation: S13M (state and local government: all subnational government)
-- is the series' total, `_T`; S1312 (state) and S1313 (local) are parts of it, never to be added to it (issue 25:
-- summing the two sector rows double-counted, and countries without a `_T` row fell out of the headlines).
select
    r.snapshot_id,
    'SNG_WOFI.' || r.measure || '.' || (r.dimensions ->> 'UNIT_MEASURE') as series_code,
    coalesce(r.labels ->> 'MEASURE', r.measure) || ' (' || coalesce(r.labels ->> 'UNIT_MEASURE', r.dimensions ->> 'UNIT_MEASURE')
        || ')' as series_name,
    r.measure,
    r.dimensions ->> 'UNIT_MEASURE' as unit,
    r.dimensions ->> 'SECTOR' as sector,
    case when r.dimensions ->> 'SECTOR' = 'S13M' then '_T' else 'SECTOR=' || (r.dimensions ->> 'SECTOR') end
        as disaggregation,
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
