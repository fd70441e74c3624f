{#- Roles the project manages (design: warehouse layout). lgstats_bi reads marts only (BI tools);
    lgstats_analyst reads marts, staging and ops. Both log in; their passwords, where the server
    asks for one, are set by an operator (ALTER ROLE ... PASSWORD), never here. -#}
{% macro ensure_roles() %}
    {% set sql %}
    do $$
    begin
        if not exists (select from pg_roles where rolname = 'lgstats_bi') then
            create role lgstats_bi login;
        end if;
        if not exists (select from pg_roles where rolname = 'lgstats_analyst') then
            create role lgstats_analyst login;
        end if;
    exception when duplicate_object or unique_violation then null;  -- another build created it first
    end $$;
    alter role lgstats_bi set default_transaction_read_only = on;
    alter role lgstats_analyst set default_transaction_read_only = on;
    {% endset %}
    {% do run_query(sql) %}
{% endmacro %}

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
    {% endset %}
    {% do run_query(sql) %}
{% endmacro %}
