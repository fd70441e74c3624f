{# The staging select of an SDMX dataset whose areas go through a mapping file: latest snapshot only,
   series_code = prefix + measure, area_code from the map. A code absent from the map has area_code NULL and
   in_area_map false (int_areas_unmapped lists it); a code the map lists with no area_code is deliberately
   not an area (a total, a heading), and area_note says why.
   A new SDMX dataset's staging model is one call of this macro. #}
{% macro sdmx_staging(source_name, dataset, series_prefix, area_map) -%}
select
    r.snapshot_id,
    '{{ series_prefix }}' || r.measure as series_code,
    r.measure,
    r.area_source_code,
    m.area_code,
    m.source_code is not null as in_area_map,
    m.note as area_note,
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
