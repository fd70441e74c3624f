{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id',
          grants={'select': ['lgstats_analyst']}) }}

-- One city, one country (issue 25, defect 3): the UN export files some city rows under more than one country
-- (LAHORE under Pakistan, 586, and the Philippines, 608). Per snapshot, each city of a Cities breakdown and
-- each country it is filed under:
--   kept        filed under that country only;
--   confirmed   filed under several, and the gazetteer puts a place of that name in this one country;
--   misfiled    filed under several, and the gazetteer puts the place in another of them;
--   ambiguous   filed under several, and the gazetteer names none or several of them: held out, never guessed.
-- The gazetteer is the geocoded twin-town list (stg_twinning__places_located, real data with coordinates),
-- matched on the name folded to ASCII capitals with '_' as a space. int_observations_unioned leaves out the
-- rows not kept or confirmed, and int_observations_held_out lists them with the reason.
with filed as (
    select
        o.snapshot_id,
        o.dimensions ->> 'Cities' as city,
        o.area_code,
        m.country_iso3,
        count(*) as observations
    from {{ ref('stg_un_sdg__series_data') }} as o
    left join {{ ref('ref_m49_areas') }} as m on m.m49_code = o.area_code
    where o.dimensions ? 'Cities' and o.dimensions ->> 'Cities' not in ('NOCITI', '_T', '_Z')
    {% if is_incremental() %}
      and {{ changed_snapshot_filter('o.snapshot_id') }}
    {% endif %}
    group by 1, 2, 3, 4
),

countries as (
    select snapshot_id, city, count(*) as filed_under, string_agg(area_code, ', ' order by area_code) as areas
    from filed
    group by 1, 2
),

gazetteer as (  -- the countries a place of that name is in, by the folded name
    select upper({{ latin_fold('city_name') }}) as folded, array_agg(distinct country_iso3) as countries
    from {{ ref('stg_twinning__places_located') }}
    where country_iso3 is not null
    group by 1
),

judged as (
    select
        f.*,
        c.filed_under,
        c.areas,
        (select count(*) from filed as f2
         where f2.snapshot_id = f.snapshot_id and f2.city = f.city and f2.country_iso3 = any (g.countries)) as gazetteer_hits,
        f.country_iso3 = any (g.countries) as in_gazetteer
    from filed as f
    inner join countries as c using (snapshot_id, city)
    left join gazetteer as g on g.folded = upper(replace({{ latin_fold('f.city') }}, '_', ' '))
)

select
    snapshot_id,
    city,
    area_code,
    country_iso3,
    observations,
    case
        when filed_under = 1 then 'kept'
        when gazetteer_hits = 1 and in_gazetteer then 'confirmed'
        when gazetteer_hits = 1 then 'misfiled'
        else 'ambiguous'
    end as decision,
    case
        when filed_under = 1 then null
        when gazetteer_hits = 1 and in_gazetteer
            then 'filed under ' || areas || '; the twin-town gazetteer places ' || city || ' in ' || country_iso3 || ' only'
        when gazetteer_hits = 1
            then 'filed under ' || areas || '; the twin-town gazetteer places ' || city || ' in another of them, not in '
                 || coalesce(country_iso3, area_code)
        else 'filed under ' || areas || '; the twin-town gazetteer places ' || city || ' in '
             || case when gazetteer_hits = 0 then 'none' else 'several' end || ' of them: held out, not guessed'
    end as reason
from judged
