{#- One registry dataset's observations (the SELECT the model unions): also run on its own by
    probe_registry_datasets, so that one dataset whose entry cannot build is named and left out instead of
    failing the union and every mart after it (issue 24). -#}
{% macro registry_branch(d) %}
{% set rel = api.Relation.create(database=target.database, schema='raw', identifier=d['raw_table']) %}
{% set coded = d['connector'] in ('sdmx', 'tabular') %}
{% set time_text = "r.time_period" if coded else "r.labels ->> " ~ sql_text(d['time_variable']) %}
{% set map_key = "source_code" if coded else "source_label" %}
{% set source_key = "r.area_source_code" if coded else "r.area_label_clean" %}
select
    {#- no measure dimension: the one series the entry declares, else the dataset's name, is the measure -#}
    {% set only_measure = d['series'][0]['code'] if d['series'] | length == 1 else d['dataset'] %}
    {#- the series code: the prefix and the measure, or the codes of the entry's series_dimensions joined by '.' -#}
    {% if d['series_dimensions'] %}
    {{ sql_text(d['series_prefix']) }} || {% for dim in d['series_dimensions'] -%}
        coalesce(r.dimensions ->> {{ sql_text(dim) }}, '')
        {%- if not loop.last %} || '.' || {% endif %}{% endfor %} as series_code,
    {% else %}
    {{ sql_text(d['series_prefix']) }} || coalesce(r.measure, {{ sql_text(only_measure) }}) as series_code,
    {% endif %}
    {% if d['area_fixed'] %}{{ sql_text(d['area_fixed']) }}{% elif d['area_map'] %}m.area_code{% else %}m.m49_code{% endif %}
        as area_code,
    {% if d['area_fixed'] %}true{% elif d['area_map'] %}m.{{ map_key }} is not null{% else %}m.m49_code is not null{% endif %}
        as area_listed,
    {{ source_key }} as area_source_code,
    r.year,
    {#- a period finer than a year (2023-Q2, 2023-07, 2023M07); '2021p' (preliminary) is the year 2021 -#}
    case when {{ time_text }} ~ '^[0-9]{4}(-|[MQKSWH][0-9])' then {{ time_text }} end as period,
    {% if d['disaggregation'] %}
    {% set dim = d['disaggregation']['dimension'] %}
    case r.dimensions ->> {{ sql_text(dim) }} when {{ sql_text(d['disaggregation']['total']) }} then '_T'
        else {{ sql_text(dim ~ '=') }} || (r.dimensions ->> {{ sql_text(dim) }}) end as disaggregation,
    {% else %}
    '_T' as disaggregation,
    {% endif %}
    r.value,
    {% if d['connector'] == 'tabular' %}r.value_text{% else %}r.value::text{% endif %} as value_text,
    {% if coded %}r.obs_status{% else %}r.status{% endif %} as value_qualifier,
    {% set published_unit = "r.unit_measure" if coded else "r.unit" %}
    {% set declared = d['series'] | selectattr('unit') | list %}
    {% if declared %}
    case coalesce(r.measure, {{ sql_text(only_measure) }})
        {% for s in declared %}when {{ sql_text(s['code']) }} then {{ sql_text(s['unit']) }}
        {% endfor %}else {{ published_unit }}
    end{% else %}{{ published_unit }}{% endif %} as unit,
    {% if d['connector'] == 'tabular' %}r.series_name{% elif d['series_label'] %}{{ series_label_sql(d['series_label']) }}
    {%- else %}null::text{% endif %} as series_name,
    r.snapshot_id,
    {{ sql_text(d['source'] ~ '/' ~ d['dataset']) }} as source_dataset,
    coalesce(r.measure, {{ sql_text(only_measure) }}) as source_series_code
from {{ rel }} as r
{% if d['area_map'] %}
left join {{ api.Relation.create(database=target.database, schema='staging', identifier=d['area_map']) }} as m
    on m.{{ map_key }} = {{ source_key }}
{% elif not d['area_fixed'] %}
left join {{ ref('ref_m49_areas') }} as m
    on {% if d['area_scheme'] == 'iso3' %}m.country_iso3 = r.area_source_code
       {%- else %}m.m49_code = lpad(r.area_source_code, 3, '0'){% endif %}
{% endif %}
where r.snapshot_id = {{ latest_snapshot_id(d['source'], d['dataset']) }}
{% endmacro %}

{#- Run each registry dataset's SELECT on its own before the intermediate layer; a dataset whose SELECT fails
    is written to ops.registry_build_failures (with PostgreSQL's message), and registry_datasets() leaves it out
    of this build. The pipeline (lgstats/pipeline/registry_probe.py) reports it and fails the run at its end. -#}
{% macro probe_registry_datasets() %}
    {% do run_query("delete from ops.registry_build_failures") %}
    {% for d in registry_datasets(include_failed=true) %}
        {% set probe %}
            do $probe$
            begin
                perform count(*) from (
                    {{ registry_branch(d) }}
                ) as branch;
            exception when others then
                insert into ops.registry_build_failures (source, dataset, error)
                values ({{ sql_text(d['source']) }}, {{ sql_text(d['dataset']) }}, sqlerrm);
            end $probe$
        {% endset %}
        {% do run_query(probe) %}
    {% endfor %}
    {% do run_query("commit") %}
{% endmacro %}

{#- An entry's series_label ("SNG-WOFI: {MEASURE} ({UNIT_MEASURE})") as SQL: each {DIMENSION} the label the data
    carry for the row's code of that dimension, or the code where the data carry no label. -#}
{% macro series_label_sql(template) -%}
    {%- set parts = modules.re.split('{([^{}]+)}', template) -%}
    ({%- for part in parts -%}
        {%- if loop.index0 % 2 == 1 -%}
            coalesce(r.labels ->> {{ sql_text(part) }}, r.dimensions ->> {{ sql_text(part) }})
        {%- else -%}
            {{ sql_text(part) }}
        {%- endif -%}
        {%- if not loop.last %} || {% endif -%}
    {%- endfor -%})
{%- endmacro %}
