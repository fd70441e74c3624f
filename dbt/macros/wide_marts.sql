{#- Wide marts declared as data (issue 26): dbt/seeds/mart_wide_columns.csv says, per mart, each value column,
    the series it holds (with its disaggregation; '*' = any), unit, SQL type and aggregation, in the
    mart's column order (`position`), and its description. These macros make the mart's filter, pivot,
    provenance, typed select and column comments from it, so a new column is one row of the seed; the generic
    test `wide_mart_matches_its_declaration` (macros/tests) is the mart's contract.
    The seed is read when the model runs (it is built first: the model refs it); at parse time there are none. -#}
{% macro wide_columns(mart, with_descriptions=false) %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set query %}
        select column_name, series_code, disaggregation, unit, data_type, aggregation,
               {{ 'description' if with_descriptions else 'null' }}
        from {{ ref('mart_wide_columns') }} where mart = {{ sql_text(mart) }} order by position
    {% endset %}
    {% set found = [] %}
    {% for row in run_query(query).rows %}
        {% do found.append({'column': row[0], 'series': row[1], 'disaggregation': row[2], 'unit': row[3],
                            'data_type': row[4], 'aggregation': row[5], 'description': row[6]}) %}
    {% endfor %}
    {{ return(found) }}
{% endmacro %}

{#- The rows of fct_observation one declared column holds (alias prefix `p`, e.g. 'f.'). -#}
{% macro wide_match(c, p='') -%}
    ({{ p }}series_code = {{ sql_text(c['series']) }}
     {%- if c['disaggregation'] != '*' %} and {{ p }}disaggregation = {{ sql_text(c['disaggregation']) }}{% endif %})
{%- endmacro %}

{#- Every declared column's rows: the WHERE of the mart's source rows. -#}
{% macro wide_filter(columns, p='') -%}
    ({% for c in columns %}{{ wide_match(c, p) }}{% if not loop.last %} or {% endif %}{% else %}false{% endfor %})
{%- endmacro %}

{#- The pivot: one aggregated value per declared column, then `snapshot_ids` (column → the snapshot its value
    came from; columns without a value are left out). -#}
{% macro wide_pivot(columns) -%}
    {% for c in columns %}
    {{ c['aggregation'] }}(value) filter (where {{ wide_match(c) }}) as {{ adapter.quote(c['column']) }},
    {% endfor %}
    jsonb_strip_nulls(jsonb_build_object(
        {% for c in columns %}
        {{ sql_text(c['column']) }}, max(snapshot_id) filter (where {{ wide_match(c) }}){{ ',' if not loop.last }}
        {% endfor %}
    )) as snapshot_ids
{%- endmacro %}

{#- The typed select of the declared columns from the pivot (alias `p`), in the seed's order. -#}
{% macro wide_select(columns, p='p.') -%}
    {% for c in columns %}
    {{ p }}{{ adapter.quote(c['column']) }}::{{ c['data_type'] }} as {{ adapter.quote(c['column']) }},
    {% endfor %}
{%- endmacro %}

{#- The declared columns of one unit, as a coalesce() argument list (`null` when there are none). -#}
{% macro wide_columns_of_unit(columns, unit, p='') -%}
    {%- set names = [] -%}
    {%- for c in columns if c['unit'] == unit %}{% do names.append(p ~ adapter.quote(c['column'])) %}{% endfor -%}
    {{ names | join(', ') if names else 'null' }}
{%- endmacro %}

{#- Post-hook: the seed's description of each declared column as the column's comment (persist_docs writes those
    of the YAML's columns), so BI tools and `\d+` show them too. -#}
{% macro wide_column_comments(relation) %}
    {% for c in wide_columns(relation.identifier, with_descriptions=true) %}
    comment on column {{ relation }}.{{ adapter.quote(c['column']) }} is {{ sql_text(c['description']) }};
    {% endfor %}
{% endmacro %}

{#- The seed's table, for the tests that hold marts to it. Not ref(): a test with the seed and a mart as parents
    would run in the seed's layer (Cosmos renders one task group per layer), before the mart exists. The seed
    is built in the staging layer, long before any mart test. -#}
{% macro wide_columns_seed() %}
    {%- if not execute -%}{{ return('(select null)') }}{%- endif -%}
    {%- set seed = graph.nodes['seed.' ~ project_name ~ '.mart_wide_columns'] -%}
    {{ return(api.Relation.create(database=seed.database, schema=seed.schema, identifier=seed.alias)) }}
{% endmacro %}
