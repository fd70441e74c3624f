"""Tabular files at a URL (CSV): the next published table is a registry entry, not a new connector.

A dataset names one ``file`` (a path under the source's base URL) and declares its header, so a changed layout
is refused by name instead of loading something else. Its ``shape`` says how rows become raw rows:

- ``records``: one raw row per data line, every declared column kept as text under a snake_case name
  (twin-town pairs, associations of local governments); the dataset's own GX suite checks them;
- ``long``: one observation per line (``time_column``, ``value_column``);
- ``wide``: one observation per non-empty cell of the period columns that follow the declared ones
  (``period_columns``: a regular expression and a ``strptime`` format: years, or days such as ``01Jan2020``).
  An empty cell is no observation (the publisher's "no data"), never a zero.

Observations carry a ``measure`` (the ``measure_columns`` joined by ``.``, or a fixed ``measure``), an
``area_source_code`` (the first non-empty of ``area_columns``), the period as ISO text, and the value as
published (``value_text``) beside its number. How they reach ``marts.fct_observation`` is declared in the same
entry (``area``, ``area_scheme``, ``area_map``, ``unit``, ``series_prefix``), read by
``int_registry_observations``. ``keep_rows`` keeps only the lines whose column holds a value listed in a seed
(e.g. the Asia-Pacific countries); the whole file stays in the snapshot.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

from lgstats.core.settings import SEEDS_DIR
from lgstats.pipeline import units
from lgstats.pipeline.connectors.cells import decimal_cell
from lgstats.pipeline.http import Deadline, ResponseError, request_checked, source_session
from lgstats.pipeline.registry_model import ConnectorKeys, Dataset, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

FIXED: list[tuple[str, str]] = [("snapshot_id", "text not null"), ("source_file", "text not null"),
                                ("row_number", "integer not null")]
OBSERVATION_COLUMNS: list[tuple[str, str]] = [
    *FIXED,
    ("series_key", "text not null"),
    ("measure", "text not null"),
    ("series_name", "text"),
    ("area_source_code", "text"),
    ("time_period", "text not null"),
    ("year", "integer"),
    ("value", "numeric"),
    ("value_text", "text"),
    ("unit_measure", "text"),
    ("obs_status", "text"),
    ("dimensions", "jsonb not null"),
]
MAX_BYTES = 50 * 1024 * 1024


class PeriodColumns(ConnectorKeys):
    pattern: str                 # the header of a period column, e.g. '^\d{4}$' or '^\d{2}[A-Z][a-z]{2}\d{4}$'
    format: str                  # its strptime format: '%Y' or '%d%b%Y'


class KeepRows(ConnectorKeys):
    column: str                  # a declared column
    seed: str                    # a dbt seed (dbt/seeds/<seed>.csv)
    seed_column: str             # the seed's column whose values are kept


class DatasetSpec(ConnectorKeys):
    """The tabular keys of a registry dataset (besides the common ones); any other key is refused at load."""

    file: str
    shape: Literal["records", "long", "wide"]
    columns: list[str]                       # the header as published (wide: the columns before the periods)
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    licence: str | None = None               # when the dataset's terms differ from the source's
    origin: dict[str, str] = {}              # repository, commit, path, publisher of a pinned public copy
    keep_rows: KeepRows | None = None
    # observations (long and wide)
    measure_columns: list[str] = []
    measure: str | None = None               # one measure for every row (e.g. SG_GEN_LOCGELS)
    series_name_columns: list[str] = []
    area_columns: list[str] = []             # the first non-empty one is the row's area code
    time_column: str | None = None           # long
    value_column: str | None = None          # long
    period_columns: PeriodColumns | None = None  # wide
    unit: str | None = None                  # the unit of every observation (RATIO, INDEX, PERCENT…)
    series_prefix: str | None = None         # default '<source>.'; '' keeps the measure as the series code
    area: str | None = None                  # one M49 code for every row
    area_scheme: Literal["iso3", "m49"] | None = None
    area_map: str | None = None              # dbt/seeds/area_maps/<name>.csv: source_code → area_code


@cache
def _spec(dataset_json: str) -> DatasetSpec:
    return DatasetSpec.model_validate_json(dataset_json)


def spec(dataset: Dataset) -> DatasetSpec:
    extra = dict(dataset.model_extra or {})
    try:
        sp = _spec(json.dumps(extra, sort_keys=True))
    except ValidationError as exc:
        problems = "; ".join(f"{e['msg'].lower()}: {'.'.join(map(str, e['loc']))}" for e in exc.errors())
        raise ValueError(f"registry dataset {dataset.name!r} (connector tabular): {problems}") from None
    if sp.shape != "records":
        missing = [k for k, ok in (("measure_columns or measure", sp.measure_columns or sp.measure),
                                   ("area_columns or area", sp.area_columns or sp.area),
                                   ("time_column", sp.shape == "wide" or sp.time_column),
                                   ("value_column", sp.shape == "wide" or sp.value_column),
                                   ("period_columns", sp.shape == "long" or sp.period_columns)) if not ok]
        if missing:
            raise ValueError(f"registry dataset {dataset.name!r} (connector tabular, shape {sp.shape}) lacks "
                             f"{missing}")
    named = [*sp.measure_columns, *sp.series_name_columns, *sp.area_columns,
             *[c for c in (sp.time_column, sp.value_column) if c], *([sp.keep_rows.column] if sp.keep_rows else [])]
    if unknown := [c for c in named if c not in sp.columns]:
        raise ValueError(f"registry dataset {dataset.name!r}: column(s) {unknown} are not in its `columns`")
    return sp


def slug(name: str) -> str:
    """A header as a raw column name: ``Country Code (IMF code)`` → ``country_code_imf_code``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "column"


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    sp = spec(dataset)
    if sp.shape == "records":
        return [*FIXED, *[(slug(c), "text") for c in sp.columns]]
    return OBSERVATION_COLUMNS


