{{ config(contract={'enforced': true}) }}

select
    c.partnership_id::text as partnership_id,
    c.partner_a_area_code::text as area_code_a,
    c.partner_b_area_code::text as area_code_b,
    c.partner_a_name::text as partner_name_a,
    c.partner_b_name::text as partner_name_b,
    c.partner_a_country_iso3::text as country_iso3_a,
    c.partner_b_country_iso3::text as country_iso3_b,
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
    s.source_name::text as source_name,
    c.snapshot_id::text as snapshot_id
from {{ ref('stg_submissions__cooperation_partnership') }} as c
inner join {{ ref('stg_lgstats__snapshot_origins') }} as s using (snapshot_id)
