"""UN SDG API v1: ``Series/Data`` (paged JSON), ``Series/List`` and ``GeoArea/List``, kept as fetched,
parsed with the API's real quirks. A dataset's ``kind`` in the registry says which endpoint it is.

Quirks (sources.md §1.4-1.5): ``value`` is a string ("N", "<2.5", "NaN" are not numbers),
``timePeriodStart`` is a float year, ``geoAreaCode`` an unpadded string that is not always M49,
counters may be numbers or strings, ``attributes``/``dimensions`` are maps whose keys vary per series.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from lgstats.pipeline import units
from lgstats.pipeline.http import Deadline, FetchError, get_json, source_session
from lgstats.pipeline.registry_model import Dataset, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

# name, PostgreSQL type: the raw table, in COPY order.
# Where each row came from: the snapshot, the file in it, and the position in that file.
PROVENANCE_COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
]
SERIES_DATA_COLUMNS: list[tuple[str, str]] = [
    *PROVENANCE_COLUMNS,
    ("series_code", "text"),
    ("series_description", "text"),
    ("goal", "jsonb"),
    ("target", "jsonb"),
    ("indicator", "jsonb"),
    ("geo_area_code", "text"),
    ("geo_area_name", "text"),
    ("area_code", "text"),
    ("time_period_start", "text"),
    ("year", "integer"),
    ("value_text", "text"),
    ("value_num", "numeric"),
    ("value_qualifier", "text"),
    ("value_type", "text"),
    ("time_detail", "text"),
    ("nature", "text"),
    ("units", "text"),
    ("unit_multiplier", "text"),
    ("reporting_type", "text"),
    ("source", "text"),
    ("footnotes", "jsonb"),
    ("attributes", "jsonb"),
    ("dimensions", "jsonb"),
    ("upper_bound", "text"),
    ("lower_bound", "text"),
    ("base_period", "text"),
]

SERIES_LIST_COLUMNS: list[tuple[str, str]] = [
    *PROVENANCE_COLUMNS,
    ("series_code", "text"),
    ("series_description", "text"),
    ("goal", "jsonb"),
    ("target", "jsonb"),
    ("indicator", "jsonb"),
    ("release", "text"),
    ("uri", "text"),
]
GEOAREA_LIST_COLUMNS: list[tuple[str, str]] = [
    *PROVENANCE_COLUMNS,
    ("geo_area_code", "text"),
    ("area_code", "text"),
    ("geo_area_name", "text"),
]
KINDS = ("series_data", "series_list", "geoarea_list")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_RESTARTS = 3


from lgstats.pipeline.http import ResponseError as PageError  # noqa: E402  (kept under its historical name)


def parse_value(raw: Any) -> tuple[str | None, str | None]:
    """(numeric text or None, qualifier or None). Censored values ("<2.5", ">95") keep only a qualifier."""
    if raw is None:
        return None, None
    text = str(raw).strip()
    if text[:1] in ("<", ">"):
        return None, text[0]
    if _NUMBER.match(text):
        return text, None
    return None, None


def parse_year(raw: Any) -> int | None:
    """``timePeriodStart`` is a float (2000.0) in JSON; a string in some fixtures."""
    if raw is None or raw == "":
        return None
    try:
        return int(float(raw))
    except (TypeError, ValueError):
        return None


def pad_area(code: Any) -> str | None:
    """M49 codes are zero-padded to 3; longer or non-numeric codes (99044) are kept as given."""
    if code is None:
        return None
    text = str(code).strip()
    return text.zfill(3) if text.isdigit() and len(text) <= 3 else text


def check_envelope(payload: Any, where: str) -> dict:
    if not isinstance(payload, dict):
        raise PageError(f"{where}: expected a JSON object (the Series/Data envelope), got {type(payload).__name__}")
    missing = [k for k in ("totalElements", "totalPages", "data") if k not in payload]
    if missing:
        raise PageError(f"{where}: the Series/Data envelope lacks {missing}; the API may have changed its schema")
    if not isinstance(payload["data"], list):
        raise PageError(f"{where}: 'data' is {type(payload['data']).__name__}, expected a list")
    try:
        int(payload["totalElements"]), int(payload["totalPages"])
    except (TypeError, ValueError) as exc:
        raise PageError(f"{where}: totalElements/totalPages are not integers ({exc})") from exc
    return payload


def check_list(payload: Any, where: str) -> list:
    if not isinstance(payload, list):
        raise PageError(f"{where}: expected a JSON array, got {type(payload).__name__}")
    return payload


def kind(dataset: Dataset) -> str:
    k = getattr(dataset, "kind", None) or "series_data"
    if k not in KINDS:
        raise ValueError(f"un_sdg dataset {dataset.name!r}: kind must be one of {KINDS}, got {k!r}")
    return k


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    return {"series_data": SERIES_DATA_COLUMNS, "series_list": SERIES_LIST_COLUMNS,
            "geoarea_list": GEOAREA_LIST_COLUMNS}[kind(dataset)]


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    """Fetch the dataset into ``writer``; returns origin fields for the sidecar."""
    base = source.effective_base_url()
    url = f"{base}/{dataset.endpoint}"
    session = source_session(source)
    deadline = Deadline(source.http.max_total_seconds)
    if kind(dataset) != "series_data":
        body, payload, final_url = get_json(session, url, [], source.http, deadline, check=check_list)
        writer.add(f"{kind(dataset)}.json", body, url=final_url, rows=len(payload), total_elements=len(payload))
        return {"producer": source.title, "base_url": base, "endpoint": dataset.endpoint, "query": {}}
    areas = dataset.area_codes()
    for series in dataset.series:
        for _restart in range(MAX_RESTARTS + 1):
            expected = None
            consistent = True
            page = 1
            names = []
            while True:
                params = [("seriesCode", series.code), *[("areaCode", a) for a in areas],
                          ("page", page), ("pageSize", dataset.page_size)]
                body, payload, final_url = get_json(session, url, params, source.http, deadline, check=check_envelope)
                total = int(payload["totalElements"])
                if expected is None:
                    expected = total
                elif total != expected:
                    consistent = False  # the data changed under us: refetch the whole series
                    break
                name = f"{series.code}__page-{page:04d}.json"
                writer.add(name, body, url=final_url, series=series.code, page=page, total_elements=total,
                           rows=len(payload["data"]))
                names.append(name)
                if page >= int(payload["totalPages"]) or not payload["data"]:
                    break
                page += 1
            if consistent:
                break
            writer.discard(names)
        else:
            raise FetchError(f"{series.code}: totalElements kept changing between pages after {MAX_RESTARTS} refetches")
    return {"producer": source.title, "base_url": base, "endpoint": dataset.endpoint,
            "query": {"series": [s.code for s in dataset.series], "areas": areas, "pageSize": dataset.page_size}}


def iter_pages(snapshot: Snapshot, check=check_envelope) -> Iterator[tuple[str, Any]]:
    for record in snapshot.origin["files"]:
        path = snapshot.path / record["file"]
        yield record["file"], _page(path, path.read_bytes(), check)


def _page(path: Path, body: bytes, check=check_envelope) -> Any:
    """A page body decoded and checked, or a PageError naming the file and the fix."""
    try:
        payload = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise PageError(f"{path}: not valid JSON ({exc}). Re-fetch the snapshot or restore the file.") from exc
    return check(payload, str(path))


_decode = msgspec.json.decode  # faster than json: parsing, not COPY, bounds the loader (docs/performance.md)
_encoder = msgspec.json.Encoder()


def _json(value: Any) -> str:
    """JSON text for a jsonb column."""
    return _encoder.encode(value).decode()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse(snapshot: Snapshot, dataset: Dataset | None = None) -> Iterator[dict]:
    """Rows for the dataset's raw table, streamed file by file."""
    k = kind(dataset) if dataset is not None else "series_data"
    if k == "series_list":
        return _parse_series_list(snapshot)
    if k == "geoarea_list":
        return _parse_geoarea_list(snapshot)
    return _parse_series_data(snapshot)