def _check_csv(body: bytes, resp, sp: DatasetSpec) -> int:
    """The body's data lines, or ResponseError (retried) for what is not the declared CSV: an HTML error page,
    a body cut mid-line, a changed header."""
    if len(body) > MAX_BYTES:
        raise ResponseError(f"{resp.url}: {len(body)} bytes, more than this connector reads ({MAX_BYTES})")
    if body.lstrip()[:1] in (b"<", b"{", b"["):
        raise ResponseError(f"{resp.url}: expected CSV, got what looks like HTML or JSON")
    return sum(1 for _ in _lines(body, sp, resp.url))


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    sp = spec(dataset)
    base = source.effective_base_url()
    session = source_session(source)
    session.headers["Accept"] = "text/csv, text/plain"
    body, lines, url = request_checked(session, "GET", f"{base}/{sp.file}", policy=source.http,
                                       deadline=Deadline(source.http.max_total_seconds),
                                       check=lambda b, resp: _check_csv(b, resp, sp))
    writer.add(sp.file.rsplit("/", 1)[-1], body, url=url, rows=lines)
    return {"producer": source.title, "base_url": base, "endpoint": sp.file, "origin": sp.origin,
            **({"dataset_licence": sp.licence} if sp.licence else {})}


def _lines(body: bytes, sp: DatasetSpec, where: str) -> Iterator[tuple[int, dict[str, str], list[tuple[str, str]]]]:
    """(line number, declared cells, [(period header, cell)]) of each data line; the header checked first."""
    try:
        text = body.decode(sp.encoding)
    except UnicodeDecodeError as exc:
        raise ResponseError(f"{where}: not {sp.encoding} at byte {exc.start}; re-fetch the file") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sp.delimiter)
    header = next(reader, None)
    if header is None:
        raise ResponseError(f"{where}: empty file, expected the header {sp.columns}")
    n = len(sp.columns)
    if header[:n] != sp.columns:
        raise ResponseError(f"{where}: the header changed: expected {sp.columns}, found {header[:n]}; update "
                            "`columns` of the registry entry after checking the publisher's notes")
    periods = header[n:]
    if sp.shape == "wide":
        pattern = re.compile(sp.period_columns.pattern)
        periods = periods[:-1] if periods and periods[-1] == "" else periods  # a trailing comma on every line
        if bad := [p for p in periods if not pattern.match(p)]:
            raise ResponseError(f"{where}: column(s) {bad[:5]} after the declared ones are not periods "
                                f"({sp.period_columns.pattern}); update the registry entry")
    elif periods:
        raise ResponseError(f"{where}: new column(s) {periods} after the declared ones; update `columns`")
    keep = _kept_values(sp.keep_rows.seed, sp.keep_rows.seed_column) if sp.keep_rows else None
    for line, row in enumerate(reader, start=2):
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            raise ResponseError(f"{where}: line {line} has {len(row)} fields, the header {len(header)} "
                                "(a cut file?)")
        cells = dict(zip(sp.columns, row[:n], strict=True))
        if keep is not None and cells[sp.keep_rows.column] not in keep:
            continue
        yield line, cells, list(zip(periods, row[n:n + len(periods)], strict=False))


