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
        {{ snapshot_id_list(column, observation_snapshot_ids('dataset_changed')) }}
    {%- endif -%}
{%- endmacro %}

{#- The snapshot ids of ops.observation_snapshots meeting `condition` (`changed`, `dataset_changed`). -#}
{% macro observation_snapshot_ids(condition) -%}
    {%- do return(run_query("select snapshot_id from " ~ source('ops', 'observation_snapshots')
                            ~ " where " ~ condition).columns[0].values()) -%}
{%- endmacro %}

{#- The snapshot ids of the batch fct_observation published last. -#}
{% macro last_published_snapshot_ids() -%}
    {%- set published = source('ops', 'published_snapshots') -%}
    {%- do return(run_query("select snapshot_id from " ~ published ~ " where published_at = "
                            ~ "(select max(published_at) from " ~ published ~ ")").columns[0].values()) -%}
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
        {%- set batch = last_published_snapshot_ids() -%}
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
    {%- if not where -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- if '__changed_snapshots__' in where -%}
        {%- if not execute -%}
            {%- set ids = [] -%}
        {%- elif relation.schema == 'marts' -%}  {#- tested after fct_observation published this batch -#}
            {%- set ids = last_published_snapshot_ids() -%}
        {%- else -%}  {#- staging and intermediate: tested before, so the new snapshots are not published yet -#}
            {%- set ids = observation_snapshot_ids('changed') -%}
        {%- endif -%}
        {%- set where = where | replace('__changed_snapshots__', snapshot_id_list('snapshot_id', ids)) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ where }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}
