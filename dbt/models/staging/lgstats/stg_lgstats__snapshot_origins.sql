-- A table, not a view: `origin` holds the whole sidecar (one entry per fetched page, thousands at scale), and
-- a view would re-read and decompress it for every observation joined to it (150 s per 1M rows, measured).
{{ config(materialized='table') }}

select
    snapshot_id,
    source,
    dataset,
    dt,
    coalesce(origin ->> 'source_title', producer) as source_title,
    coalesce(origin ->> 'source_title', producer)
        || case when synthetic then ' (synthetic: not real statistics)' else '' end as source_name,
    producer,
    base_url,
    origin -> 'files' -> 0 ->> 'url' as first_file_url,  -- the first file's own URL (the request made)
    origin ->> 'mode' as fetch_mode,
    licence,
    licence_url,
    synthetic,
    retrieved_at,
    origin ->> 'release' as release,  -- the source's release where the snapshot names it (UN SDG 2020 release)
    data_first_year,
    data_last_year,
    md5,
    bytes,
    pages,
    sidecar_path,
    loaded_at
from {{ source('lgstats', 'snapshot_origins') }}
