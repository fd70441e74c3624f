"""The one unit list (``dbt/seeds/ref_units.csv``) and each source's own codes for it
(``dbt/seeds/map_source_units.csv``).

dbt seeds the same two files and maps every observation's unit with them; the ingestion reads them to refuse,
at validation, a unit code that no row maps, so an unknown unit never reaches the marts as NULL or as a raw
code.
"""

from __future__ import annotations

import csv
from functools import cache

from lgstats.core.settings import PROJECT_DIR, SEEDS_DIR

UNITS_FILE = SEEDS_DIR / "ref_units.csv"
MAP_FILE = SEEDS_DIR / "map_source_units.csv"


def _rows(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def unit_codes() -> tuple[str, ...]:
    """The codes of the list, in its order."""
    return tuple(r["unit_code"] for r in _rows(UNITS_FILE))


@cache
def source_map(source: str) -> dict[str, str]:
    """``source``'s own unit codes → codes of the list."""
    return {r["source_unit"]: r["unit_code"] for r in _rows(MAP_FILE) if r["source"] == source}


def known(source: str) -> list[str]:
    """Every unit code a snapshot of ``source`` may carry: the list's codes and the source's mapped codes."""
    return sorted({*unit_codes(), *source_map(source)})


def unit_code(source: str, unit: str) -> str | None:
    """The list's code for ``source``'s unit ``unit``, or None when neither file knows it."""
    return unit if unit in unit_codes() else source_map(source).get(unit)


def fix(source: str) -> str:
    """What to do about an unknown unit of ``source``, for validation reports and registry errors."""
    return (f"map the unit: add a row ({source}, <its code>, <a code of the list>, <evidence>) to "
            f"{MAP_FILE.relative_to(PROJECT_DIR)}, or a code to {UNITS_FILE.relative_to(PROJECT_DIR)} "
            f"(codes now: {', '.join(unit_codes())})")
