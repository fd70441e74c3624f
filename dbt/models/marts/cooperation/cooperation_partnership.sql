{{ config(contract={'enforced': true}) }}

-- Partnerships reported by members (their submissions), and the twin-town partnerships of the region published
-- on English Wikipedia's lists (kind 'twinning', names and countries as published, evidence kept), each partner
-- matched to its country's official register where the exact rules find one area (twinning_partner_matches).
with submitted as (
    select
        c.partnership_id,
        c.partner_a_area_code as area_code_a,
        c.partner_b_area_code as area_code_b,
        c.partner_a_name as partner_name_a,
        c.partner_b_name as partner_name_b,
        c.partner_a_country_iso3 as country_iso3_a,
        c.partner_b_country_iso3 as country_iso3_b,
        c.kind,
        c.start_year,
        c.end_year,
        c.status,
        c.themes,
        c.sdg_goals,
        c.funding_usd,
        c.outcomes,
        c.monev_indicator,
        c.monev_target,
        c.monev_achieved,
        c.submitted_by,
        'member submission ' || c.snapshot_id as evidence,
        c.snapshot_id
    from {{ ref('stg_submissions__cooperation_partnership') }} as c
),

twinned as (
    select
        t.partnership_id,
        ma.area_code as area_code_a,
        mb.area_code as area_code_b,
        t.partner_name_a,
        t.partner_name_b,
        t.country_iso3_a,
        t.country_iso3_b,
        'twinning' as kind,
        null::integer as start_year,
        null::integer as end_year,
        null::text as status,
        null::text as themes,
        null::text as sdg_goals,
        null::numeric as funding_usd,
        null::text as outcomes,
        null::text as monev_indicator,
        null::numeric as monev_target,
        null::numeric as monev_achieved,
        null::text as submitted_by,
        t.evidence,
        t.snapshot_id
    from {{ ref('int_twinning_pairs_deduplicated') }} as t
    left join {{ ref('int_partners_matched') }} as ma
        on ma.partner_name = t.partner_name_a and ma.country_iso3 = t.country_iso3_a
    left join {{ ref('int_partners_matched') }} as mb
        on mb.partner_name = t.partner_name_b and mb.country_iso3 = t.country_iso3_b
),

combined as (
    select * from submitted
    union all
    select * from twinned
)

select
    c.partnership_id::text as partnership_id,
    c.area_code_a::text as area_code_a,
    c.area_code_b::text as area_code_b,
    c.partner_name_a::text as partner_name_a,
    c.partner_name_b::text as partner_name_b,
    c.country_iso3_a::text as country_iso3_a,
    c.country_iso3_b::text as country_iso3_b,
    c.kind::text as kind,
    c.start_year::integer as start_year,
    c.end_year::integer as end_year,
    c.status::text as status,
    c.themes::text as themes,
    c.sdg_goals::text as sdg_goals,
    c.funding_usd::numeric as funding_usd,
    c.outcomes::text as outcomes,
    c.monev_indicator::text as monev_indicator,
    c.monev_target::numeric as monev_target,
    c.monev_achieved::numeric as monev_achieved,
    c.submitted_by::text as submitted_by,
    c.evidence::text as evidence,
    s.source_name::text as source_name,
    s.licence::text as licence,
    c.snapshot_id::text as snapshot_id
from combined as c
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
