{{ config(contract={'enforced': true}) }}

select
    area_code::text as area_code,
    area_name::text as area_name,
    area_level::text as area_level,
    parent_area_code::text as parent_area_code,
    country_iso3::text as country_iso3,
    m49_code::text as m49_code,
    is_member,
    (code_system = 'UN SDG API' and not is_m49) as is_non_m49_grouping,  -- the API's own groupings only
    official_code::text as official_code,
    code_system::text as code_system,
    register_vintage::text as register_vintage,
    register_area_code::text as register_area_code,
    is_local_government,
    area_name_latin::text as area_name_latin,
    romanisation::text as romanisation,
    local_government_type::text as local_government_type,
    snapshot_id::text as snapshot_id,
    seed_file::text as seed_file
from {{ ref('int_areas_harmonised') }}
