-- Issue 25, defect 5: a local government of a register sits in a province of that register, unless the register
-- has none above it there and parent_resolution says why (NCR, independent cities); and a parent always exists.
select a.register, a.area_code, a.area_name, a.parent_area_code, p.area_level as parent_level
from {{ ref('stg_registers__areas') }} as a
left join {{ ref('stg_registers__areas') }} as p on p.register = a.register and p.area_code = a.parent_area_code
where a.register = 'ph_psgc' and a.area_level = 'local_government'
  and (p.area_code is null or (p.area_level <> 'province' and a.parent_resolution is null))
