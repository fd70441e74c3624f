-- One city, one country (issue 25, defect 3): no city of a UN Cities breakdown may appear in fct_observation
-- under two countries. int_un_sdg_city_filings holds such rows out; this test fails the build if any get through.
select
    o.series_code,
    substring(o.disaggregation from 'Cities=([^;]+)') as city,
    string_agg(distinct o.area_code, ', ') as areas
from {{ ref('fct_observation') }} as o
where o.source_dataset = 'un_sdg/series_data' and o.disaggregation like '%Cities=%'
group by 1, 2
having count(distinct o.area_code) > 1
