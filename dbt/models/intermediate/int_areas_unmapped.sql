{{ config(grants={'select': ['lgstats_analyst']}) }}
-- Source area codes (or PSA labels) that no mapping file in dbt/seeds/area_maps/ lists. Their rows are kept
-- in raw and staging but cannot reach the marts until a line is added to the mapping file. Codes a mapping
-- file lists without an area_code (totals such as Stats NZ AREA 10 and 19, PSA's special computations) are
-- decisions, not gaps, and are not listed here.
select 'abs/erp_lga' as source_dataset, 'map_abs__lga2025' as mapping_file, area_source_code as source_area,
    count(*) as rows, min(year) as first_year, max(year) as last_year
from {{ ref('stg_abs__erp_lga') }}
where not in_area_map
group by area_source_code
union all
select 'stats_nz/agr_forestry', 'map_stats_nz__agr_area', area_source_code, count(*), min(year), max(year)
from {{ ref('stg_stats_nz__agr_forestry') }}
where not in_area_map
group by area_source_code
union all
select 'psa/poverty_incidence', 'map_psa__geolocation', area_label_clean, count(*), min(year), max(year)
from {{ ref('stg_psa__poverty_incidence') }}
where not in_area_map
group by area_label_clean
union all
select source_dataset, 'area, area_scheme or area_map in the registry entry', area_source_code, count(*), min(year),
    max(year)
from {{ ref('int_registry_observations') }}
where not area_listed
group by source_dataset, area_source_code
