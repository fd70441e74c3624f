{#- A member's newer file for the same template and period supersedes the older one: keep, per member and
    period, the rows of the latest submission. Older versions stay in raw as history. -#}
{% macro latest_submission_rows(table, period_columns) -%}
    select *
    from (
        select
            r.*,
            dense_rank() over (
                partition by r.member_code{% for c in period_columns %}, r.{{ c }}{% endfor %}
                order by r.received_at desc, r.snapshot_id desc
            ) as version_rank
        from {{ source('submissions', table) }} as r
    ) as versions
    where version_rank = 1
{%- endmacro %}