@cache
def _kept_values(seed: str, seed_column: str) -> frozenset[str]:
    with open(SEEDS_DIR / f"{seed}.csv", newline="", encoding="utf-8") as fh:
        return frozenset(r[seed_column] for r in csv.DictReader(fh) if r[seed_column])


@cache
def _read_period(text: str, fmt: str) -> tuple[str, int] | None:
    """A period as ISO text (``2016``, ``2020-01-01``) and its year; read once per header, not once per cell."""
    try:
        when = datetime.strptime(text.strip(), fmt)
    except ValueError:
        return None
    return (str(when.year) if fmt == "%Y" else when.date().isoformat()), when.year


def _period(text: str, fmt: str, where: str) -> tuple[str, int]:
    period = _read_period(text, fmt)
    if period is None:
        raise ValueError(f"{where}: period {text!r} does not read as {fmt!r}")
    return period


def _files(snapshot: Snapshot):
    for record in snapshot.origin["files"]:
        path = snapshot.path / record["file"]
        yield record["file"], path.read_bytes(), str(path)


def parse(snapshot: Snapshot, dataset: Dataset) -> Iterator[dict]:
    sp = spec(dataset)
    n = 0
    for file, body, where in _files(snapshot):
        for line, cells, periods in _lines(body, sp, where):
            if sp.shape == "records":
                n += 1
                yield {"snapshot_id": snapshot.id, "source_file": file, "row_number": line,
                       **{slug(c): (v if v != "" else None) for c, v in cells.items()}}
                continue
            measure = sp.measure or ".".join(cells[c] for c in sp.measure_columns)
            # a fixed `area` is every row's area (a file of one country has no area column)
            area = next((cells[c] for c in sp.area_columns if cells[c]), None) or sp.area
            name = ", ".join(cells[c] for c in sp.series_name_columns if cells[c]) or None
            dims = json.dumps(cells, ensure_ascii=False)
            if sp.shape == "long":
                periods = [(cells[sp.time_column], cells[sp.value_column])]
            fmt = sp.period_columns.format if sp.shape == "wide" else "%Y"
            for header, text in periods:
                if text == "":
                    continue  # the publisher's "no data": no observation
                column = header if sp.shape == "wide" else sp.value_column
                here = f"{where} line {line}"
                iso, year = _period(header, fmt, f"{here} column {column}")
                n += 1
                yield {"snapshot_id": snapshot.id, "source_file": file, "row_number": line,
                       "series_key": f"{measure}|{area}", "measure": measure, "series_name": name,
                       "area_source_code": area, "time_period": iso, "year": year,
                       "value": decimal_cell(text, here, column), "value_text": text, "unit_measure": sp.unit,
                       "obs_status": None, "dimensions": dims}


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    return {"known_units": units.known(source.name), "year_min": dataset.thresholds.get("year_min", 1900),
            "year_max": dataset.thresholds.get("year_max", 2100)}


def validation_frame(rows, dataset: Dataset | None = None):
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=[n for n, _ in columns(dataset)])
    if "value" in frame:
        frame["value"] = pd.to_numeric(frame["value"].map(lambda v: None if v is None else float(v)))
    return frame


rows = parse  # the load streams the parsed dicts (the loader puts them in column order)
