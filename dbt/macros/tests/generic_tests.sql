{#- Generic tests we would otherwise take from dbt_utils (hub packages cannot be installed offline). -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }} {%- else %} false {%- endif %}
    or
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }} {%- else %} false {%- endif %}
  )
{% endtest %}

{% test row_count_is_zero(model) %}
    {# Fails (or warns) with one row per offending row of the model: "this list should be empty". #}
    select * from {{ model }}
{% endtest %}

{% test expression_is_true(model, expression) %}
    {# Rows for which the SQL expression is not true. #}
    select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}

{% test wide_mart_matches_its_declaration(model) %}
    {#- A wide mart's contract (macros/wide_marts.sql): the built table has exactly the columns its YAML types and
        dbt/seeds/mart_wide_columns.csv declares, each with its declared type; no column is declared twice; and
        the observations of each declared column's series come in the column's declared unit. One row per
        difference, naming the column, where it is declared and what differs. -#}
    {%- set fixed = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == model.identifier -%}
            {%- for c in node.columns.values() if c.data_type -%}{%- do fixed.append(c) -%}{%- endfor -%}
        {%- endfor -%}
    {%- endif %}
with declared as (
    select column_name, data_type, 'dbt/seeds/mart_wide_columns.csv' as declared_in
    from {{ wide_columns_seed() }}
    where mart = {{ sql_text(model.identifier) }}
    {%- for c in fixed %}
    union all select {{ sql_text(c.name) }}, {{ sql_text(c.data_type) }}, 'the model''s YAML'
    {%- endfor %}
),

built as (
    select column_name::text as column_name, data_type::text as data_type
    from information_schema.columns
    where table_schema = {{ sql_text(model.schema) }} and table_name = {{ sql_text(model.identifier) }}
)

select coalesce(d.column_name, b.column_name) as column_name, d.data_type as declared_type,
       b.data_type as built_type, d.declared_in,
       case when b.column_name is null then 'declared, not built'
            when d.column_name is null then 'built, declared nowhere'
            else 'built with another type' end as problem
from declared as d
full join built as b using (column_name)
where d.column_name is null or b.column_name is null or d.data_type <> b.data_type
union all
select column_name, min(data_type), null, string_agg(declared_in, ' and '), 'declared twice'
from declared
group by column_name
having count(*) > 1
union all
select w.column_name, w.unit, f.unit, 'dbt/seeds/mart_wide_columns.csv',
       'series ' || w.series_code || ' has ' || count(*) || ' observation(s) in unit ' || coalesce(f.unit, 'NULL')
from {{ wide_columns_seed() }} as w
inner join {{ ref('fct_observation') }} as f
    on f.series_code = w.series_code and (w.disaggregation = '*' or f.disaggregation = w.disaggregation)
where w.mart = {{ sql_text(model.identifier) }} and f.unit is distinct from w.unit
group by w.column_name, w.unit, f.unit, w.series_code
{% endtest %}
