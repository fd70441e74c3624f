select
    snapshot_id,
    member_code as submitted_by,
    received_at,
    lga_code,
    lga_name,
    country_iso3,
    year::integer as year,
    member_local_governments::integer as member_local_governments,
    local_governments_total::integer as local_governments_total,
    services
from ({{ latest_submission_rows('submissions__lga_profile', ['year']) }}) as s
