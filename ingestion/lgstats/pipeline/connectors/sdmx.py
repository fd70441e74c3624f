"""SDMX 2.1 REST, read as SDMX-CSV: one connector for ABS, Stats NZ, OECD and any other .Stat Suite.

``GET {base}/data/{agency},{flow},{version}/{key}?…&format=csv|csvfilewithlabels`` (sources.md §5). The CSV
is parsed here, not by sdmx1 (which cannot read SDMX-CSV 1.0). What a dataset looks like is declared in its
registry entry, so a change at the source fails loudly instead of loading something else:

- ``dimensions``: the DSD's dimension ids (time apart); a new or vanished dimension is schema drift;
- ``version``: pinned; rows of another dataflow version are refused (ABS moved LGA flows 1.2.0 → 1.6.0);
- an empty ``OBS_VALUE`` is suppressed or missing (``OBS_STATUS`` says which), kept as NULL, never zero;
- ``UNIT_MULT`` n is applied (value = OBS_VALUE × 10ⁿ) and the published figure kept beside it;
- Stats NZ suffixes every dimension id with ``_{FLOW}``: stripped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from lgstats.pipeline import units
from lgstats.pipeline.connectors.cells import decimal_cell
from lgstats.pipeline.http import ApiError, Deadline, ResponseError, request_checked, source_session
from lgstats.pipeline.registry_model import Dataset, ObservationKeys, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
    ("dataflow", "text not null"),
    ("series_key", "text not null"),
    ("measure", "text"),
    ("area_source_code", "text"),
    ("time_period", "text not null"),
    ("year", "integer"),
    ("obs_value", "numeric"),
    ("unit_mult", "integer"),
    ("value", "numeric"),
    ("unit_measure", "text"),
    ("obs_status", "text"),
    ("dimensions", "jsonb not null"),
    ("attributes", "jsonb not null"),
    ("labels", "jsonb"),
]
LABELLED_PREFIX = ("STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION")
KNOWN_ATTRIBUTES = ("OBS_STATUS", "OBS_COMMENT", "OBS_CONF", "UNIT_MEASURE", "UNIT_MULT", "DECIMALS", "BASE_PER",
                    "REPYEAREND", "TIME_FORMAT", "TIME_PER_COLLECT", "ADJUSTMENT", "CONF_STATUS", "COMMENT_OBS")
CSV_TYPES = ("text/csv", "application/vnd.sdmx.data+csv", "application/csv", "text/plain")


class SchemaDrift(ApiError):
    """The source's structure is no longer what the registry declares (not retried: it will not heal)."""


class DatasetSpec(ObservationKeys):
    """The SDMX keys of a registry dataset (besides the common ones); any other key is refused at load."""

    agency: str
    flow: str
    version: str
    key: str = "all"
    params: dict[str, Any] = {}
    format: str = "csv"
    dimensions: list[str]
    time_dimension: str = "TIME_PERIOD"
    attributes: list[str] = []
    area_dimension: str | None = None
    measure_dimension: str | None = None
    area_map: str | None = None

    def dimension_names(self) -> list[str]:
        return list(self.dimensions)


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    return COLUMNS


def spec(dataset: Dataset) -> dict[str, Any]:
    """The SDMX part of a registry entry, with its defaults."""
    x = dataset.model_extra or {}
    missing = [k for k in ("agency", "flow", "version", "dimensions") if not x.get(k)]
    if missing:
        raise ValueError(f"registry dataset {dataset.name!r} (connector sdmx) lacks {missing}")
    return {"agency": x["agency"], "flow": x["flow"], "version": str(x["version"]), "key": x.get("key", "all"),
            "format": x.get("format", "csv"), "params": dict(x.get("params") or {}),
            "dimensions": list(x["dimensions"]), "time_dimension": x.get("time_dimension", "TIME_PERIOD"),
            "attributes": list(x.get("attributes") or []), "area_dimension": x.get("area_dimension"),
            "measure_dimension": x.get("measure_dimension")}


def dataflow_id(sp: dict) -> str:
    return f"{sp['agency']}:{sp['flow']}({sp['version']})"


class Table:
    """An SDMX-CSV body read against the registry's declaration: ``rows()`` yields (line, components, labels)."""

    def __init__(self, text: str, sp: dict, where: str):
        self.sp, self.where = sp, where
        self.reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(self.reader)
        except StopIteration:
            raise ResponseError(f"{where}: empty body, expected an SDMX-CSV header") from None
        self.labelled = header[:1] == ["STRUCTURE"]
        if self.labelled:
            if tuple(header[:4]) != LABELLED_PREFIX or (len(header) - 4) % 2:
                raise ResponseError(f"{where}: header is not csvfilewithlabels (STRUCTURE,STRUCTURE_ID,"
                                    f"STRUCTURE_NAME,ACTION, then id/label pairs): {header[:6]}")
            ids = header[4::2]
        else:
            if header[:1] != ["DATAFLOW"]:
                snippet = text[:80].replace("\n", " ")
                raise ResponseError(f"{where}: not SDMX-CSV (first column {header[:1]}, expected DATAFLOW or "
                                    f"STRUCTURE); the body starts {snippet!r}")
            ids = header[1:]
        suffix = f"_{sp['flow']}"
        self.ids = [i[: -len(suffix)] if i.endswith(suffix) else i for i in ids]
        self.width = len(header)
        self._check_structure()

    def _check_structure(self) -> None:
        sp, ids = self.sp, self.ids
        required = [*sp["dimensions"], sp["time_dimension"], "OBS_VALUE"]
        vanished = [c for c in required if c not in ids]
        allowed = set(required) | set(KNOWN_ATTRIBUTES) | set(sp["attributes"])
        new = [c for c in ids if c not in allowed]
        if vanished or new:
            parts = []
            if new:
                parts.append(f"new column(s) {new} (a new dimension or attribute?)")
            if vanished:
                parts.append(f"declared column(s) {vanished} missing (renamed?)")
            raise SchemaDrift(f"{self.where}: the structure of {dataflow_id(sp)} changed: {'; '.join(parts)}. "
                              f"Check the DSD and update `dimensions`/`attributes` of the registry entry.")

    def rows(self) -> Iterator[tuple[int, str, dict[str, str], dict[str, str]]]:
        expected = dataflow_id(self.sp)
        for line, row in enumerate(self.reader, start=2):
            if not row or row == [""]:
                continue
            if len(row) != self.width:
                raise ResponseError(f"{self.where}: line {line} has {len(row)} fields, the header {self.width} "
                                    "(a cut body?)")
            if self.labelled:
                flow, action, cells = row[1], row[3], row[4:]
                if action not in ("I", "A", ""):
                    raise ApiError(f"{self.where}: line {line} has ACTION {action!r}; only I (information) "
                                   "rows are supported")
                values = dict(zip(self.ids, cells[0::2], strict=True))
                labels = dict(zip(self.ids, cells[1::2], strict=True))
            else:
                flow, values, labels = row[0], dict(zip(self.ids, row[1:], strict=True)), {}
            if flow != expected:
                raise SchemaDrift(f"{self.where}: line {line} is from dataflow {flow!r}, the registry pins "
                                  f"{expected!r}. A new version may have moved codes: review it, then update "
                                  "`version` in the registry entry.")
            yield line, flow, values, labels


