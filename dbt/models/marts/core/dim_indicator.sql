{{ config(contract={'enforced': true}) }}

-- The SDG catalogue (Series/List) and every series seen in the observations, with the unit it is most
-- often reported in.
with observed as (  -- counted once per snapshot in int_series_units_counted
    select *, row_number() over (partition by series_code order by observations desc, unit) as rn
    from {{ ref('int_series_units_counted') }}
    where snapshot_id = {{ latest_snapshot_id('un_sdg', 'series_data') }}
),

catalogue as (
    select * from {{ ref('stg_un_sdg__series_list') }}
),

world_bank as (
    select distinct on (indicator_id) indicator_id as series_code, indicator_name, snapshot_id
    from {{ ref('stg_world_bank__indicators') }}
    order by indicator_id
),

national as (  -- national statistics offices and the OECD: one name per series code
    select distinct on (series_code) series_code, series_name, unit, snapshot_id
    from (
        select series_code, 'Estimated resident population (ABS, by LGA)' as series_name, unit, snapshot_id
        from {{ ref('stg_abs__erp_lga') }}
        union all
        select series_code, 'Forestry by area, Stats NZ AGR_AGR_001 measure ' || measure, unit, snapshot_id
        from {{ ref('stg_stats_nz__agr_forestry') }}
        union all
        select series_code, 'SNG-WOFI: ' || series_name, unit, snapshot_id
        from {{ ref('stg_oecd__sng_wofi_finance') }}
        union all
        select series_code, 'PSA: ' || series_name, unit, snapshot_id
        from {{ ref('stg_psa__poverty_incidence') }}
    ) as x
    order by series_code, series_name
),

registry as (  -- datasets of the registry route: the series name their entry declares, else the one their rows carry
    select distinct on (r.series_code)
        r.series_code,
        coalesce(declared.series_name, r.series_name, r.series_code) as series_name,
        coalesce(declared.unit, r.unit) as unit,
        r.snapshot_id
    from (
        select series_code, series_name, unit, snapshot_id
        from {{ ref('int_registry_observations') }}
        group by series_code, series_name, unit, snapshot_id
    ) as r
    left join (
        select
            coalesce(d.series_prefix, d.source || '.') || (s.value ->> 'code') as series_code,
            s.value ->> 'name' as series_name,
            s.value ->> 'unit' as unit
        from {{ source('ops', 'datasets') }} as d
        cross join lateral jsonb_array_elements(coalesce(d.series, '[]'::jsonb)) as s (value)
        where {{ registry_observation_datasets('d.') }}
    ) as declared on declared.series_code = r.series_code
    order by r.series_code, r.snapshot_id desc
),

local_indicators as (  -- member-submitted codes that are not SDG series
    select distinct on (indicator_code)
        indicator_code as series_code, indicator_name, unit, snapshot_id
    from {{ ref('stg_submissions__local_indicator') }}
    order by indicator_code, received_at desc
),

combined as (
    select
        coalesce(c.series_code, o.series_code) as series_code,
        coalesce(c.series_description, o.series_description) as series_name,
        coalesce(c.sdg_goal, o.sdg_goal) as sdg_goal,
        coalesce(c.sdg_target, o.sdg_target) as sdg_target,
        coalesce(c.sdg_indicator, o.sdg_indicator) as sdg_indicator,
        coalesce(c.sdg_indicators, o.sdg_indicators) as sdg_indicators,
        o.unit,
        coalesce(o.snapshot_id, c.snapshot_id) as snapshot_id
    from catalogue as c
    full outer join (select * from observed where rn = 1) as o using (series_code)
    union all
    select l.series_code, l.indicator_name, null, null, null, null, l.unit, l.snapshot_id
    from local_indicators as l
    where not exists (select 1 from catalogue as c where c.series_code = l.series_code)
      and not exists (select 1 from observed as o where o.series_code = l.series_code)
    union all
    select w.series_code, w.indicator_name, null, null, null, null, null, w.snapshot_id
    from world_bank as w
    union all
    select n.series_code, n.series_name, null, null, null, null, n.unit, n.snapshot_id
    from national as n
    union all
    select g.series_code, g.series_name, null, null, null, null, g.unit, g.snapshot_id
    from registry as g  -- a later vintage of an SDG series (OWID's SG_GEN_LOCGELS) keeps the SDG catalogue's row
    where not exists (select 1 from catalogue as c where c.series_code = g.series_code)
      and not exists (select 1 from observed as o where o.rn = 1 and o.series_code = g.series_code)
)

select
    x.series_code::text as series_code,
    x.series_name::text as series_name,
    x.sdg_goal::text as sdg_goal,
    x.sdg_target::text as sdg_target,
    x.sdg_indicator::text as sdg_indicator,
    (select string_agg(i, ', ') from jsonb_array_elements_text(x.sdg_indicators) as i)::text as sdg_indicators,
    x.unit::text as unit,
    s.source_name::text as source_name
from combined as x
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
