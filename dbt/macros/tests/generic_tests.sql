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
