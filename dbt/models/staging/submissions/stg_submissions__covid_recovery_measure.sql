select
    snapshot_id,
    member_code as submitted_by,
    received_at,
    area_code,
    measure_date::date as measure_date,
    extract(year from measure_date::date)::integer as year,
    measure_type,
    sector,
    description,
    status,
    budget_usd::numeric as budget_usd
from ({{ latest_submission_rows('submissions__covid_recovery_measure', ['measure_date']) }}) as s
