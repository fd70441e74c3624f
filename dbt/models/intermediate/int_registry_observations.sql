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
    null::text as source_dataset, null::text as source_series_code
where false
{% else %}
{% for d in datasets %}
{{ registry_branch(d) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endif %}
