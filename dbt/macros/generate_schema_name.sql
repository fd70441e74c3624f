{#- Schemas are the published contract (raw, staging, intermediate, marts), so use them as named,
    without dbt's default "<target>_<custom>" prefix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- (custom_schema_name or target.schema) | trim -}}
{%- endmacro %}
