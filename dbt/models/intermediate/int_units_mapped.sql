-- Each source's unit codes → the one unit list (ref_units): the mapped codes of map_source_units, and every
-- code of the list as itself for any source (source '*': the UN's PERCENT is PERCENT). The ingestion refuses a
-- unit neither file knows (lgstats/pipeline/units.py), so an observation's unit is never left unmapped.
select source, source_unit, unit_code
from {{ ref('map_source_units') }}
union all
select '*', unit_code, unit_code
from {{ ref('ref_units') }}
