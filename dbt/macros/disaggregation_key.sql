{#- A stable text key for an observation's disaggregation, built from the UN SDG dimensions map:
    "name=code" pairs sorted by name and joined with ";", leaving out totals (BOTHSEX, ALLAGE, ALLAREA,
    _T, NOCITI) and "Reporting Type" (kept in its own column). No breakdown left gives "_T". -#}
{% macro disaggregation_key(dimensions) -%}
    coalesce(
        (select string_agg(d.key || '=' || d.value, ';' order by d.key)
           from jsonb_each_text({{ dimensions }}) as d
          where d.key <> 'Reporting Type'
            and d.value not in ('_T', 'BOTHSEX', 'ALLAGE', 'ALLAREA', 'NOCITI', '_Z')),
        '_T')
{%- endmacro %}
