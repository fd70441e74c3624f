{#- Schema-level grants, run by the owner role (lgstats_pipeline) after every build. The roles themselves,
    their passwords, connection limits and timeouts are the warehouse's (ingestion/lgstats/core/access.py):
    lgstats_bi reads marts only; lgstats_analyst reads marts, staging, ops and intermediate.int_areas_unmapped. -#}
{% macro grant_schema_usage() %}
    {% set sql %}
    create schema if not exists raw;
    create schema if not exists staging;
    create schema if not exists intermediate;
    create schema if not exists marts;
    create schema if not exists ops;
    create schema if not exists quarantine;
    grant usage on schema marts to lgstats_bi, lgstats_analyst;
    grant usage on schema staging, ops to lgstats_analyst;
    grant select on all tables in schema ops to lgstats_analyst;
    alter default privileges in schema ops grant select on tables to lgstats_analyst;
    revoke all on schema raw, intermediate, quarantine from lgstats_bi, lgstats_analyst;
    -- the analyst may see into intermediate, and read there only the models that grant it (int_areas_unmapped)
    grant usage on schema intermediate to lgstats_analyst;
    {% endset %}
    {% do run_query(sql) %}
{% endmacro %}
