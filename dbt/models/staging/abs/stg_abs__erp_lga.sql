-- ABS estimated resident population by LGA (latest snapshot). area_code is NULL for an LGA code the
-- mapping file does not know yet: such rows stay here and are listed by int_areas_unmapped.
{{ sdmx_staging('abs', 'erp_lga', series_prefix='ABS.', area_map='map_abs__lga2025') }}
