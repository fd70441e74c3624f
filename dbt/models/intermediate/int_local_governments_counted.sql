-- Local governments per country as the official register counts them, in the UN's sense of SG_GOV_LOGV
-- (the register's sdg_local_government_levels: JP prefectures + municipalities, ID kabupaten + kota, PH
-- provinces + cities + municipalities), with the SDG figures beside it: the latest, and the one closest in
-- time to the register. Differences are shown, not hidden: they are real differences of vintages.
with register as (
    select
        country_iso3,
        register,
        max(register_vintage) as register_vintage,
        max(register_vintage_year) as register_vintage_year,
        max(snapshot_id) as register_snapshot_id,
        count(*) filter (where counts_as_local_government) as register_local_governments
    from {{ ref('stg_registers__areas') }}
    group by country_iso3, register
),

sdg as (
    select a.country_iso3, f.year, f.value::integer as sdg_local_governments
    from {{ ref('int_observations_unioned') }} as f
    inner join {{ ref('int_areas_harmonised') }} as a using (area_code)
    where f.series_code = 'SG_GOV_LOGV' and f.disaggregation = '_T' and a.area_level = 'country'
),

latest_sdg as (
    select distinct on (country_iso3) country_iso3, year as sdg_year, sdg_local_governments
    from sdg
    order by country_iso3, year desc
)

select
    r.country_iso3,
    r.register,
    r.register_vintage,
    r.register_vintage_year,
    r.register_snapshot_id,
    r.register_local_governments,
    s.sdg_year,
    s.sdg_local_governments,
    s.sdg_local_governments - r.register_local_governments as sdg_minus_register
from register as r
left join latest_sdg as s using (country_iso3)
