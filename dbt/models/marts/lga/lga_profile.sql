{{ config(contract={'enforced': true}) }}

-- Association × year. The country's total number of local governments comes from the association when it
-- gives one, else from the SDG count (SG_GOV_LOGV) for that country and year, else from the official
-- register; total_source says which. The register's count and the SDG count are shown side by side.
with profiles as (
    select p.*, s.source_name
    from {{ ref('stg_submissions__lga_profile') }} as p
    inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
),

sdg_counts as (
    select a.country_iso3, f.year, max(f.value)::integer as local_governments, max(f.source_name) as source_name
    from {{ ref('fct_observation') }} as f
    inner join {{ ref('dim_area') }} as a using (area_code)
    where f.series_code = 'SG_GOV_LOGV' and f.disaggregation = '_T' and a.area_level = 'country'
    group by a.country_iso3, f.year
),

registers as (
    select country_iso3, register, register_vintage, register_local_governments
    from {{ ref('int_local_governments_counted') }}
)

select
    p.lga_code::text as lga_code,
    p.lga_name::text as lga_name,
    p.country_iso3::text as country_iso3,
    p.year::integer as year,
    p.member_local_governments::integer as member_local_governments,
    coalesce(p.local_governments_total, g.local_governments, r.register_local_governments)::integer
        as local_governments_total,
    case
        when p.local_governments_total is not null then 'member submission'
        when g.local_governments is not null then 'SDG SG_GOV_LOGV ' || p.year
        when r.register_local_governments is not null then 'register ' || r.register || ' (' || r.register_vintage || ')'
    end::text as total_source,
    round(100.0 * p.member_local_governments
          / nullif(coalesce(p.local_governments_total, g.local_governments, r.register_local_governments), 0),
          2)::numeric as coverage_pct,
    g.local_governments::integer as sdg_local_governments,
    r.register_local_governments::integer as register_local_governments,
    r.register_vintage::text as register_vintage,
    (g.local_governments - r.register_local_governments)::integer as sdg_minus_register,
    p.services::text as services,
    p.submitted_by::text as submitted_by,
    concat_ws('; ', p.source_name,
              case when p.local_governments_total is null then g.source_name end)::text as source_name,
    p.snapshot_id::text as snapshot_id
from profiles as p
left join sdg_counts as g on g.country_iso3 = p.country_iso3 and g.year = p.year
left join registers as r on r.country_iso3 = p.country_iso3
