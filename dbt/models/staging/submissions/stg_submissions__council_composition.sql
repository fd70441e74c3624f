select
    snapshot_id,
    member_code as submitted_by,
    received_at,
    area_code,
    local_government_name,
    election_year::integer as election_year,
    seats_total::integer as seats_total,
    seats_women::integer as seats_women
from ({{ latest_submission_rows('submissions__council_composition', ['election_year']) }}) as s
