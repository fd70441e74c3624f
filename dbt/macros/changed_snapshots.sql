{#- Incremental work in proportion to the change (docs/architecture.md, "Incremental work").

    changed_snapshot_filter(column): for an incremental build, `column in ('<id>', ...)` listing every
    snapshot of each source dataset with something new (ops.observation_snapshots), or `false` when nothing
    is new. The ids are literals, read when the model runs, so PostgreSQL pushes the filter into every branch
    of the observation union down to the raw tables' snapshot_id index: an unchanged 10M-row source costs an
    index probe, not a scan. For a full build: `true`. -#}
{% macro changed_snapshot_filter(column) -%}
    {%- if not (execute and is_incremental()) -%}
        true
    {%- else -%}
        {%- set ids = run_query(
            "select snapshot_id from " ~ source('ops', 'observation_snapshots') ~ " where source_dataset in ("
            ~ "select source_dataset from " ~ source('ops', 'observation_snapshots') ~ " where changed)"
        ).columns[0].values() -%}
        {{ snapshot_id_list(column, ids) }}
    {%- endif -%}
{%- endmacro %}

{% macro snapshot_id_list(column, ids) -%}
    {%- if ids | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for i in ids %}'{{ i | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#- published_series_filter(column): for an incremental mart built on fct_observation, `column in (...)` listing
    the series of the batch fct_observation just published (read from the union, where the snapshot filter
    reaches the raw tables' index), or `false` when that batch is empty. For a full build: `true`. A model using
    it declares `-- depends_on: {{ ref('int_observations_unioned') }}`. -#}
{% macro published_series_filter(column) -%}
    {%- if not (execute and is_incremental()) -%}
        true
    {%- else -%}
        {%- set batch = run_query(
            "select snapshot_id from " ~ source('ops', 'published_snapshots') ~ " where published_at = "
            ~ "(select max(published_at) from " ~ source('ops', 'published_snapshots') ~ ")"
        ).columns[0].values() -%}
        {%- if batch | length == 0 -%}
            false
        {%- else -%}
            {%- set series = run_query(
                "select distinct series_code from " ~ ref('int_observations_unioned') ~ " where "
                ~ snapshot_id_list('snapshot_id', batch)
            ).columns[0].values() -%}
            {{ snapshot_id_list(column, series) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- fct_observation's post-hook: what this build published. A full build (first build, --full-refresh)
    starts the record afresh, so its tests check every row. -#}
{% macro record_published_snapshots() -%}
    {%- if not is_incremental() -%}
    delete from {{ source('ops', 'published_snapshots') }};
    {%- endif %}
    insert into {{ source('ops', 'published_snapshots') }} (snapshot_id, loaded_at)
    select snapshot_id, loaded_at from {{ source('ops', 'observation_snapshots') }} where changed
    on conflict do nothing
{%- endmacro %}

{#- Tests: a test configured with `where: "__changed_snapshots__"` checks only this build's new rows: on a
    staging or intermediate model (tested before fct_observation is rebuilt) the snapshots not yet published,
    on a mart (tested after) the batch fct_observation's post-hook just published. Work in proportion to the
    change; a full build re-checks everything. Overrides dbt's get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__changed_snapshots__' in where -%}
        {%- if execute -%}
            {%- if relation.schema == 'marts' -%}  {#- built after fct_observation published this batch -#}
                {%- set ids_sql = "select snapshot_id from " ~ source('ops', 'published_snapshots')
                    ~ " where published_at = (select max(published_at) from "
                    ~ source('ops', 'published_snapshots') ~ ")" -%}
            {%- else -%}  {#- staging and intermediate: before it, so the new snapshots are not published yet -#}
                {%- set ids_sql = "select snapshot_id from " ~ source('ops', 'observation_snapshots')
                    ~ " where changed" -%}
            {%- endif -%}
            {%- set ids = run_query(ids_sql).columns[0].values() -%}
        {%- else -%}
            {%- set ids = [] -%}
        {%- endif -%}
        {%- set where = where | replace('__changed_snapshots__', snapshot_id_list('snapshot_id', ids)) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- elif where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
