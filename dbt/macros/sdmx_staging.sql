{# The staging select of an SDMX dataset whose areas go through a mapping file: latest snapshot only,
   series_code = prefix + measure, area_code from the map (NULL when unmapped: int_areas_unmapped lists it).
   A new SDMX dataset's staging model is one call of this macro. #}
{% macro sdmx_staging(source_name, dataset, series_prefix, area_map) -%}
select
    r.snapshot_id,
    '{{ series_prefix }}' || r.measure as series_code,
    r.measure,
    r.area_source_code,
    m.area_code,
    r.time_period,
    r.year,
    r.value,
    r.obs_value,
    r.unit_mult,
    r.unit_measure as unit,
    r.obs_status,
    r.source_file,
    r.row_number
from {{ source(source_name, source_name ~ '__' ~ dataset) }} as r
left join {{ ref(area_map) }} as m on m.source_code = r.area_source_code
where r.snapshot_id = {{ latest_snapshot_id(source_name, dataset) }}
{%- endmacro %}
