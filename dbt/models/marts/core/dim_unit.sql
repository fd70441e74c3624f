{{ config(contract={'enforced': true}) }}

-- The one unit list: every fct_observation.unit is one of these codes (a dbt test checks it at every build).
-- Its rows are defined in the repository (seed_file), not by a snapshot.
select
    u.unit_code::text as unit_code,
    u.unit_label::text as unit_label,
    u.description::text as description,
    (select string_agg(m.source || ' ' || m.source_unit, ', ' order by m.source, m.source_unit)
     from {{ ref('map_source_units') }} as m where m.unit_code = u.unit_code)::text as source_codes,
    'dbt/seeds/ref_units.csv'::text as seed_file
from {{ ref('ref_units') }} as u
