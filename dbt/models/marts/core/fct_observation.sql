{{ config(contract={'enforced': true}) }}

select
    md5(concat_ws('|', series_code, area_code, year, period, disaggregation, reporting_type, unit))::text
        as observation_id,
    series_code::text as series_code,
    area_code::text as area_code,
    year::integer as year,
    period::text as period,
    disaggregation::text as disaggregation,
    reporting_type::text as reporting_type,
    value::numeric as value,
    value_text::text as value_text,
    value_qualifier::text as value_qualifier,
    unit::text as unit,
    nature::text as nature,
    source_name::text as source_name,
    snapshot_id::text as snapshot_id
from {{ ref('int_observations_unioned') }}
