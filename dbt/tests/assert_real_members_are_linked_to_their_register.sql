-- Issue 25, defect 12: a real member local government of a country that has an official register is that
-- register's area: ref_members.register_area_code must name it (the synthetic demo members name none, on
-- purpose), and a code it names must be an area of the register.
select m.member_code, m.member_name, m.country_iso3, m.register_area_code,
       case when coalesce(m.register_area_code, '') = '' then 'not linked' else 'no such register area' end as problem
from {{ ref('ref_members') }} as m
where m.member_kind = 'local_government'
  and (
    (coalesce(m.register_area_code, '') = '' and not coalesce(m.synthetic, false)
     and m.country_iso3 in (select distinct country_iso3 from {{ ref('stg_registers__areas') }}))
    or (coalesce(m.register_area_code, '') <> ''
        and m.register_area_code not in (select area_code from {{ ref('stg_registers__areas') }}))
  )
