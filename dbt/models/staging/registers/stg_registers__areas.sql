-- Every register's areas, latest snapshot of each, in one shape. Official codes are kept as published;
-- area_code carries the register's prefix (PH-PSGC-, ID-KDN-, JP-LG-, IN-LGD-, TH-DOPA-, VN-GSO-, KR-MOIS-) so
-- codes of different countries never collide. Designated-city wards of Japan and the gu inside Korean cities
-- are here (area_level 'ward') but not in marts.dim_area. The registers are the registry's (ops.datasets).
-- Where a register copy contradicts the law it follows (the PSGC copy still files Negros Occidental under
-- Western Visayas and Maguindanao's municipalities under the dissolved province), ref_register_corrections gives
-- the parent with its evidence, and parent_resolution carries that evidence.
{% set registers = register_datasets() %}
{% for dataset in registers %}
{#- the raw tables are named by the registry, so they are looked up, not declared twice (as in int_registry_observations) -#}
select
    r.snapshot_id,
    '{{ dataset }}' as register,
    r.country_iso3,
    r.official_code,
    r.area_code,
    btrim(r.area_name) as area_name,  -- the register's own spacing: 'Kota Administrasi Jakarta Utara ' (sic)
    btrim(r.area_name_en) as area_name_en,
    r.area_type,
    r.area_level,
    coalesce(c.parent_official_code, r.parent_official_code) as parent_official_code,
    case when c.official_code is null then r.parent_area_code
         else left(r.area_code, length(r.area_code) - length(r.official_code)) || c.parent_official_code
    end as parent_area_code,
    coalesce(c.evidence, r.parent_resolution) as parent_resolution,
    r.counts_as_local_government,
    r.register_vintage,
    r.register_vintage_year,
    coalesce(r.is_local_government, r.counts_as_local_government) as is_local_government,
    r.area_name_romanised,
    r.romanisation,
    r.latitude,
    r.longitude,
    r.is_capital,
    r.source_file,
    r.row_number
from {{ api.Relation.create(database=target.database, schema='raw', identifier='registers__' ~ dataset) }} as r
left join {{ ref('ref_register_corrections') }} as c on c.register = '{{ dataset }}' and c.official_code = r.official_code
where r.snapshot_id = {{ latest_snapshot_id('registers', dataset) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
