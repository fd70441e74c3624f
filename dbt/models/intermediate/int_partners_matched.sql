{{ config(materialized='table') }}  -- read by several marts: computed once per build
-- Each twin-town partner (a name as published, in a country with an official register) matched to the
-- register's area, by exact rules only (docs/matching.md). Never a guess: a name with no area of that key, or
-- with several that the rules cannot tell apart, stays unmatched with its reason and its candidates.
--   1. keys: name_match_key() of the partner's name (without its qualifier) against the keys of every local
--      government of the country's register (its name, its English name, its romanised name);
--   2. a qualifier in the name ("Fuchū, Tokyo", "Adachi (Tokyo)") keeps the candidates under that parent;
--   3. a designator in the name ("Cebu City", "Kota …", "… Regency", "… Prefecture") keeps the candidates of that
--      kind;
--   4. coordinates, where the register has them (Japan) and every candidate is a local government: the one
--      candidate within 25 km of where the twin-town file geocoded the partner (a prefecture's point is its
--      office, in its capital: coordinates cannot tell a prefecture from its capital);
--   5. Indonesia: a bare name shared by a kota and a kabupaten (Kota Bandung, Kabupaten Bandung: one area split in
--      two, the regency named after its former seat) is the kota; the lists name a regency "… Regency". Not in the
--      Philippines, where a city and a municipality of one name are different places (San Juan, Roxas);
--   6. a bare name shared by a prefecture and its capital city (Osaka, Kyoto: the register names the capital)
--      is the city; the lists name the prefecture "… Prefecture", which keeps the prefecture (rule 3).
with partners as (
    select distinct name, country_iso3
    from (
        select partner_name_a as name, country_iso3_a as country_iso3 from {{ ref('int_twinning_pairs_deduplicated') }}
        union all
        select partner_name_b, country_iso3_b from {{ ref('int_twinning_pairs_deduplicated') }}
    ) as sides
    where country_iso3 in (select country_iso3 from {{ ref('stg_registers__areas') }})
),

parsed as (
    select
        name,
        country_iso3,
        nullif(btrim(coalesce(substring(name from '\(([^)]*)\)'), substring(name from ',\s*([^,]+)$'),
                              substring(name from '^(.+?)\s+[–—-]\s+.+$'))), '') as qualifier,  -- Tokyo – Adachi
        btrim(regexp_replace(regexp_replace(regexp_replace(name, '\s*\([^)]*\)', '', 'g'), ',.*$', ''),
                             '^.+?\s+[–—-]\s+', '')) as base
    from partners
),

keyed as (
    select
        p.*,
        {{ name_match_key('p.base') }} as match_key,
        {{ name_designator('p.base') }} as designator,
        {{ name_match_key('p.qualifier') }} as qualifier_key
    from parsed as p
),

areas as materialized (  -- local governments (provinces among them where they are), and the kind a designator can name
    select
        a.area_code, a.country_iso3, a.area_name, a.area_level, a.area_type, a.parent_area_code, a.register,
        a.latitude, a.longitude, a.is_capital,
        case
            when a.area_level = 'province' then 'province'
            when a.area_type ilike '%city%' or a.area_type in ('kota', '市', 'si') then 'city'
            when a.area_type = 'kabupaten' then 'regency'
        end as kind
    from {{ ref('stg_registers__areas') }} as a
    where a.is_local_government  -- local governments only: not Philippine regions, Indian districts, Thai amphoe
),

area_keys as materialized (
    select distinct a.area_code, k.match_key
    from {{ ref('stg_registers__areas') }} as a
    cross join lateral (values ({{ name_match_key('a.area_name') }}), ({{ name_match_key('a.area_name_en') }}),
                               ({{ name_match_key('a.area_name_romanised') }})) as k (match_key)
    where k.match_key is not null and k.match_key <> ''
),

located as materialized (
    select * from {{ ref('stg_twinning__places_located') }}
    where country_iso3 in (select country_iso3 from partners)
),

