with reference as (
    select
        m49_code as area_code,
        area_name,
        area_level,
        nullif(parent_m49_code, '') as parent_area_code,
        nullif(country_iso3, '') as country_iso3,
        m49_code,
        true as is_m49
    from {{ ref('ref_m49_areas') }}
),

observed as (
    select distinct on (o.area_code) o.area_code, coalesce(g.area_name, o.area_name) as area_name
    from {{ ref('stg_un_sdg__series_data') }} as o
    left join {{ ref('stg_un_sdg__geoarea_list') }} as g using (area_code)
    order by o.area_code, o.area_name
),

members as (
    select
        member_code as area_code,
        member_name as area_name,
        'local_government' as area_level,
        parent_area_code,
        country_iso3,
        null::text as m49_code,
        false as is_m49
    from {{ ref('ref_members') }}
    where member_kind = 'local_government'
),

subnational as (  -- provinces, states/regions and local governments of the national sources (a data file)
    select
        area_code,
        area_name,
        area_level,
        parent_area_code,
        country_iso3,
        null::text as m49_code,
        false as is_m49
    from {{ ref('ref_subnational_areas') }}
)

select *, false as is_member from reference
union all
select *, true as is_member from members
union all
select *, false as is_member from subnational
union all
select
    o.area_code,
    o.area_name,
    'region' as area_level,
    null::text as parent_area_code,
    null::text as country_iso3,
    case when o.area_code ~ '^[0-9]{3}$' and o.area_code::int < 900 then o.area_code end as m49_code,
    coalesce(o.area_code ~ '^[0-9]{3}$' and o.area_code::int < 900, false) as is_m49,
    false as is_member
from observed as o
where not exists (select 1 from reference as r where r.area_code = o.area_code)
  and not exists (select 1 from members as m where m.area_code = o.area_code)
  and not exists (select 1 from subnational as n where n.area_code = o.area_code)
