{{ config(contract={'enforced': true}) }}

-- Every twin-town partner in a country with an official register, and what the matcher decided: the register
-- area, the rule that found it, or why the name stays unmatched (no such area; several it cannot tell apart).
select
    m.partner_name::text as partner_name,
    m.country_iso3::text as country_iso3,
    m.area_code::text as area_code,
    a.area_name::text as area_name,
    a.area_name_latin::text as area_name_latin,
    m.register::text as register,
    m.match_rule::text as match_rule,
    m.unmatched_reason::text as unmatched_reason,
    m.candidates::integer as candidates,
    (m.area_code is not null) as matched,
    -- provenance: the partner's name from the twin-town list, the area from its register
    jsonb_strip_nulls(jsonb_build_object(
        'partner_name', {{ latest_snapshot_id('twinning', 'twin_cities') }}, 'area_code', a.snapshot_id
    ))::jsonb as snapshot_ids
from {{ ref('int_partners_matched') }} as m
left join {{ ref('dim_area') }} as a using (area_code)
