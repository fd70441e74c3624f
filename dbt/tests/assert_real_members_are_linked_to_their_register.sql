-- Issue 25, defect 12: a real member local government of a country that has an official register is that
-- register's area: ref_members.register_area_code must name it (the synthetic demo members name none, on purpose).
select m.member_code, m.member_name, m.country_iso3
from {{ ref('ref_members') }} as m
where m.member_kind = 'local_government'
  and not coalesce(m.synthetic, false)
  and coalesce(m.register_area_code, '') = ''
  and m.country_iso3 in (select distinct country_iso3 from {{ ref('stg_registers__areas') }})
