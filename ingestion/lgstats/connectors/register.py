"""Official registers of local governments: code lists published as CSV files, kept as fetched.

A register dataset names its files (``files``: role → path under the base URL) and their ``format``; the
parser turns each format into one row per area with its official code kept as published, an lgstats
``area_code`` (``code_prefix`` + official code, so codes of different countries never collide), its level,
its parent, and whether the UN counts it in SG_GOV_LOGV (``sdg_local_government_levels``). Formats:

- ``psgc`` (Philippines): regions, provinces, cities and municipalities. A city whose province code is not in
  the provinces file (old Maguindanao 1538, the NCR districts, Isabela City, Cotabato City) is placed under
  the region its own code names (PSGC codes begin with the region), and ``parent_resolution`` says so;
- ``kemendagri`` (Indonesia): ``kode,nama``, ``11`` a province, ``11.01`` a kabupaten or kota;
- ``localgovjp`` (Japan): prefectures, and municipalities with designated-city wards (a ``ward`` level under
  their city; the UN does not count wards, and ``marts.dim_area`` leaves them out).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from lgstats.http import Deadline, ResponseError, make_session, request_checked
from lgstats.registry import ConnectorKeys, Dataset, Source
from lgstats.snapshots import Snapshot, SnapshotWriter

COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
    ("country_iso3", "text not null"),
    ("official_code", "text"),
    ("area_code", "text"),
    ("area_name", "text"),
    ("area_name_en", "text"),
    ("area_type", "text"),
    ("area_level", "text"),
    ("parent_official_code", "text"),
    ("parent_area_code", "text"),
    ("parent_resolution", "text"),
    ("counts_as_local_government", "boolean"),
    ("register_vintage", "text"),
]
LEVELS = ("state_or_region", "province", "local_government", "ward")
MAX_BYTES = 20 * 1024 * 1024  # a register is a few hundred kB; anything near this is not a register


class RegisterSpec(ConnectorKeys):
    """The register part of a registry entry; a misspelt key is refused with the dataset named."""

    country_iso3: str
    country_area_code: str
    format: str
    code_prefix: str
    files: dict[str, str]
    vintage: str
    expected: dict[str, int]
    sdg_local_government_levels: list[str]
    licence: str
    origin: dict[str, str] = {}


def spec(dataset: Dataset) -> RegisterSpec:
    extra = dict(dataset.model_extra or {})
    try:
        sp = RegisterSpec.model_validate(extra)
    except ValidationError as exc:
        problems = "; ".join(f"{'unknown' if e['type'] == 'extra_forbidden' else e['msg'].lower()}: "
                             f"{'.'.join(map(str, e['loc']))}" for e in exc.errors())
        raise ValueError(f"registry dataset {dataset.name!r} (connector register): {problems}. Keys are "
                         f"{sorted(RegisterSpec.model_fields)}") from None
    if sp.format not in PARSERS:
        raise ValueError(f"registry dataset {dataset.name!r}: format must be one of {sorted(PARSERS)}")
    unknown = [lv for lv in [*sp.expected, *sp.sdg_local_government_levels] if lv not in LEVELS]
    if unknown:
        raise ValueError(f"registry dataset {dataset.name!r}: unknown level(s) {unknown}; levels are {LEVELS}")
    return sp


def columns(dataset: Dataset) -> list[tuple[str, str]]:
    return COLUMNS


def _check_csv(body: bytes, resp) -> bytes:
    if len(body) > MAX_BYTES:
        raise ResponseError(f"{resp.url}: {len(body)} bytes, more than a register can be ({MAX_BYTES})")
    if body.lstrip()[:1] in (b"<", b"{", b"["):
        raise ResponseError(f"{resp.url}: expected CSV, got what looks like HTML or JSON")
    return body


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    sp = spec(dataset)
    base = source.effective_base_url()
    session = make_session(source.http)
    session.headers["Accept"] = "text/csv, text/plain"
    deadline = Deadline(source.http.max_total_seconds)
    for role, path in sp.files.items():
        body, _, url = request_checked(session, "GET", f"{base}/{path}", policy=source.http, deadline=deadline,
                                       check=_check_csv)
        writer.add(path.rsplit("/", 1)[-1], body, url=url, role=role)
    return {"producer": source.title, "base_url": base, "endpoint": None, "licence": sp.licence,
            "register_vintage": sp.vintage, "origin": sp.origin}


def _read(snapshot: Snapshot, role: str) -> tuple[str, list[dict]]:
    record = next((f for f in snapshot.origin["files"] if f.get("role") == role), None)
    if record is None:
        raise ResponseError(f"{snapshot.path}: the snapshot has no {role!r} file (see its _origin.json)")
    path = snapshot.path / record["file"]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResponseError(f"{path}: not UTF-8 at byte {exc.start}; re-fetch the register file") from exc
    return record["file"], list(csv.DictReader(io.StringIO(text, newline="")))


def _row(sp: RegisterSpec, snapshot: Snapshot, file: str, n: int, code: str | None, name: str | None, level: str,
         area_type: str | None, parent_code: str | None, parent_area: str | None, resolution: str | None = None,
         name_en: str | None = None) -> dict:
    return {"snapshot_id": snapshot.id, "source_file": file, "row_number": n, "country_iso3": sp.country_iso3,
            "official_code": code, "area_code": f"{sp.code_prefix}{code}" if code else None, "area_name": name,
            "area_name_en": name_en, "area_type": area_type, "area_level": level,
            "parent_official_code": parent_code, "parent_area_code": parent_area, "parent_resolution": resolution,
            "counts_as_local_government": level in sp.sdg_local_government_levels, "register_vintage": sp.vintage}


def _psgc(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    p = sp.code_prefix
    file, regions = _read(snapshot, "regions")
    for n, r in enumerate(regions, start=2):  # row numbers are file lines: line 1 is the header
        yield _row(sp, snapshot, file, n, r["code"], r["name"], "state_or_region", "region", None,
                   sp.country_area_code)
    region_codes = {r["code"] for r in regions}
    file, provinces = _read(snapshot, "provinces")
    for n, r in enumerate(provinces, start=2):
        yield _row(sp, snapshot, file, n, r["code"], r["name"], "province", "province", r["region_code"],
                   f"{p}{r['region_code']}")
    province_codes = {r["code"] for r in provinces}
    file, cities = _read(snapshot, "cities_municipalities")
    for n, r in enumerate(cities, start=2):
        parent, resolution = r["province_code"], None
        if parent not in province_codes and (r["code"] or "")[:2] in region_codes:
            resolution = (f"province code {parent} is not in the provinces file: placed under region "
                          f"{r['code'][:2]}, the region its own PSGC code names")
            parent_area = f"{p}{r['code'][:2]}"
        else:
            parent_area = f"{p}{parent}" if parent else None
        yield _row(sp, snapshot, file, n, r["code"], r["name"], "local_government", r["type"], parent,
                   parent_area, resolution)


def _kemendagri(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    file, rows = _read(snapshot, "areas")
    for n, r in enumerate(rows, start=2):
        code, name = r["kode"], r["nama"]
        if len(code) == 2:
            yield _row(sp, snapshot, file, n, code, name, "province", "provinsi", None, sp.country_area_code)
        else:
            kind = name.split(" ", 1)[0].lower() if name.split(" ", 1)[0] in ("Kabupaten", "Kota") else None
            yield _row(sp, snapshot, file, n, code, name, "local_government", kind, code.split(".")[0],
                       f"{sp.code_prefix}{code.split('.')[0]}")


def _localgovjp(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    p = sp.code_prefix
    file, prefectures = _read(snapshot, "prefectures")
    by_pid = {}
    for n, r in enumerate(prefectures, start=2):
        code = r["lgcode"].zfill(6)  # the file drops the leading zero of 01-09
        by_pid[r["pid"]] = code
        yield _row(sp, snapshot, file, n, code, r["pref"], "province", "prefecture", None, sp.country_area_code,
                   name_en=r["pref_en"])
    file, municipalities = _read(snapshot, "municipalities")
    cities = {(r["pid"], r["city"]): r["lgcode"] for r in municipalities if " " not in r["city"]}
    for n, r in enumerate(municipalities, start=2):
        name, code = r["city"], r["lgcode"]
        if " " in name:  # "札幌市 中央区": a ward of a designated city, under that city
            city = cities.get((r["pid"], name.split(" ", 1)[0]))
            yield _row(sp, snapshot, file, n, code, name, "ward", "行政区", city, f"{p}{city}" if city else None)
            continue
        kind = "特別区" if name.endswith("区") else name[-1]
        parent = by_pid.get(r["pid"])
        yield _row(sp, snapshot, file, n, code, name, "local_government", kind, parent,
                   f"{p}{parent}" if parent else None)


PARSERS = {"psgc": _psgc, "kemendagri": _kemendagri, "localgovjp": _localgovjp}
DatasetSpec = RegisterSpec  # what the registry checks a register dataset's keys against


def parse(snapshot: Snapshot, dataset: Dataset) -> Iterator[dict]:
    sp = spec(dataset)
    try:
        yield from PARSERS[sp.format](sp, snapshot)
    except KeyError as exc:
        raise ResponseError(f"{snapshot.path}: a {sp.format} register file lacks the column {exc}; "
                            "the publisher changed its layout: update the parser or the registry entry") from exc


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    """Official totals per level (0 where the register has no such level) and the codes a parent may have:
    any area of this register, or the country itself."""
    sp = spec(dataset)
    codes = sorted({r["area_code"] for r in parse(snapshot, dataset) if r["area_code"]})
    return {**{f"expected_{lv}": sp.expected.get(lv, 0) for lv in LEVELS},
            "known_parents": [*codes, sp.country_area_code], "country_iso3": sp.country_iso3}


def validation_frame(rows, dataset: Dataset | None = None):
    import pandas as pd

    return pd.DataFrame(list(rows), columns=[n for n, _ in COLUMNS])


rows = parse  # the load streams the parsed dicts (the loader puts them in column order)
