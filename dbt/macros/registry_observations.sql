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
    {{ sql_text(d['series_prefix']) }} || coalesce(r.measure, {{ sql_text(only_measure) }}) as series_code,
    {% if d['area_fixed'] %}{{ sql_text(d['area_fixed']) }}{% elif d['area_map'] %}m.area_code{% else %}m.m49_code{% endif %}
        as area_code,
    {% if d['area_fixed'] %}true{% elif d['area_map'] %}m.{{ map_key }} is not null{% else %}m.m49_code is not null{% endif %}
        as area_listed,
    {{ source_key }} as area_source_code,
    r.year,
    case when {{ time_text }} ~ '^[0-9]{4}$' then null else {{ time_text }} end as period,
    '_T' as disaggregation,
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
    {% if d['connector'] == 'tabular' %}r.series_name{% else %}null::text{% endif %} as series_name,
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
    of this build. The pipeline (lgstats/registry_probe.py) reports it and fails the run at its end. -#}
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
