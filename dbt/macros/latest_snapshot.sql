{#- Each UN SDG / national-source snapshot is a complete pull: staging reads only the newest one
    loaded for the dataset, so older snapshots stay in raw as history without doubling rows. "Newest" is
    decided once, in the ops.observation_snapshots view (ingestion/lgstats/pipeline/schema.py). -#}
{% macro latest_snapshot_id(source_name, dataset) -%}
    (select o.snapshot_id
       from {{ source('ops', 'observation_snapshots') }} as o
      where o.source_dataset = '{{ source_name }}/{{ dataset }}')
{%- endmacro %}
