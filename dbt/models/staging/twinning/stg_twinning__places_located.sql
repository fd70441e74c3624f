-- One row per (city, country) of the geocoded twin-town file, newest snapshot, with its coordinates; a name
-- geocoded to two places (more than 1 km apart) gets none.
with sides as (
    select r.city1 as city_name, r.country1 as country_name, r.lat1 as lat, r.lng1 as lng
    from {{ source('twinning', 'twinning__twin_cities_geocoded') }} as r
    where r.snapshot_id = {{ latest_snapshot_id('twinning', 'twin_cities_geocoded') }}
    union
    select r.city2, r.country2, r.lat2, r.lng2
    from {{ source('twinning', 'twinning__twin_cities_geocoded') }} as r
    where r.snapshot_id = {{ latest_snapshot_id('twinning', 'twin_cities_geocoded') }}
),

typed as (
    select city_name, country_name, lat::numeric as latitude, lng::numeric as longitude
    from sides
    where city_name is not null and lat ~ '^-?[0-9.]+$' and lng ~ '^-?[0-9.]+$'
)

select
    t.city_name,
    c.country_iso3,
    case when max(t.latitude) - min(t.latitude) < 0.01 and max(t.longitude) - min(t.longitude) < 0.01
         then avg(t.latitude) end as latitude,
    case when max(t.latitude) - min(t.latitude) < 0.01 and max(t.longitude) - min(t.longitude) < 0.01
         then avg(t.longitude) end as longitude
from typed as t
left join {{ ref('map_country_names') }} as c on c.country_name = t.country_name
group by t.city_name, c.country_iso3
