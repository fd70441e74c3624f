"""The marts as analysts and BI tools see them: each mart's description and columns, from the dbt manifest plus
the wide marts' value columns, which dbt/seeds/mart_wide_columns.csv declares (dbt/macros/wide_marts.sql builds
them). Superset's datasets and the tests' list of marts read this, so a new mart or column is declared once."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from lgstats.core.settings import SEEDS_DIR

WIDE_COLUMNS = SEEDS_DIR / "mart_wide_columns.csv"


def wide_columns() -> dict[str, list[dict[str, str]]]:
    """Per wide mart, its declared value columns in their order (column_name, series_code, unit, data_type, …)."""
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    with open(WIDE_COLUMNS, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["mart"]].append(row)
    return {m: sorted(rows, key=lambda r: int(r["position"])) for m, rows in out.items()}


def catalogue(manifest: Path | None = None) -> dict[str, dict]:
    """Each mart (name → description, and columns: name → {description, data_type}). A wide mart's value columns
    follow the columns its YAML lists."""
    if manifest is None:
        from lgstats.pipeline import transforms

        manifest = transforms.ensure_manifest()
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    wide = wide_columns()
    out = {}
    for node in nodes.values():
        if node["resource_type"] != "model" or node["fqn"][1:2] != ["marts"]:
            continue
        columns = {c: {"description": v.get("description") or "", "data_type": v.get("data_type")}
                   for c, v in node["columns"].items()}
        for row in wide.get(node["name"], []):
            columns[row["column_name"]] = {"description": row["description"], "data_type": row["data_type"]}
        out[node["name"]] = {"description": node.get("description") or "", "columns": columns}
    return dict(sorted(out.items()))


def names() -> list[str]:
    return list(catalogue())
