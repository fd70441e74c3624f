-- Each source's unit codes → the one unit list (ref_units): the mapped codes of map_source_units, and every
-- code of the list as itself (the UN's PERCENT is PERCENT). The ingestion refuses a unit neither file knows
-- (lgstats/units.py), so an observation's unit is never left unmapped.
select source, source_unit, unit_code
from {{ ref('map_source_units') }}
union
select s.source, u.unit_code, u.unit_code
from {{ ref('ref_units') }} as u
cross join (select distinct source from {{ ref('stg_lgstats__snapshot_origins') }}) as s
