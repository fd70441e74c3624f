{{ config(grants={'select': ['lgstats_analyst']}) }}
-- Source area codes (or PXWeb labels) that neither the registry entry's area rule nor its mapping file in
-- dbt/seeds/area_maps/ lists. Their rows are kept in raw but cannot reach the marts until a line is added to
-- the mapping file. Codes a mapping file lists without an area_code (totals such as Stats NZ AREA 10 and 19,
-- PSA's special computations) are decisions, not gaps, and are not listed here.
select
    o.source_dataset,
    coalesce(d.area_map, 'area_scheme ' || d.area_scheme || ' (ref_m49_areas)',
             'area, area_scheme or area_map in the registry entry') as mapping_file,
    o.area_source_code as source_area,
    count(*) as rows,
    min(o.year) as first_year,
    max(o.year) as last_year
from {{ ref('int_registry_observations') }} as o
left join {{ source('ops', 'datasets') }} as d on d.source || '/' || d.dataset = o.source_dataset
where not o.area_listed
group by o.source_dataset, d.area_map, d.area_scheme, o.area_source_code
