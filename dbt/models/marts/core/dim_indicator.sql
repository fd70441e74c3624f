{{ config(contract={'enforced': true}) }}

-- The indicator dictionary: every series of fct_observation (and of the SDG catalogue) with its definition,
-- its unit from the one unit list, the source's own code, URL and licence, the method note where the source
-- has one, the years held, and the snapshot its definition came from.
with held as (  -- the snapshots fct_observation can hold: the newest of each dataset and every member submission
    select c.*
    from {{ ref('int_series_coverage_counted') }} as c
    where c.snapshot_id in (select snapshot_id from {{ source('ops', 'observation_snapshots') }})
),

observed as (  -- a series several sources hold (an SDG series a member also reports) is described by the
               -- source that publishes it, not by a member's submission
    select
        series_code,
        (array_agg(source_series_code order by is_submission, loaded_at desc, snapshot_id desc))[1] as source_series_code,
        (array_agg(source order by is_submission, loaded_at desc, snapshot_id desc))[1] as source,
        (array_agg(dataset order by is_submission, loaded_at desc, snapshot_id desc))[1] as dataset,
        (array_agg(unit order by observations desc, unit))[1] as unit,
        min(first_year) as first_year,
        max(last_year) as last_year,
        (array_agg(snapshot_id order by is_submission, loaded_at desc, snapshot_id desc))[1] as snapshot_id
    from (
        select
            h.*,
            split_part(h.source_dataset, '/', 1) as source,
            split_part(h.source_dataset, '/', 2) as dataset,
            h.source_dataset like 'submissions/%' as is_submission
        from held as h
    ) as x
    group by series_code
),

catalogue as (  -- the SDG catalogue (Series/List): definitions and goals of UN series, observed or not
    select * from {{ ref('stg_un_sdg__series_list') }}
),

un_observed as (  -- UN series the catalogue lacks: the names and goals their rows carry
    select distinct on (series_code) *
    from {{ ref('int_series_units_counted') }}
    where snapshot_id = {{ latest_snapshot_id('un_sdg', 'series_data') }}
    order by series_code, observations desc
),

named as (  -- names the registry datasets' rows carry (their entry's series_label), and members' names of their
            -- local indicators
    select distinct on (series_code) series_code, series_name
    from (
        select series_code, series_name from {{ ref('int_registry_observations') }} where series_name is not null
        union all
        select indicator_code, indicator_name from {{ ref('stg_submissions__local_indicator') }}
    ) as x
    order by series_code, series_name
),

series as (
    select
        coalesce(o.series_code, c.series_code) as series_code,
        coalesce(o.source_series_code, c.series_code) as source_series_code,
        coalesce(o.source, 'un_sdg') as source,
        coalesce(o.dataset, 'series_data') as dataset,
        o.unit,
        o.first_year,
        o.last_year,
        coalesce(o.snapshot_id, c.snapshot_id) as snapshot_id,
        coalesce(c.series_description, u.series_description) as sdg_description,
        coalesce(c.sdg_goal, u.sdg_goal) as sdg_goal,
        coalesce(c.sdg_target, u.sdg_target) as sdg_target,
        coalesce(c.sdg_indicator, u.sdg_indicator) as sdg_indicator,
        coalesce(c.sdg_indicators, u.sdg_indicators) as sdg_indicators
    from observed as o
    full outer join catalogue as c using (series_code)
    left join un_observed as u on u.series_code = coalesce(o.series_code, c.series_code)
),

origins as (
    select snapshot_id, source_name, base_url, licence, licence_url, first_file_url as first_url
    from {{ ref('stg_lgstats__snapshot_origins') }}
)

select
    s.series_code::text as series_code,
    coalesce(d.series_name, s.sdg_description, n.series_name, s.series_code)::text as series_name,
    coalesce(d.definition, s.sdg_description, n.series_name, d.series_name,
             'not stated: neither the source''s data nor its registry entry define ' || s.series_code)::text
        as definition,
    s.sdg_goal::text as sdg_goal,
    s.sdg_target::text as sdg_target,
    s.sdg_indicator::text as sdg_indicator,
    (select string_agg(i, ', ') from jsonb_array_elements_text(s.sdg_indicators) as i)::text as sdg_indicators,
    coalesce(s.unit, declared_unit.unit_code)::text as unit,
    units.unit_label::text as unit_label,
    s.source_series_code::text as source_series_code,
    (case s.source
        when 'un_sdg' then rtrim(o.base_url, '/') || '/v1/sdg/Series/Data?seriesCode=' || s.source_series_code
        when 'world_bank' then 'https://data.worldbank.org/indicator/' || s.source_series_code
        else coalesce(o.first_url, o.base_url)
     end)::text as source_url,
    o.licence::text as licence,
    o.licence_url::text as licence_url,
    d.method_note::text as method_note,
    s.first_year::integer as first_year,
    s.last_year::integer as last_year,
    o.source_name::text as source_name,
    s.snapshot_id::text as snapshot_id
from series as s
inner join origins as o using (snapshot_id)
left join {{ ref('int_series_declared') }} as d
    on d.source = s.source and d.dataset = s.dataset and d.source_series_code = s.source_series_code
left join {{ ref('int_units_mapped') }} as declared_unit
    on declared_unit.source in (s.source, '*') and declared_unit.source_unit = d.unit
left join named as n on n.series_code = s.series_code
left join {{ ref('ref_units') }} as units on units.unit_code = coalesce(s.unit, declared_unit.unit_code)
