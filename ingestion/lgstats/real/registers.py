"""Replay sidecars for the registers of local governments (``data/replay/registers/<dataset>/``).

The register files there are verbatim copies of the public files the registry entry names (checksums in
``data/real/SHA256SUMS``); this writes the ``_origin.json`` beside them from that entry: the URL of each file
at its pinned commit, its role, licence, vintage and origin.
"""

from __future__ import annotations

from pathlib import Path

from lgstats.connectors.register import spec
from lgstats.real import REPLAY_DIR
from lgstats.registry import source
from lgstats.snapshots import write_recorded

RETRIEVED_AT = {"ph_psgc": "2025-09-30T19:38:40+08:00", "id_kemendagri": "2026-08-08T16:13:19+07:00",
                "jp_localgov": "2026-07-09T10:57:09+09:00"}  # the commit each copy was taken at


def write(out: Path = REPLAY_DIR) -> list[Path]:
    src = source("registers")
    written = []
    for ds in src.datasets:
        sp = spec(ds)
        folder = out / src.name / ds.name
        files = []
        for role, path in sp.files.items():
            name = path.rsplit("/", 1)[-1]
            files.append((name, (folder / name).read_bytes(), f"{src.base_url}/{path}",
                          {"role": role, "retrieved_at": RETRIEVED_AT[ds.name]}))
        written.append(write_recorded(
            folder, files, producer=f"{src.title}: {ds.description}", base_url=src.base_url,
            endpoint=None, licence=sp.licence, licence_url=None, synthetic=False,
            recorded_at=RETRIEVED_AT[ds.name], register_vintage=sp.vintage, origin=sp.origin,
            generator="lgstats.real.registers",
            note="Register files verbatim from the public copy at the pinned commit (URLs below); not edited."))
    return written