candidates as materialized (
    select
        k.name, k.country_iso3, k.qualifier, k.designator, a.area_code, a.area_level, a.kind, a.register,
        a.parent_area_code, coalesce(a.is_capital, false) as is_capital,
        exists (select 1 from area_keys as pk
                where pk.area_code = a.parent_area_code and pk.match_key = k.qualifier_key) as under_qualifier,
        a.latitude is not null as area_located,
        l.latitude is not null as partner_located,
        case when a.latitude is not null and l.latitude is not null then  -- great-circle distance, km
            2 * 6371 * asin(sqrt(power(sin(radians(l.latitude - a.latitude) / 2), 2)
                + cos(radians(a.latitude)) * cos(radians(l.latitude)) * power(sin(radians(l.longitude - a.longitude) / 2), 2)))
        end as distance_km
    from keyed as k
    inner join area_keys as ak on ak.match_key = k.match_key
    inner join areas as a on a.area_code = ak.area_code and a.country_iso3 = k.country_iso3
    left join located as l on l.city_name = k.name and l.country_iso3 = k.country_iso3
),

narrowed as (  -- rules 2-4, each applied only where it leaves at least one candidate
    select c.*,
        bool_or(under_qualifier) over w as any_under_qualifier,
        bool_or(c.kind = c.designator) over w as any_of_kind
    from candidates as c
    window w as (partition by c.name, c.country_iso3)
),

step2 as (
    select * from narrowed
    where qualifier is null or not any_under_qualifier or under_qualifier
),

step3 as (
    select s.*, bool_or(s.kind = s.designator) over (partition by s.name, s.country_iso3) as kind_left
    from step2 as s
),

step3b as (
    select * from step3 where designator is null or not kind_left or kind = designator
),

step4 as (
    select s.*,
        count(*) over w as n,
        count(*) filter (where s.area_level = 'local_government') over w as n_local,
        count(*) filter (where s.area_level = 'province') over w as n_province,
        count(*) filter (where s.kind = 'city' and s.area_level = 'local_government') over w as n_city,
        count(*) filter (where s.distance_km <= 25) over w as n_near,
        count(*) filter (where s.area_level = 'local_government' and s.is_capital) over w as n_capital,
        array_agg(s.area_code) filter (where s.area_level = 'province') over w as provinces,
        bool_and(s.area_located and s.partner_located) over w as located
    from step3b as s
    window w as (partition by s.name, s.country_iso3)
),

ruled as (  -- one decision per partner: the first rule that applies to its candidates as a whole
    select *,
        case
            when n = 1 then 'unique'
            when located and n_local = n and n_near = 1 then
                case when distance_km <= 25 then 'coordinates' end
            when country_iso3 = 'IDN' and n_local = n and n_city = 1 and coalesce(designator, 'city') = 'city' then
                case when kind = 'city' then 'the city among the local governments of that name' end
            when n_province = 1 and n_capital = 1 and n = 2 and coalesce(designator, 'city') = 'city' then
                case when is_capital and parent_area_code = any(provinces) then 'the capital city over its prefecture' end
        end as decided_by
    from step4
),

decided as (
    select * from ruled where decided_by is not null
),

counted as (
    select name, country_iso3, count(*) as candidates from candidates group by name, country_iso3
),

listed as (
    select name, country_iso3, string_agg(area_code, ', ' order by area_code) as candidate_codes
    from step4 group by name, country_iso3
),

summary as (
    select k.name, k.country_iso3, k.qualifier, k.designator, k.match_key,
        coalesce(c.candidates, 0) as candidates, l.candidate_codes
    from keyed as k
    left join counted as c using (name, country_iso3)
    left join listed as l using (name, country_iso3)
)

select
    s.name as partner_name,
    s.country_iso3,
    d.area_code,
    d.register,
    case
        when d.area_code is not null then concat_ws('; ',
            'exact key ' || s.match_key,
            case when s.qualifier is not null then 'qualifier ' || s.qualifier end,
            case when s.designator is not null then 'designator ' || s.designator end,
            case when d.decided_by <> 'unique' then d.decided_by
                 || case when d.decided_by = 'coordinates' then ' (' || round(d.distance_km::numeric, 1) || ' km)' else '' end
            end)
    end as match_rule,
    case
        when d.area_code is not null then null
        when s.match_key is null or s.match_key = '' then 'no name left to match'
        when s.candidates = 0 then 'no area of the register has this name (key ' || s.match_key || ')'
        else 'ambiguous: ' || s.candidates || ' areas share the key ' || s.match_key || ' (' || s.candidate_codes
             || '); the name says nothing that tells them apart'
    end as unmatched_reason,
    s.candidates::integer as candidates
from summary as s
left join decided as d on d.name = s.name and d.country_iso3 = s.country_iso3
