{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_id',
          grants={'select': ['lgstats_analyst']}) }}

-- One city, one country (issue 25, defect 3): the UN export files some city rows under more than one country
-- (LAHORE under Pakistan, 586, and the Philippines, 608). Per snapshot, each city of a Cities breakdown and
-- each country it is filed under:
--   kept        filed under that country only;
--   confirmed   filed under several, and ref_city_countries (a seed, each row with its evidence) names this one;
--   misfiled    filed under several, and ref_city_countries names another of them;
--   ambiguous   filed under several, and ref_city_countries names none of them: held out, never guessed.
-- int_observations_unioned leaves out the rows not kept or confirmed; this model lists them with the reason.
-- The decision reads the UN snapshot and a file of the repository only, so it is the same whatever order the
-- sources were loaded in.

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

judged as (
    select
        f.*,
        c.filed_under,
        c.areas,
        r.country_iso3 as reference_iso3,
        r.evidence,
        exists (select 1 from filed as f2 where f2.snapshot_id = f.snapshot_id and f2.city = f.city
                and f2.country_iso3 = r.country_iso3) as reference_among_filings
    from filed as f
    inner join countries as c using (snapshot_id, city)
    left join {{ ref('ref_city_countries') }} as r on r.city = f.city
)

select
    snapshot_id,
    city,
    area_code,
    country_iso3,
    observations,
    case
        when filed_under = 1 then 'kept'
        when reference_among_filings and country_iso3 = reference_iso3 then 'confirmed'
        when reference_among_filings then 'misfiled'
        else 'ambiguous'
    end as decision,
    case
        when filed_under = 1 then null
        when reference_among_filings and country_iso3 = reference_iso3
            then 'filed under ' || areas || '; ' || city || ' is in ' || reference_iso3 || ' (ref_city_countries: '
                 || evidence || ')'
        when reference_among_filings
            then 'filed under ' || areas || '; ' || city || ' is in ' || reference_iso3 || ', not in '
                 || coalesce(country_iso3, area_code) || ' (ref_city_countries: ' || evidence || ')'
        else 'filed under ' || areas || '; ref_city_countries names none of them: held out, not guessed (add the '
             || 'city with its evidence to dbt/seeds/ref_city_countries.csv)'
    end as reason
from judged
