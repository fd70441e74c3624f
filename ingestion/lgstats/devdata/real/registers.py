"""Replay sidecars for the registers of local governments (``data/replay/registers/<dataset>/``).

The register files there are verbatim copies of the public files the registry entry names (checksums in
``data/real/SHA256SUMS``); this writes the ``_origin.json`` beside them from that entry: the URL of each file
at its pinned commit, its role, licence, vintage and origin.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from lgstats.devdata.real import REPLAY_DIR
from lgstats.pipeline.connectors.register import spec
from lgstats.pipeline.registry import source
from lgstats.pipeline.snapshots import write_recorded

# the commit each copy was taken at; for the four added in 2026-12, the data's own date as the source states it
# (shared/reference/real/README.md §9: the commit times of those copies are not recorded there)
RETRIEVED_AT = {"ph_psgc": "2025-09-30T19:38:40+08:00", "id_kemendagri": "2026-08-08T16:13:19+07:00",
                "jp_localgov": "2026-07-09T10:57:09+09:00", "in_lgd": "2022-12-14T00:00:00+05:30",
                "th_provinces": "2025-09-20T06:31:26+07:00", "vn_gso": "2025-03-01T00:00:00+07:00",
                "kr_mois": "2020-10-01T00:00:00+09:00"}


def write(out: Path = REPLAY_DIR) -> list[Path]:
    src = source("registers")
    written = []
    for ds in src.datasets:
        sp = spec(ds)
        folder = out / src.name / ds.name
        files = []
        for role, path in sp.files.items():
            name = unquote(path.rsplit("/", 1)[-1])
            files.append((name, (folder / name).read_bytes(), f"{src.base_url}/{path}",
                          {"role": role, "retrieved_at": RETRIEVED_AT[ds.name]}))
        written.append(write_recorded(
            folder, files, producer=f"{src.title}: {ds.description}", base_url=src.base_url,
            endpoint=None, licence=sp.licence, licence_url=None, synthetic=False,
            recorded_at=RETRIEVED_AT[ds.name], register_vintage=sp.vintage, origin=sp.origin,
            generator="lgstats.devdata.real.registers",
            note="Register files verbatim from the public copy at the pinned commit (URLs below); not edited."))
    return written
