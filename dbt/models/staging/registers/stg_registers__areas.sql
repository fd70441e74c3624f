-- Every register's areas, latest snapshot of each, in one shape. Official codes are kept as published;
-- area_code carries the register's prefix (PH-PSGC-, ID-KDN-, JP-LG-) so codes of different countries never
-- collide. Designated-city wards of Japan are here (area_level 'ward') but not in marts.dim_area.
{% set registers = ['ph_psgc', 'id_kemendagri', 'jp_localgov'] %}
{% for dataset in registers %}
select
    r.snapshot_id,
    '{{ dataset }}' as register,
    r.country_iso3,
    r.official_code,
    r.area_code,
    r.area_name,
    r.area_name_en,
    r.area_type,
    r.area_level,
    r.parent_official_code,
    r.parent_area_code,
    r.parent_resolution,
    r.counts_as_local_government,
    r.register_vintage,
    r.source_file,
    r.row_number
from {{ source('registers', 'registers__' ~ dataset) }} as r
where r.snapshot_id = {{ latest_snapshot_id('registers', dataset) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
