{#- Each UN SDG / national-source snapshot is a complete pull: staging reads only the newest one
    loaded for the dataset, so older snapshots stay in raw as history without doubling rows. -#}
{% macro latest_snapshot_id(source_name, dataset) -%}
    (select o.snapshot_id
       from {{ source('lgstats', 'snapshot_origins') }} as o
      where o.source = '{{ source_name }}' and o.dataset = '{{ dataset }}'
      order by o.dt desc, o.loaded_at desc
      limit 1)
{%- endmacro %}
