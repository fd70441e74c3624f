{{ config(contract={'enforced': true}) }}

with ranked as (
    select
        series_code,
        series_description,
        sdg_goal,
        sdg_target,
        sdg_indicator,
        sdg_indicators,
        unit,
        snapshot_id,
        row_number() over (partition by series_code order by count(*) desc, unit) as rn
    from {{ ref('stg_un_sdg__series_data') }}
    group by series_code, series_description, sdg_goal, sdg_target, sdg_indicator, sdg_indicators, unit, snapshot_id
)

select
    r.series_code::text as series_code,
    r.series_description::text as series_name,
    r.sdg_goal::text as sdg_goal,
    r.sdg_target::text as sdg_target,
    r.sdg_indicator::text as sdg_indicator,
    (select string_agg(i, ', ') from jsonb_array_elements_text(r.sdg_indicators) as i)::text as sdg_indicators,
    r.unit::text as unit,
    s.source_name::text as source_name
from ranked as r
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
where r.rn = 1