def _list_items(snapshot: Snapshot) -> Iterator[tuple[str, int, dict]]:
    """(file, position, object) for the array bodies of Series/List and GeoArea/List."""
    for name, payload in iter_pages(snapshot, check_list):
        for i, item in enumerate(payload, start=1):
            if not isinstance(item, dict):
                raise PageError(f"{snapshot.path / name}: item {i - 1} is not an object")
            yield name, i, item


def _parse_series_list(snapshot: Snapshot) -> Iterator[dict]:
    for name, i, item in _list_items(snapshot):
        yield {"snapshot_id": snapshot.id, "source_file": name, "row_number": i,
               "series_code": _text(item.get("code")), "series_description": _text(item.get("description")),
               "goal": _json(item.get("goal")), "target": _json(item.get("target")),
               "indicator": _json(item.get("indicator")), "release": _text(item.get("release")),
               "uri": _text(item.get("uri"))}


def _parse_geoarea_list(snapshot: Snapshot) -> Iterator[dict]:
    for name, i, item in _list_items(snapshot):
        yield {"snapshot_id": snapshot.id, "source_file": name, "row_number": i,
               "geo_area_code": _text(item.get("geoAreaCode")), "area_code": pad_area(item.get("geoAreaCode")),
               "geo_area_name": _text(item.get("geoAreaName"))}


