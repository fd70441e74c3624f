-- Observations of every SDMX or PXWeb dataset that has no hand-written staging model, and of every tabular file
-- of observations, built from its registry entry alone (ops.datasets, the mirrored registry):
-- series_code = <source>.<measure code> (or the entry's series_prefix + measure), the
-- area from `area` (one M49 code for every row), `area_scheme` (iso3 or m49 codes of the area dimension) or
-- `area_map` (a mapping file of dbt/seeds/area_maps/, built with the seeds before this layer: codes for SDMX,
-- cleaned labels for PXWeb; a code the file lists with no area_code is deliberately not an area),
-- year and period from the time dimension (period kept when finer than a year: 2023-Q2, 2023-07), the unit
-- from the entry's series. Latest snapshot of each dataset. Rows whose area code nothing lists keep
-- area_code NULL and area_listed false, and int_areas_unmapped lists them.
-- depends_on: {{ ref('ref_m49_areas') }}
{% set datasets = registry_datasets() %}
{% if datasets | length == 0 %}
select
    null::text as series_code, null::text as area_code, null::boolean as area_listed,
    null::text as area_source_code, null::integer as year,
    null::text as period, null::text as disaggregation, null::numeric as value, null::text as value_text,
    null::text as value_qualifier, null::text as unit, null::text as series_name, null::text as snapshot_id,
    null::text as source_dataset
where false
{% else %}
{% for d in datasets %}
{% set rel = api.Relation.create(database=target.database, schema='raw', identifier=d['raw_table']) %}
{% set coded = d['connector'] in ('sdmx', 'tabular') %}
{% set time_text = "r.time_period" if coded else "r.labels ->> " ~ sql_text(d['time_variable']) %}
{% set map_key = "source_code" if coded else "source_label" %}
{% set source_key = "r.area_source_code" if coded else "r.area_label_clean" %}
select
    {{ sql_text(d['series_prefix']) }} || r.measure as series_code,
    {% if d['area_fixed'] %}{{ sql_text(d['area_fixed']) }}{% elif d['area_map'] %}m.area_code{% else %}m.m49_code{% endif %}
        as area_code,
    {% if d['area_fixed'] %}true{% elif d['area_map'] %}m.{{ map_key }} is not null{% else %}m.m49_code is not null{% endif %}
        as area_listed,
    {{ source_key }} as area_source_code,
    r.year,
    case when {{ time_text }} ~ '^[0-9]{4}$' then null else {{ time_text }} end as period,
    '_T' as disaggregation,
    r.value,
    {% if d['connector'] == 'tabular' %}r.value_text{% else %}r.value::text{% endif %} as value_text,
    {% if coded %}r.obs_status{% else %}r.status{% endif %} as value_qualifier,
    {% set published_unit = "r.unit_measure" if coded else "r.unit" %}
    {% set declared = d['series'] | selectattr('unit') | list %}
    {% if declared %}
    case r.measure
        {% for s in declared %}when {{ sql_text(s['code']) }} then {{ sql_text(s['unit']) }}
        {% endfor %}else {{ published_unit }}
    end{% else %}{{ published_unit }}{% endif %} as unit,
    {% if d['connector'] == 'tabular' %}r.series_name{% else %}null::text{% endif %} as series_name,
    r.snapshot_id,
    {{ sql_text(d['source'] ~ '/' ~ d['dataset']) }} as source_dataset
from {{ rel }} as r
{% if d['area_map'] %}
left join {{ api.Relation.create(database=target.database, schema='staging', identifier=d['area_map']) }} as m
    on m.{{ map_key }} = {{ source_key }}
{% elif not d['area_fixed'] %}
left join {{ ref('ref_m49_areas') }} as m
    on {% if d['area_scheme'] == 'iso3' %}m.country_iso3 = r.area_source_code
       {%- else %}m.m49_code = lpad(r.area_source_code, 3, '0'){% endif %}
{% endif %}
where r.snapshot_id = {{ latest_snapshot_id(d['source'], d['dataset']) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endif %}