def check_body(body: bytes, content_type: str, sp: dict, where: str) -> int:
    """Refuse what is not the declared SDMX-CSV (an HTML error page, a cut body, drift); return data rows."""
    mime = content_type.split(";")[0].strip().lower()
    if mime and mime not in CSV_TYPES:
        raise ResponseError(f"{where}: content type {mime!r}, expected SDMX-CSV; the body starts "
                            f"{body[:80].decode('utf-8', 'replace')!r}")
    rows = sum(1 for _ in Table(body.decode("utf-8-sig"), sp, where).rows())
    if not body.endswith(b"\n"):  # SDMX-CSV ends every line, the last too: this body stops mid-line
        raise ResponseError(f"{where}: the body ends mid-line after {len(body)} bytes (cut off?)")
    return rows


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    sp = spec(dataset)
    base = source.effective_base_url()
    session = source_session(source)
    session.headers["Accept"] = "application/vnd.sdmx.data+csv;version=1.0.0, text/csv;q=0.9"
    url = f"{base}/data/{sp['agency']},{sp['flow']},{sp['version']}/{sp['key']}"
    params = list({"dimensionAtObservation": "AllDimensions", "format": sp["format"], **sp["params"]}.items())
    body, rows, final_url = request_checked(
        session, "GET", url, params=params, policy=source.http, deadline=Deadline(source.http.max_total_seconds),
        check=lambda b, resp: check_body(b, resp.headers.get("Content-Type", ""), sp, resp.url))
    writer.add("data.csv", body, url=final_url, rows=rows, total_elements=rows)
    return {"producer": source.title, "base_url": base, "endpoint": url.removeprefix(base + "/"),
            "query": {"dataflow": dataflow_id(sp), "key": sp["key"], "params": dict(params)}, "errors": []}


def parse(snapshot: Snapshot, dataset: Dataset) -> Iterator[dict]:
    sp = spec(dataset)
    dims, time_dim = sp["dimensions"], sp["time_dimension"]
    for record in snapshot.origin["files"]:
        path = snapshot.path / record["file"]
        table = Table(path.read_bytes().decode("utf-8-sig"), sp, str(path))
        for n, (line, flow, values, labels) in enumerate(table.rows(), start=1):
            where = f"{path} line {line}"
            obs = decimal_cell(values["OBS_VALUE"], where, "OBS_VALUE")
            mult = decimal_cell(values.get("UNIT_MULT", ""), where, "UNIT_MULT")
            period = values[time_dim]
            attributes = {k: v for k, v in values.items() if k not in dims and k not in (time_dim, "OBS_VALUE")}
            yield {
                "snapshot_id": snapshot.id, "source_file": record["file"], "row_number": n, "dataflow": flow,
                "series_key": ".".join(values[d] for d in dims),
                "measure": values.get(sp["measure_dimension"]) if sp["measure_dimension"] else None,
                "area_source_code": values.get(sp["area_dimension"]) if sp["area_dimension"] else None,
                "time_period": period, "year": int(period[:4]) if period[:4].isdigit() else None,
                "obs_value": obs, "unit_mult": int(mult) if mult is not None else None,
                "value": None if obs is None else obs.scaleb(int(mult or 0)),
                "unit_measure": values.get("UNIT_MEASURE") or None, "obs_status": values.get("OBS_STATUS") or None,
                "dimensions": json.dumps({d: values[d] for d in dims}),
                "attributes": json.dumps(attributes), "labels": json.dumps(labels) if labels else None,
            }


def expected_rows(snapshot: Snapshot) -> int:
    return snapshot.announced_rows()


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    sp = spec(dataset)
    return {"expected_rows": expected_rows(snapshot), "dataflow": [dataflow_id(sp)],
            "known_units": units.known(source.name),
            "year_min": dataset.thresholds.get("year_min", 1900), "year_max": dataset.thresholds.get("year_max", 2100)}


def validation_frame(rows, dataset: Dataset | None = None):
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=[n for n, _ in COLUMNS])
    for col in ("obs_value", "value"):
        frame[col] = pd.to_numeric(frame[col].map(lambda v: None if v is None else float(v)))
    return frame


rows = parse  # the load streams the parsed dicts (the loader puts them in column order)
