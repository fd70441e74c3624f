"""Replay snapshots rebuilt from real public bulk files (``data/real/``), in the exact formats of the APIs.

Each builder reads one real file set, keeps its values verbatim, writes them as the API's pages and records
in the sidecar where every value came from (repository, commit, licence) and that the pages were rebuilt
from a bulk export rather than recorded from an HTTP response. Nothing here invents a value: what the real
files do not hold is left out, and the sidecar says what is missing and why.

Run ``python -m lgstats.devdata.real`` to rebuild every real replay folder; the output is committed in
``data/replay/`` and a test rebuilds it and compares.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lgstats.core.settings import PROJECT_DIR

REAL_DIR = PROJECT_DIR / "data" / "real"
REPLAY_DIR = PROJECT_DIR / "data" / "replay"


def asia_pacific_areas() -> list[dict]:
    """The M49 areas the registry asks the sources for (dbt/seeds/ref_m49_areas.csv): countries and regions."""
    from lgstats.pipeline.registry import SEEDS_DIR

    with open(SEEDS_DIR / "ref_m49_areas.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_csv(path: Path, **kwargs) -> list[dict]:
    with open(path, newline="", encoding=kwargs.pop("encoding", "utf-8-sig")) as fh:
        return list(csv.DictReader(fh, **kwargs))
