-- Stats NZ AGR_AGR_001 (forestry by area), latest snapshot. The AREA codes are those of the flow's own
-- code list; until map_stats_nz__agr_area maps them, area_code is NULL and int_areas_unmapped lists them.
{{ sdmx_staging('stats_nz', 'agr_forestry', series_prefix='STATSNZ.AGR_AGR_001.', area_map='map_stats_nz__agr_area') }}