def _parse_series_data(snapshot: Snapshot) -> Iterator[dict]:
    """One dict per observation (for validation and tests); the load takes the tuples directly."""
    names = [n for n, _ in SERIES_DATA_COLUMNS]
    return (dict(zip(names, row, strict=True)) for row in _series_data_rows(snapshot))


def _series_data_rows(snapshot: Snapshot) -> Iterator[tuple]:
    """One tuple per observation in SERIES_DATA_COLUMNS order, streamed page by page: what COPY takes,
    without a dict per row (the loader's main cost, docs/performance.md). A page in the API's usual shape
    takes the typed decoder; any other page (a number where text is usual, a damaged body) takes the
    general one, which gives the same rows or names the fault."""
    for record in snapshot.origin["files"]:
        name = record["file"]
        body = (snapshot.path / name).read_bytes()  # read once, whichever decoder takes it
        try:
            yield from _typed_page(snapshot.id, name, body)
        except msgspec.DecodeError:
            yield from _general_page(snapshot, name, body)


def _general_page(snapshot: Snapshot, name: str, body: bytes) -> Iterator[tuple]:
    sid = snapshot.id
    path = snapshot.path / name
    payload = _page(path, body)
    for i, obs in enumerate(payload["data"], start=1):
        if not isinstance(obs, dict):
            raise PageError(f"{path}: data[{i - 1}] is not an object")
        get = obs.get
        attributes = get("attributes") or {}
        dimensions = get("dimensions") or {}
        value = get("value")
        value_num, qualifier = parse_value(value)
        start = get("timePeriodStart")
        yield (
            sid, name, i,
            _text(get("series")), _text(get("seriesDescription")),
            _json(get("goal")), _json(get("target")), _json(get("indicator")),
            _text(get("geoAreaCode")), _text(get("geoAreaName")), pad_area(get("geoAreaCode")),
            _text(start), parse_year(start),
            _text(value), value_num, qualifier, _text(get("valueType")), _text(get("time_detail")),
            _text(attributes.get("Nature")), _text(attributes.get("Units") or dimensions.get("Units")),
            _text(attributes.get("UnitMultiplier")), _text(dimensions.get("Reporting Type")),
            _text(get("source")),
            _json(get("footnotes")), _json(attributes), _json(dimensions),
            _text(get("upperBound")), _text(get("lowerBound")), _text(get("basePeriod")),
        )


# The typed decoder: text fields must be text (so no str() per field), the JSON columns stay the page's own
# bytes (msgspec.Raw: no decode and re-encode), and only the three attributes and two dimensions that have
# columns are read out of their maps. About 2.4 times the general decoder's speed (docs/performance.md).
_Text = str | None
_NULL = msgspec.Raw(b"null")


class _Attributes(msgspec.Struct):
    Nature: _Text = None
    Units: _Text = None
    UnitMultiplier: _Text = None


class _Dimensions(msgspec.Struct):
    Units: _Text = None
    reporting_type: _Text = msgspec.field(default=None, name="Reporting Type")


class _Observation(msgspec.Struct):
    series: _Text = None
    seriesDescription: _Text = None
    goal: msgspec.Raw = _NULL
    target: msgspec.Raw = _NULL
    indicator: msgspec.Raw = _NULL
    geoAreaCode: _Text = None
    geoAreaName: _Text = None
    timePeriodStart: Any = None  # a float in JSON; kept as decoded so that its text is the general decoder's
    value: _Text = None
    valueType: _Text = None
    time_detail: _Text = None
    source: _Text = None
    footnotes: msgspec.Raw = _NULL
    attributes: msgspec.Raw = _NULL
    dimensions: msgspec.Raw = _NULL
    upperBound: _Text = None
    lowerBound: _Text = None
    basePeriod: _Text = None


class _Page(msgspec.Struct):
    totalElements: int
    totalPages: int
    data: list[_Observation]


_page_decoder = msgspec.json.Decoder(_Page)
_attributes_decoder = msgspec.json.Decoder(_Attributes).decode
_dimensions_decoder = msgspec.json.Decoder(_Dimensions).decode
_NO_ATTRIBUTES, _NO_DIMENSIONS = _Attributes(), _Dimensions()
# few distinct area codes, years and values repeat across a page: remembered, not recomputed
_pad_area = functools.lru_cache(maxsize=4096)(pad_area)
_parse_year = functools.lru_cache(maxsize=4096)(parse_year)
_parse_value = functools.lru_cache(maxsize=65536)(parse_value)


