"""PXWeb v1 (PSA OpenSTAT and other statistics offices): GET metadata, POST query, JSON-stat 2.0 back.

Quirks (sources.md §6): PSA's firewall blocks ``filter: "all"`` (HTTP 403), so every selection is sent as an
explicit ``item`` list, expanded from the table's metadata when the registry says ``"*"``; PSA has answered
``json-stat2`` with one value where hundreds were due, so the cell count must equal the product of the
selection sizes (retried, then refused); geography labels carry leading dots and footnote marks
(``....Cebu /a``) and no codes, so areas are matched on cleaned labels through a mapping file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from lgstats.pipeline import units
from lgstats.pipeline.http import ApiError, Deadline, ResponseError, request_checked, source_session
from lgstats.pipeline.registry_model import Dataset, ObservationKeys, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
    ("table_id", "text not null"),
    ("cell_key", "text not null"),
    ("area_source_code", "text"),
    ("area_label", "text"),
    ("area_label_clean", "text"),
    ("area_depth", "integer"),
    ("measure", "text"),
    ("measure_label", "text"),
    ("time_code", "text"),
    ("year", "integer"),
    ("value", "numeric"),
    ("status", "text"),
    ("unit", "text"),
    ("dimensions", "jsonb not null"),
    ("labels", "jsonb not null"),
]
FOOTNOTE = re.compile(r"(?:(?:\s+|\s*,\s*)(?:[a-z]?\d*/[a-z0-9]*|r\d+))+\s*$", re.IGNORECASE)


class DatasetSpec(ObservationKeys):
    """The PXWeb keys of a registry dataset (besides the common ones); any other key is refused at load."""

    table: str
    selection: dict[str, str | list[str] | dict[str, list[str]]]
    area_variable: str | None = None
    measure_variable: str | None = None
    time_variable: str | None = None
    area_map: str | None = None

    def dimension_names(self) -> list[str]:
        return list(self.selection)


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    return COLUMNS


def clean_label(label: str) -> tuple[str, int]:
    """'....Cebu /a' → ('Cebu', 4): the name without footnote marks, and its indent (the level in PSA tables)."""
    stripped = label.lstrip(". ")
    depth = len(label) - len(label.lstrip("."))
    return FOOTNOTE.sub("", stripped).strip(), depth


def spec(dataset: Dataset) -> dict[str, Any]:
    x = dataset.model_extra or {}
    missing = [k for k in ("table", "selection") if not x.get(k)]
    if missing:
        raise ValueError(f"registry dataset {dataset.name!r} (connector pxweb) lacks {missing}")
    return {"table": x["table"], "selection": dict(x["selection"]), "area_variable": x.get("area_variable"),
            "time_variable": x.get("time_variable"), "measure_variable": x.get("measure_variable")}


def resolve_selection(payload: Any, sp: dict, where: str) -> dict[str, list[str]]:
    """The explicit value codes to ask for, variable by variable, or an ApiError naming what changed.

    A selection is ``"*"`` (every value), a list of value codes, or ``{labels: [...]}``: values chosen by
    their text, for tables whose positional codes are not published (PSA's parameters)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("variables"), list):
        raise ResponseError(f"{where}: PXWeb metadata must be an object with 'variables'")
    variables = {v.get("code"): v for v in payload["variables"] if isinstance(v, dict)}
    unknown = [c for c in sp["selection"] if c not in variables]
    if unknown:
        raise ApiError(f"{where}: table {sp['table']} has no variable(s) {unknown} (renamed?); it has "
                       f"{sorted(variables)}. Update `selection` in the registry entry.")
    out = {}
    for code, wanted in sp["selection"].items():
        known = [str(v) for v in variables[code].get("values") or []]
        if isinstance(wanted, dict):
            texts = [str(t) for t in variables[code].get("valueTexts") or []]
            by_text = dict(zip(texts, known, strict=False))
            missing = [t for t in wanted.get("labels", []) if t not in by_text]
            if missing or not wanted.get("labels"):
                raise ApiError(f"{where}: variable {code!r} of {sp['table']} has no value labelled "
                               f"{missing or '(none)'}; it has {texts}. Update `selection` in the registry entry.")
            out[code] = [by_text[t] for t in wanted["labels"]]
            continue
        values = known if wanted == "*" else [str(v) for v in wanted]
        absent = [v for v in values if v not in known]
        if absent or not values:
            raise ApiError(f"{where}: variable {code!r} of {sp['table']} has no value code(s) {absent or '(none)'}")
        out[code] = values
    return out


def check_dataset(payload: Any, expected: dict[str, list[str]], where: str) -> dict:
    """A JSON-stat 2.0 dataset holding exactly the cells asked for."""
    if not isinstance(payload, dict) or payload.get("class") != "dataset":
        raise ResponseError(f"{where}: expected a JSON-stat 2.0 dataset (class 'dataset')")
    ids, sizes, values = payload.get("id"), payload.get("size"), payload.get("value")
    if not (isinstance(ids, list) and isinstance(sizes, list) and len(ids) == len(sizes)):
        raise ResponseError(f"{where}: JSON-stat 'id' and 'size' are missing or of different lengths")
    cells = math.prod(sizes)
    asked = math.prod(len(v) for v in expected.values())
    count = len(values) if isinstance(values, (list, dict)) else -1
    if isinstance(values, list) and count != cells or cells != asked:
        raise ResponseError(f"{where}: {count} value(s) for {cells} cells (sizes {sizes}), {asked} asked; "
                            "PXWeb returned an incomplete table")
    if set(ids) != set(expected):
        raise ApiError(f"{where}: dimensions {ids} differ from the selection {sorted(expected)}")
    return payload


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    sp = spec(dataset)
    base = source.effective_base_url()
    url = f"{base}/{sp['table']}"
    session = source_session(source)
    deadline = Deadline(source.http.max_total_seconds)
    meta_body, wanted, meta_url = request_checked(
        session, "GET", url, policy=source.http, deadline=deadline,
        check=lambda b, resp: resolve_selection(json.loads(b), sp, resp.url))
    writer.add("metadata.json", meta_body, url=meta_url, kind="metadata")
    query = {"query": [{"code": c, "selection": {"filter": "item", "values": v}} for c, v in wanted.items()],
             "response": {"format": "json-stat2"}}
    body, _, data_url = request_checked(
        session, "POST", url, json_body=query, policy=source.http, deadline=deadline,
        check=lambda b, resp: check_dataset(json.loads(b), wanted, resp.url))
    cells = math.prod(len(v) for v in wanted.values())
    writer.add("data.json", body, url=data_url, kind="data", rows=cells, total_elements=cells, query=query)
    return {"producer": source.title, "base_url": base, "endpoint": sp["table"], "query": query, "errors": []}


def _category(dim: dict) -> tuple[list[str], dict[str, str], dict]:
    cat = dim.get("category") or {}
    index = cat.get("index")
    if isinstance(index, dict):
        codes = sorted(index, key=index.get)
    elif isinstance(index, list):
        codes = list(index)
    else:
        codes = list(cat.get("label") or {})
    return codes, cat.get("label") or {}, cat.get("unit") or {}


def _at(container: Any, i: int) -> Any:
    if isinstance(container, list):
        return container[i]
    if isinstance(container, dict):
        return container.get(str(i))
    return None


def parse(snapshot: Snapshot, dataset: Dataset) -> Iterator[dict]:
    """Every cell, row-major (index = Σ posᵢ · Π size_{j>i}), as one row with its codes and labels."""
    sp = spec(dataset)
    for record in snapshot.origin["files"]:
        if record.get("kind") != "data":
            continue
        path = snapshot.path / record["file"]
        try:
            payload = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResponseError(f"{path}: not valid JSON ({exc}); re-fetch the snapshot") from exc
        query = record.get("query") or snapshot.origin.get("query") or {}
        wanted = {q["code"]: q["selection"]["values"] for q in query.get("query", [])}
        check_dataset(payload, wanted, str(path))
        ids, sizes = payload["id"], payload["size"]
        cats = [_category(payload["dimension"][d]) for d in ids]
        table_id = ((payload.get("extension") or {}).get("px") or {}).get("tableid") or sp["table"]
        strides = [math.prod(sizes[k + 1:]) for k in range(len(sizes))]
        for n in range(math.prod(sizes)):
            pos = [(n // strides[k]) % sizes[k] for k in range(len(sizes))]
            codes = {d: cats[k][0][pos[k]] for k, d in enumerate(ids)}
            labels = {d: str(cats[k][1].get(codes[d], codes[d])) for k, d in enumerate(ids)}
            value = _at(payload["value"], n)
            if value is not None and not isinstance(value, (int, float)):
                raise ValueError(f"{path}: cell {n} ({codes}) holds {value!r}, not a number or null")
            area = sp["area_variable"]
            clean, depth = clean_label(labels[area]) if area in labels else (None, None)
            measure, time = sp["measure_variable"], sp["time_variable"]
            unit = cats[ids.index(measure)][2].get(codes[measure], {}) if measure in codes else {}
            year_text = labels.get(time, "")[:4]
            yield {
                "snapshot_id": snapshot.id, "source_file": record["file"], "row_number": n + 1,
                "table_id": str(table_id), "cell_key": ".".join(codes[d] for d in ids),
                "area_source_code": codes.get(area), "area_label": labels.get(area), "area_label_clean": clean,
                "area_depth": depth, "measure": codes.get(measure), "measure_label": labels.get(measure),
                "time_code": codes.get(time), "year": int(year_text) if year_text.isdigit() else None,
                "value": None if value is None else repr(float(value)) if isinstance(value, float) else str(value),
                "status": _at(payload.get("status"), n), "unit": unit.get("base") if isinstance(unit, dict) else None,
                "dimensions": json.dumps(codes), "labels": json.dumps(labels),
            }


def expected_rows(snapshot: Snapshot) -> int:
    return snapshot.announced_rows()


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    return {"expected_rows": expected_rows(snapshot), "known_units": units.known(source.name),
            "year_min": dataset.thresholds.get("year_min", 1900),
            "year_max": dataset.thresholds.get("year_max", 2100)}


def finish_frame(frame, dataset: Dataset | None = None):
    """The staged rows read back: whether the table has an area variable (the suite's row condition)."""
    frame["has_area_variable"] = dataset is None or spec(dataset)["area_variable"] is not None
    return frame


def validation_frame(rows, dataset: Dataset | None = None):
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=[n for n, _ in COLUMNS])
    frame["value"] = pd.to_numeric(frame["value"])
    frame["has_area_variable"] = dataset is None or spec(dataset)["area_variable"] is not None
    return frame


rows = parse  # the load streams the parsed dicts (the loader puts them in column order)
