"""World Bank Indicators API v2: ``/v2/country/{ISO3;...}/indicator/{id}?format=json``, paged.

Quirks (sources.md §4): success is ``[header, rows]``; errors come back with HTTP 200 as
``[{"message": [...]}]`` (reported by indicator name, the other indicators still load); counters may be
strings; ``value`` is a number or null (kept as NULL, never zero); an empty result is ``[header, null]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lgstats.core.settings import SEEDS_DIR
from lgstats.pipeline.http import ApiError, Deadline, ResponseError, get_json, source_session
from lgstats.pipeline.registry_model import ConnectorKeys, Dataset, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
    ("indicator_id", "text"),
    ("indicator_name", "text"),
    ("country_id", "text"),
    ("country_name", "text"),
    ("country_iso3", "text"),
    ("date", "text"),
    ("year", "integer"),
    ("value_num", "numeric"),
    ("unit", "text"),
    ("obs_status", "text"),
    ("decimal", "integer"),
]


class DatasetSpec(ConnectorKeys):
    """The World Bank keys of a registry dataset (besides the common ones)."""

    date: str = "2000:2025"  # the v2 API's year range, "from:to"


def year_range(dataset: Dataset) -> str:
    """The dataset's ``date`` key ("from:to"), its default in one place."""
    return DatasetSpec.model_validate(dataset.model_extra or {}).date


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    return COLUMNS


def countries(dataset: Dataset) -> list[str]:
    import csv

    with open(SEEDS_DIR / f"{dataset.areas_from_seed}.csv", newline="", encoding="utf-8") as fh:
        return [r["country_iso3"] for r in csv.DictReader(fh) if r["country_iso3"]]


def check_page(payload: Any, where: str) -> list:
    if isinstance(payload, list) and payload and isinstance(payload[0], dict) and "message" in payload[0]:
        messages = payload[0]["message"] or []
        text = "; ".join(f"{m.get('id')} {m.get('key')}: {m.get('value')}" for m in messages if isinstance(m, dict))
        raise ApiError(text or "error without a message")
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], dict)):
        raise ResponseError(f"{where}: expected [header, rows], got {type(payload).__name__}")
    if payload[1] is not None and not isinstance(payload[1], list):
        raise ResponseError(f"{where}: rows are {type(payload[1]).__name__}, expected a list")
    try:
        int(payload[0].get("pages", 0)), int(payload[0].get("total", 0))
    except (TypeError, ValueError) as exc:
        raise ResponseError(f"{where}: pages/total are not integers ({exc})") from exc
    return payload


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    base = source.effective_base_url()
    iso3 = ";".join(countries(dataset))
    session = source_session(source)
    deadline = Deadline(source.http.max_total_seconds)
    errors = []
    for series in dataset.series:
        url = f"{base}/" + dataset.endpoint.format(countries=iso3, indicator=series.code)
        page, names = 1, []
        try:
            while True:
                params = [("format", "json"), ("date", year_range(dataset)),
                          ("per_page", dataset.page_size), ("page", page)]
                body, payload, final_url = get_json(session, url, params, source.http, deadline, check=check_page)
                header = payload[0]
                rows = payload[1] or []
                name = f"{series.code}__page-{page:04d}.json"
                writer.add(name, body, url=final_url, series=series.code, page=page,
                           total_elements=int(header.get("total", 0)), rows=len(rows))
                names.append(name)
                if page >= int(header.get("pages", 0) or 0) or not rows:
                    break
                page += 1
        except ApiError as exc:  # the API refused this indicator: keep the others, report it by name
            writer.discard(names)
            errors.append({"indicator": series.code, "url": url, "error": str(exc)})
    return {"producer": source.title, "base_url": base, "endpoint": dataset.endpoint,
            "query": {"indicators": [s.code for s in dataset.series], "countries": iso3.split(";")},
            "errors": errors}


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def parse(snapshot: Snapshot, dataset: Dataset | None = None) -> Iterator[dict]:
    for record in snapshot.origin["files"]:
        path = snapshot.path / record["file"]
        try:
            payload = check_page(json.loads(path.read_bytes()), str(path))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResponseError(f"{path}: not valid JSON ({exc}); re-fetch the snapshot") from exc
        for i, row in enumerate(payload[1] or [], start=1):
            if not isinstance(row, dict) or "countryiso3code" not in row:
                raise ResponseError(f"{path}: row {i} lacks countryiso3code (the pre-2018 shape is not supported)")
            indicator, country = row.get("indicator") or {}, row.get("country") or {}
            date = _text(row.get("date"))
            value = row.get("value")
            yield {
                "snapshot_id": snapshot.id, "source_file": record["file"], "row_number": i,
                "indicator_id": _text(indicator.get("id")), "indicator_name": _text(indicator.get("value")),
                "country_id": _text(country.get("id")), "country_name": _text(country.get("value")),
                "country_iso3": _text(row.get("countryiso3code")) or None, "date": date,
                "year": int(date) if date and date.isdigit() and len(date) == 4 else None,
                "value_num": None if value is None else repr(float(value)) if isinstance(value, float) else str(value),
                "unit": _text(row.get("unit")) or None, "obs_status": _text(row.get("obs_status")) or None,
                "decimal": row.get("decimal") if isinstance(row.get("decimal"), int) else None,
            }


def expected_rows(snapshot: Snapshot) -> int:
    return snapshot.announced_rows()


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    failed = {e["indicator"] for e in snapshot.origin.get("errors", [])}
    return {"registry_indicators": [s.code for s in dataset.series], "expected_rows": expected_rows(snapshot),
            "countries": countries(dataset), "year_min": dataset.thresholds.get("year_min", 1960),
            "year_max": dataset.thresholds.get("year_max", 2100),
            "indicators_loaded": [s.code for s in dataset.series if s.code not in failed]}


def validation_frame(rows, dataset: Dataset | None = None):
    import pandas as pd

    return pd.DataFrame(list(rows), columns=[n for n, _ in COLUMNS])


rows = parse  # the load streams the parsed dicts (the loader puts them in column order)
