-- One row per area: M49 regions and countries (reference data), the official registers of local
-- governments (PH PSGC, ID Kemendagri, JP codes: first-class sources with snapshots), member local
-- governments, the subnational areas of the national sources not covered by a register, and any other code
-- the UN SDG API uses (groupings). An area's code comes from one place only: the first branch that has it.
with reference as (
    select
        m49_code as area_code,
        area_name,
        area_level,
        nullif(parent_m49_code, '') as parent_area_code,
        nullif(country_iso3, '') as country_iso3,
        m49_code,
        true as is_m49,
        m49_code as official_code,
        'M49' as code_system,
        null::text as register_vintage,
        null::text as register_area_code,
        null::text as snapshot_id,
        'dbt/seeds/ref_m49_areas.csv' as seed_file,
        false as is_local_government,
        area_name as area_name_latin,
        null::text as romanisation,
        null::text as local_government_type
    from {{ ref('ref_m49_areas') }}
),

registers as (  -- wards of Japanese designated cities and gu inside Korean cities: not local governments, left out
    select
        area_code,
        coalesce(area_name_en, area_name) as area_name,
        area_level,
        parent_area_code,
        country_iso3,
        null::text as m49_code,
        false as is_m49,
        official_code,
        'registers/' || register as code_system,
        register_vintage,
        area_code as register_area_code,
        snapshot_id,
        null::text as seed_file,
        is_local_government,
        coalesce(area_name_en, area_name_romanised, case when area_name !~ '[^\x01-\x7F\u00C0-\u024F\u1E00-\u1EFF]' then area_name end)
            as area_name_latin,
        case
            when area_name_en is not null and area_name_en <> area_name then 'English name in the register'
            when area_name_romanised is not null then romanisation
        end as romanisation,
        -- the register's own word for the kind of local government (City, Municipality, Kota, Municipal Corporation…)
        case when is_local_government then area_type end as local_government_type
    from {{ ref('stg_registers__areas') }}
    where area_level <> 'ward'
),

members as (  -- a member local government linked to its register area sits where that area sits, and has its type
    select
        m.member_code as area_code,
        m.member_name as area_name,
        'local_government' as area_level,
        coalesce(r.parent_area_code, m.parent_area_code) as parent_area_code,
        m.country_iso3,
        null::text as m49_code,
        false as is_m49,
        m.member_code as official_code,
        'member' as code_system,
        r.register_vintage,
        nullif(m.register_area_code, '') as register_area_code,
        null::text as snapshot_id,
        'dbt/seeds/ref_members.csv' as seed_file,
        true as is_local_government,
        m.member_name as area_name_latin,
        null::text as romanisation,
        r.area_type as local_government_type
    from {{ ref('ref_members') }} as m
    left join {{ ref('stg_registers__areas') }} as r on r.area_code = nullif(m.register_area_code, '')
    where m.member_kind = 'local_government'
),

subnational as (  -- states and LGAs of the national sources that no register covers (a data file)
    select
        area_code,
        area_name,
        area_level,
        parent_area_code,
        country_iso3,
        null::text as m49_code,
        false as is_m49,
        official_code,  -- as its publisher writes it (ABS LGA 17200, not the lgstats area_code AU-LGA2025-17200)
        code_system,
        null::text as register_vintage,
        null::text as register_area_code,
        null::text as snapshot_id,
        'dbt/seeds/ref_subnational_areas.csv' as seed_file,
        area_level = 'local_government' as is_local_government,
        area_name as area_name_latin,
        null::text as romanisation,
        null::text as local_government_type
    from {{ ref('ref_subnational_areas') }}
),

observed as (
    select distinct on (o.area_code) o.area_code, coalesce(g.area_name, o.area_name) as area_name, o.snapshot_id
    from {{ ref('int_areas_observed') }} as o
    left join {{ ref('stg_un_sdg__geoarea_list') }} as g using (area_code)
    where o.snapshot_id = {{ latest_snapshot_id('un_sdg', 'series_data') }}
    order by o.area_code, o.area_name
),

known as (
    select *, false as is_member from reference
    union all
    select *, false as is_member from registers
    union all
    select *, true as is_member from members
    union all
    select *, false as is_member from subnational
)

select * from known
union all
select
    o.area_code,
    o.area_name,
    'region' as area_level,
    null::text as parent_area_code,
    null::text as country_iso3,
    case when o.area_code ~ '^[0-9]{3}$' and o.area_code::int < 900 then o.area_code end as m49_code,
    coalesce(o.area_code ~ '^[0-9]{3}$' and o.area_code::int < 900, false) as is_m49,
    o.area_code as official_code,
    'UN SDG API' as code_system,
    null::text as register_vintage,
    null::text as register_area_code,
    o.snapshot_id,
    null::text as seed_file,
    false as is_local_government,
    o.area_name as area_name_latin,
    null::text as romanisation,
    null::text as local_government_type,
    false as is_member
from observed as o
where not exists (select 1 from known as k where k.area_code = o.area_code)
