{#- The registry datasets whose rows become observations from their entry alone (the one route to
    fct_observation besides the UN, the World Bank and member files): every SDMX and PXWeb dataset, and tabular
    files of observations (shape long or wide). Read from ops.datasets (the registry, mirrored by the pipeline
    before every build) when the model is compiled; at parse time there are none. A dataset whose SELECT failed
    the probe of this build (ops.registry_build_failures) is left out unless include_failed. -#}
{% macro registry_datasets(include_failed=false) %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set query %}
        select source, dataset, connector, raw_table, area_fixed, area_scheme, time_variable, series::text as series,
            area_map, coalesce(series_prefix, source || '.') as series_prefix, series_dimensions::text,
            series_label, disaggregation::text
        from {{ source('ops', 'datasets') }}
        where {{ registry_observation_datasets('') }}
        {% if not include_failed %}
          and not exists (select 1 from {{ source('ops', 'registry_build_failures') }} as f
                          where f.source = datasets.source and f.dataset = datasets.dataset)
        {% endif %}
        order by source, dataset
    {% endset %}
    {% set found = [] %}
    {% for row in run_query(query).rows %}
        {% do found.append({'source': row[0], 'dataset': row[1], 'connector': row[2],
                            'raw_table': row[3].split('.')[-1], 'area_fixed': row[4], 'area_scheme': row[5],
                            'time_variable': row[6], 'series': fromjson(row[7] or '[]'), 'area_map': row[8],
                            'series_prefix': row[9], 'series_dimensions': fromjson(row[10] or '[]'),
                            'series_label': row[11], 'disaggregation': fromjson(row[12] or 'null')}) %}
    {% endfor %}
    {{ return(found) }}
{% endmacro %}

{% macro sql_text(value) -%}
    {%- if value is none -%}null::text{%- else -%}'{{ value | string | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{#- The condition on ops.datasets (alias prefix `p`, e.g. 'd.') that picks the registry-route datasets. -#}
{% macro registry_observation_datasets(p) -%}
    ({{ p }}connector in ('sdmx', 'pxweb')
     or ({{ p }}connector = 'tabular' and {{ p }}shape in ('long', 'wide')))
{%- endmacro %}

{#- The datasets of the registers of local governments (connector register), from ops.datasets (read when the
    model runs; at parse time one, so the model parses on an empty warehouse). -#}
{% macro register_datasets() %}
    {% if not execute %}
        {{ return(['ph_psgc']) }}
    {% endif %}
    {% set query %}
        select dataset from {{ source('ops', 'datasets') }} where connector = 'register' order by dataset
    {% endset %}
    {{ return(run_query(query).columns[0].values() | list) }}
{% endmacro %}
