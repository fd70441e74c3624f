{{ config(contract={'enforced': true}) }}

-- Association × year, from two places:
-- - the region's real associations (seed ref_lga_associations: compiled from public sources, each row with its
--   source URL and quote), with the members they report where a source states it, and their potential
--   membership: the local governments of their tier in the official register (ref_lga_tiers says which tier);
-- - the profiles members submit (template lga_profile; the demo members are synthetic and say so). Their
--   country total comes from the association when it gives one, else from the SDG count (SG_GOV_LOGV) for
--   that country and year, else from the official register; total_source says which.
-- The register's count and the SDG count are shown side by side.
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
),

submitted as (
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
    null::text as tier_represented,
    null::text as legal_basis,
    null::integer as potential_members,
    null::text as potential_members_source,
    null::text as members_reported_as,
    null::text as source_url,
    p.services::text as services,
    p.submitted_by::text as submitted_by,
    concat_ws('; ', p.source_name,
              case when p.local_governments_total is null then g.source_name end)::text as source_name,
    p.snapshot_id::text as snapshot_id,
    null::text as seed_file
from profiles as p
left join sdg_counts as g on g.country_iso3 = p.country_iso3 and g.year = p.year
left join registers as r on r.country_iso3 = p.country_iso3
),

potential as (  -- the local governments of each association's tier in its country's register
    select t.lga_code, count(*) as potential_members,
        'register ' || t.register || ' (' || max(r.register_vintage) || '): ' || t.area_level
            || coalesce(' ' || t.area_types, '') as potential_members_source
    from {{ ref('ref_lga_tiers') }} as t
    inner join {{ ref('stg_registers__areas') }} as r
        on r.register = t.register and r.area_level = t.area_level
       and (t.area_types is null or r.area_type = any(string_to_array(t.area_types, ';')))
    group by t.lga_code, t.register, t.area_level, t.area_types
),

reference as (
    select
        a.lga_code::text as lga_code,
        a.name::text as lga_name,
        a.country_iso3::text as country_iso3,
        -- the year the members figure is dated; an undated figure is shown for the year the table was compiled
        coalesce(substring(a.members_reported_year from '^([0-9]{4})')::integer, 2026) as year,
        a.members_reported::integer as member_local_governments,
        r.register_local_governments::integer as local_governments_total,
        case when r.register_local_governments is not null
             then 'register ' || r.register || ' (' || r.register_vintage || ')' end::text as total_source,
        round(100.0 * a.members_reported / nullif(p.potential_members, 0), 2)::numeric as coverage_pct,
        g.local_governments::integer as sdg_local_governments,
        r.register_local_governments::integer as register_local_governments,
        r.register_vintage::text as register_vintage,
        (g.local_governments - r.register_local_governments)::integer as sdg_minus_register,
        a.tier_represented::text as tier_represented,
        a.legal_basis::text as legal_basis,
        p.potential_members::integer as potential_members,
        p.potential_members_source::text as potential_members_source,
        coalesce(a.members_reported_year, 'no member count in the sources found')::text as members_reported_as,
        a.source_url::text as source_url,
        null::text as services,
        null::text as submitted_by,
        'lgstats reference table of local government associations (compiled 2026-12-04 from public sources: '
            || a.source_url || ')' as source_name,
        null::text as snapshot_id,
        'dbt/seeds/ref_lga_associations.csv'::text as seed_file
    from {{ ref('ref_lga_associations') }} as a
    left join potential as p using (lga_code)
    left join registers as r on r.country_iso3 = a.country_iso3
    left join sdg_counts as g
        on g.country_iso3 = a.country_iso3
       and g.year = coalesce(substring(a.members_reported_year from '^([0-9]{4})')::integer, 2026)
)

select * from reference
union all
select * from submitted
