-- The series each registry entry declares (ops.datasets, the registry mirrored before every build), one row per
-- source, dataset and the source's own series code: the name, unit, definition and method note the entry
-- states. It fills what a source's data do not carry (World Bank and Stats NZ publish no unit) and the
-- indicator dictionary (dim_indicator).
select
    d.source,
    d.dataset,
    s.value ->> 'code' as source_series_code,
    s.value ->> 'name' as series_name,
    s.value ->> 'unit' as unit,
    s.value ->> 'definition' as definition,
    s.value ->> 'method' as method_note,
    d.licence
from {{ source('ops', 'datasets') }} as d
cross join lateral jsonb_array_elements(coalesce(d.series, '[]'::jsonb)) as s (value)
