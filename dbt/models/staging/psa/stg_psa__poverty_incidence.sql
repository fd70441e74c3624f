-- PSA poverty statistics by region, province and highly urbanised city, latest snapshot. PSA gives no
-- area codes: the cleaned label (dots and footnote marks removed by the connector) is matched through
-- map_psa__geolocation; a label the map lists without an area_code is deliberately not an area (a
-- special computation, a former province), and area_note says why. Positional value codes ("0", "1") are
-- kept but the label names the series.
select
    r.snapshot_id,
    'PSA.' || r.table_id || '.' || r.measure as series_code,
    r.measure_label as series_name,
    r.area_label,
    r.area_label_clean,
    r.area_depth,
    m.area_code,
    m.source_label is not null as in_area_map,
    m.note as area_note,
    r.year,
    r.time_code,
    r.value,
    r.status,
    r.unit,
    r.source_file,
    r.row_number
from {{ source('psa', 'psa__poverty_incidence') }} as r
left join {{ ref('map_psa__geolocation') }} as m on m.source_label = r.area_label_clean
where r.snapshot_id = {{ latest_snapshot_id('psa', 'poverty_incidence') }}
