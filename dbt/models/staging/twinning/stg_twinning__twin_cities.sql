-- The twin-town lists as published, newest snapshot; country names to ISO3 through a mapping file (data).
select
    r.snapshot_id,
    r.row_number,
    r.country1 as page_country_name,
    r.city1 as city_name,
    ca.country_iso3 as country_iso3,
    r.city2 as partner_city_name,
    r.country2 as partner_country_name,
    cb.country_iso3 as partner_country_iso3
from {{ source('twinning', 'twinning__twin_cities') }} as r
left join {{ ref('map_country_names') }} as ca on ca.country_name = r.country1
left join {{ ref('map_country_names') }} as cb on cb.country_name = r.country2
where r.snapshot_id = {{ latest_snapshot_id('twinning', 'twin_cities') }}
