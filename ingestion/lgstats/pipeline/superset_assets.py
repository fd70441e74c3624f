"""The Superset dashboards as files (bi/superset/assets, Superset's export format plus our keys): a chart names its
dataset and the dashboard it stands on; uuids come from names; a dashboard's layout is made from its charts. No
Superset and no warehouse here: `lgstats bi` bundles these for import, the dbt exposures are made from them."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

from lgstats.core.settings import PROJECT_DIR

ASSETS = PROJECT_DIR / "bi" / "superset" / "assets"
NAMESPACE = uuid.UUID("6f1c7d2e-4b8a-5e21-9d3c-1a2b3c4d5e6f")  # stable uuids: re-imports overwrite, never duplicate


def stable_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def _chart(path: Path) -> dict:
    """A chart file as written: Superset's export format plus `dataset:` (its dataset's name) and `dashboard:`
    (slug, row, and optionally column: where it stands). Its uuid comes from the file name unless it gives one."""
    chart = yaml.safe_load(path.read_text())
    chart.setdefault("uuid", stable_uuid("chart", path.stem))
    return chart


def chart_with_dataset_uuid(path: Path, known: set[str]) -> dict:
    """A chart file names its dataset (a mart, or a virtual dataset of assets/datasets/); Superset's bundle wants
    the dataset's uuid, which is derived from that name here, never computed by hand."""
    chart = _chart(path)
    name = chart.pop("dataset", None)
    chart.pop("dashboard", None)
    uuid_ = stable_uuid("dataset", str(name))
    if uuid_ not in known:
        raise ValueError(f"{path}: dataset {name!r} is neither a mart nor a file of {ASSETS / 'datasets'}; "
                         "fix the chart's `dataset:` line")
    return {**chart, "dataset_uuid": uuid_}


def placements(chart: dict) -> list[dict]:
    """Where a chart stands: its `dashboard:` is one placement ({slug, row, column, height}) or a list of them
    (a chart on several dashboards, such as the data release)."""
    where = chart.get("dashboard") or []
    return where if isinstance(where, list) else [where]


def placed_charts(slug: str) -> list[tuple[str, dict, dict]]:
    """The charts placed on this dashboard, with their placement there, in (row, column, file name) order."""
    placed = []
    for path in sorted((ASSETS / "charts").glob("*.yaml")):
        chart = _chart(path)
        for where in placements(chart):
            if where.get("slug") == slug:
                placed.append(((int(where.get("row", 99)), int(where.get("column", 99)), path.stem), path.stem,
                               chart, where))
    return [(stem, chart, where) for _, stem, chart, where in sorted(placed, key=lambda t: t[0])]


def dashboard_position(board: dict) -> dict:
    """Superset's layout of a dashboard, made from the charts that name it: one ROW per `row`, the row's charts
    side by side sharing the 12 columns. A new chart takes its place by naming the dashboard, no layout edit."""
    slug = board["slug"]
    position: dict = {"DASHBOARD_VERSION_KEY": "v2",
                      "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
                      "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
                      "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": board["dashboard_title"]}}}
    rows: dict[int, list[tuple[str, dict, dict]]] = {}
    for stem, chart, where in placed_charts(slug):
        rows.setdefault(int(where.get("row", 99)), []).append((stem, chart, where))
    for i, (_, members) in enumerate(sorted(rows.items())):
        row_id = f"ROW-{slug}-{i}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [f"CHART-{stem}" for stem, _, _ in members],
                            "parents": ["ROOT_ID", "GRID_ID"], "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for stem, chart, where in members:
            position[f"CHART-{stem}"] = {
                "type": "CHART", "id": f"CHART-{stem}", "children": [], "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {"width": 12 // len(members), "height": int(where.get("height", 60)), "chartId": 0,
                         "uuid": chart["uuid"],
                         "sliceName": chart["slice_name"]}}
    return position


def dashboard_marts() -> dict[str, dict]:
    """Each Superset dashboard (by slug): its title, description and the marts its charts read (a virtual
    dataset reads the mart it is `based_on`; one based on no mart, such as the data release, adds none). The dbt
    exposures are made from this (lgstats.pipeline.generated_files)."""
    based_on = {p.stem: yaml.safe_load(p.read_text()).get("based_on") for p in (ASSETS / "datasets").glob("*.yaml")}
    boards = [yaml.safe_load(path.read_text()) for path in sorted((ASSETS / "dashboards").glob("*.yaml"))]
    slugs = {b["slug"] for b in boards}
    for path in sorted((ASSETS / "charts").glob("*.yaml")):
        for where in placements(_chart(path)):
            slug = where.get("slug")
            if slug is not None and slug not in slugs:
                raise ValueError(f"{path}: dashboard {slug!r} is not the slug of a file of {ASSETS / 'dashboards'} "
                                 f"({', '.join(sorted(slugs))}); fix the chart's `dashboard:` line")
    out = {}
    for board in boards:
        used = {based_on.get(chart["dataset"], chart["dataset"]) for _, chart, _ in placed_charts(board["slug"])}
        used.discard(None)
        out[board["slug"]] = {"title": board["dashboard_title"], "description": board.get("description", ""),
                              "marts": sorted(used)}
    return out
