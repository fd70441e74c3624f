"""Replay sidecars for the tabular sources (``data/replay/<source>/<dataset>/``): twin-town lists, the IMF Fiscal
Decentralization Dataset, OxCGRT and OWID's women-in-local-government export.

Each file there is a verbatim copy of the public file its registry entry names (``file``, pinned to a commit);
this writes the ``_origin.json`` beside it from that entry: the URL at the commit, the licence, the origin and
the date the publisher released or the copy was taken (``RETRIEVED_AT``), never the date of the rebuild.
"""

from __future__ import annotations

from pathlib import Path

from lgstats.devdata.real import REPLAY_DIR
from lgstats.pipeline.connectors.tabular import spec
from lgstats.pipeline.registry import sources
from lgstats.pipeline.snapshots import write_recorded

# when each public copy was taken: OWID's download date, else the commit the copy was read at
RETRIEVED_AT = {"twinning": "2026-02-08T00:00:00+00:00", "imf_fd": "2019-10-13T00:00:00+00:00",
                "oxcgrt": "2023-06-26T00:00:00+00:00", "owid": "2024-12-12T00:00:00+00:00"}
NOTES = {
    "imf_fd": "Verbatim copy of the IMF Fiscal Decentralization Dataset (latest update 2018-12-20) at the pinned "
              "commit; its indicator definitions are in data/real/imf_fd/fiscal_decentralization_metadata.csv. "
              "IMF terms of use: free use with attribution, not an open licence.",
    "oxcgrt": "Verbatim copy of the OxCGRT v1 final release file at the pinned commit; the load keeps the "
              "Asia-Pacific jurisdictions (keep_rows).",
    "twinning": "Verbatim copy of Hekman/twincities' scrape of English Wikipedia's twin-town pages (Feb 2026); "
                "CC BY-SA 4.0, attribute Wikipedia (the geocoded file's coordinates: Wikipedia API, Nominatim/OSM).",
    "owid": "Verbatim copy of OWID's chart export (downloaded 2024-12-12 by the copying repository, first commit; "
            "deleted there later). Metadata and OWID's README beside it in data/real/owid/.",
}


def write(out: Path = REPLAY_DIR) -> list[Path]:
    written = []
    for src in sources().values():
        if src.connector != "tabular":
            continue
        for ds in src.datasets:
            sp = spec(ds)
            folder = out / src.name / ds.name
            name = sp.file.rsplit("/", 1)[-1]
            when = RETRIEVED_AT[src.name]
            written.append(write_recorded(
                folder, [(name, (folder / name).read_bytes(), f"{src.base_url}/{sp.file}", {"retrieved_at": when})],
                producer=f"{src.title}: {ds.description}", base_url=src.base_url, endpoint=sp.file,
                licence=sp.licence or src.licence, licence_url=src.licence_url, synthetic=False, recorded_at=when,
                origin=sp.origin, generator="lgstats.devdata.real.tabular", note=NOTES[src.name]))
    return written
