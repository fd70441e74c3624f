{{ config(contract={'enforced': true}) }}

select
    snapshot_id::text as snapshot_id,
    source::text as source,
    dataset::text as dataset,
    dt::date as logical_date,
    source_name::text as source_name,
    base_url::text as source_url,
    fetch_mode::text as fetch_mode,
    retrieved_at::timestamptz as retrieved_at,
    release::text as release,
    data_first_year::integer as data_first_year,
    data_last_year::integer as data_last_year,
    licence::text as licence,
    licence_url::text as licence_url,
    synthetic::boolean as synthetic,
    md5::text as md5,
    bytes::bigint as bytes,
    pages::integer as pages,
    sidecar_path::text as sidecar_path,
    loaded_at::timestamptz as loaded_at
from {{ ref('stg_lgstats__snapshot_origins') }}
