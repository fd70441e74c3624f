select
    snapshot_id,
    member_code as submitted_by,
    received_at,
    area_code,
    indicator_code,
    indicator_name,
    year::integer as year,
    value::numeric as value,
    value as value_text,
    unit,
    source as data_source
from ({{ latest_submission_rows('submissions__local_indicator', ['year']) }}) as s