def _typed_page(sid: str, name: str, body: bytes) -> list[tuple]:
    """The page's rows, or msgspec.DecodeError when the page is not in the usual shape. A whole page is
    decoded before any row leaves, so a page never half-takes one decoder and half the other."""
    out = []
    for i, obs in enumerate(_page_decoder.decode(body).data, start=1):
        raw_attributes, raw_dimensions = obs.attributes, obs.dimensions
        if raw_attributes == _NULL:
            attributes, attributes_json = _NO_ATTRIBUTES, "{}"
        else:
            attributes, attributes_json = _attributes_decoder(raw_attributes), bytes(raw_attributes).decode()
        if raw_dimensions == _NULL:
            dimensions, dimensions_json = _NO_DIMENSIONS, "{}"
        else:
            dimensions, dimensions_json = _dimensions_decoder(raw_dimensions), bytes(raw_dimensions).decode()
        value_num, qualifier = _parse_value(obs.value)
        start = obs.timePeriodStart
        out.append((
            sid, name, i,
            obs.series, obs.seriesDescription,
            bytes(obs.goal).decode(), bytes(obs.target).decode(), bytes(obs.indicator).decode(),
            obs.geoAreaCode, obs.geoAreaName, _pad_area(obs.geoAreaCode),
            _text(start), _parse_year(start),
            obs.value, value_num, qualifier, obs.valueType, obs.time_detail,
            attributes.Nature, attributes.Units or dimensions.Units, attributes.UnitMultiplier,
            dimensions.reporting_type,
            obs.source,
            bytes(obs.footnotes).decode(), attributes_json, dimensions_json,
            obs.upperBound, obs.lowerBound, obs.basePeriod,
        ))
    return out


def rows(snapshot: Snapshot, dataset: Dataset | None = None) -> Iterator:
    """Rows for COPY: Series/Data as tuples in column order (no dict per row); the small lists as the dicts
    of ``parse``, which the loader puts in column order itself."""
    if dataset is None or kind(dataset) == "series_data":
        return _series_data_rows(snapshot)
    return parse(snapshot, dataset)


def expected_rows(snapshot: Snapshot) -> int:
    return snapshot.announced_rows()


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    if kind(dataset) != "series_data":
        # A replay rebuilt from a bulk export names the registry series it has no real copy of: those are
        # absent on purpose (never invented), so the catalogue is not asked to hold them.
        absent = set(snapshot.origin.get("series_absent") or [])
        wanted = [s.code for s in source.dataset("series_data").series if s.code not in absent]
        return {"registry_series": wanted if kind(dataset) == "series_list" else [],
                "min_rows": dataset.thresholds.get("min_rows", 1)}
    return {
        "registry_series": [s.code for s in dataset.series],
        "known_units": units.known(source.name),
        "expected_rows": expected_rows(snapshot),
        "year_min": dataset.thresholds.get("year_min", 1950),
        "year_max": dataset.thresholds.get("year_max", 2100),
    }


# Columns of Series/Data with few distinct values: stored once per value in the validation frame.
_SHARED = {"snapshot_id", "source_file", "series_code", "geo_area_code", "area_code", "year", "units",
           "dimensions", "attributes", "nature", "value_type", "reporting_type"}


DERIVED_COLUMNS = {"value_float": "value_num"}  # a suite column → the raw column it is derived from
CATEGORICAL = _SHARED  # read back as categories: few distinct values, stored once


def finish_frame(frame, dataset: Dataset | None = None):
    """The staged rows read back: the suite checks value_float, derived from value_num."""
    if "value_num" in frame:
        frame["value_float"] = frame.pop("value_num").astype(float)
    return frame


def validation_frame(rows, dataset: Dataset | None = None):
    """The parsed rows as a DataFrame with the derived columns the suite checks. Series/Data keeps only the
    columns its suite reads (memory stays near a gigabyte at 10M rows); the lists keep every column."""
    import pandas as pd

    from lgstats.pipeline.validation import lean_frame, suite_columns

    if dataset is not None and kind(dataset) != "series_data":
        return pd.DataFrame(list(rows), columns=[n for n, _ in columns(dataset)])
    names = [n for n, _ in SERIES_DATA_COLUMNS]
    # the suite reads value_float, derived from value_num below
    read = suite_columns(dataset.suite if dataset is not None else "un_sdg__series_data", [*names, "value_float"])
    df = lean_frame(rows, ["value_num" if c == "value_float" else c for c in read], _SHARED)
    if "value_num" in df:
        df["value_float"] = pd.to_numeric(df.pop("value_num"), errors="coerce")
    return df
