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
  their city; the UN does not count wards, and ``marts.dim_area`` leaves them out); municipalities get a
  romanised name from the register's own kana (jaconv, Hepburn-style, the 市/町/村 ending dropped);
- ``lgd`` (India, Local Government Directory): states and union territories and districts (administrative
  units), urban local bodies (local governments) with their type;
- ``thai_provinces`` (Thailand): provinces (whose Provincial Administrative Organisations, and Bangkok's
  Metropolitan Administration, are the local governments of the province's area) and districts (amphoe and
  Bangkok's khet: administrative units). The province code is the DOPA code its districts' codes begin with;
- ``dvhcvn`` (Viet Nam, GSO codes): provinces, districts and communes, each with its People's Council;
- ``legal_dong`` (Republic of Korea, legal-dong codes in use): sido, and si/gun/gu (the codes ending 00000). A
  gu inside a si (수원시 장안구) and Jeju's two cities are administrative, not local governments. Names are
  romanised letter by letter (anyascii), not in the official Revised Romanization spelling.

Which levels are local governments is declared per register (``local_government_levels``); which the UN
counts in SG_GOV_LOGV too (``sdg_local_government_levels``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from lgstats.pipeline.http import Deadline, ResponseError, request_checked, source_session
from lgstats.pipeline.registry_model import ConnectorKeys, Dataset, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter

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
    ("register_vintage_year", "integer"),
    ("is_local_government", "boolean"),
    ("area_name_romanised", "text"),
    ("romanisation", "text"),
    ("latitude", "numeric"),
    ("longitude", "numeric"),
    ("is_capital", "boolean"),
]
LEVELS = ("state_or_region", "province", "district", "local_government", "commune", "ward")
MAX_BYTES = 20 * 1024 * 1024  # a register is a few hundred kB; anything near this is not a register


class RegisterSpec(ConnectorKeys):
    """The register part of a registry entry; a misspelt key is refused with the dataset named."""

    country_iso3: str
    country_area_code: str
    format: str
    code_prefix: str
    files: dict[str, str]
    vintage: str
    vintage_year: int  # the year the register describes: its counts hold from then on, not for earlier years
    expected: dict[str, int]
    sdg_local_government_levels: list[str]
    local_government_levels: list[str] = []   # levels with their own elected government (default: the SDG ones)
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
    unknown = [lv for lv in [*sp.expected, *sp.sdg_local_government_levels, *sp.local_government_levels]
               if lv not in LEVELS]
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
    session = source_session(source)
    session.headers["Accept"] = "text/csv, text/plain"
    deadline = Deadline(source.http.max_total_seconds)
    for role, path in sp.files.items():
        body, _, url = request_checked(session, "GET", f"{base}/{path}", policy=source.http, deadline=deadline,
                                       check=_check_csv)
        writer.add(unquote(path.rsplit("/", 1)[-1]), body, url=url, role=role)
    return {"producer": source.title, "base_url": base, "endpoint": None, "licence": sp.licence,
            "register_vintage": sp.vintage, "register_vintage_year": sp.vintage_year, "origin": sp.origin}


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
         name_en: str | None = None, romanised: tuple[str, str] | None = None, is_local_government: bool | None = None,
         key: str | None = None, point: tuple[str, str] | None = None, is_capital: bool | None = None) -> dict:
    """One area. ``key`` is the code within the lgstats area code when a register's code lists overlap
    (India's state, district and local-body codes: S-35, D-603, U-253098)."""
    lg_levels = sp.local_government_levels or sp.sdg_local_government_levels
    return {"snapshot_id": snapshot.id, "source_file": file, "row_number": n, "country_iso3": sp.country_iso3,
            "official_code": code, "area_code": f"{sp.code_prefix}{key or code}" if code else None, "area_name": name,
            "area_name_en": name_en, "area_type": area_type, "area_level": level,
            "parent_official_code": parent_code, "parent_area_code": parent_area, "parent_resolution": resolution,
            "counts_as_local_government": level in sp.sdg_local_government_levels, "register_vintage": sp.vintage,
            "register_vintage_year": sp.vintage_year,
            "is_local_government": level in lg_levels if is_local_government is None else is_local_government,
            "area_name_romanised": romanised[0] if romanised else None,
            "romanisation": romanised[1] if romanised else None,
            "latitude": (point[0] or None) if point else None, "longitude": (point[1] or None) if point else None,
            "is_capital": is_capital}


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
    by_pid, capitals = {}, {}
    for n, r in enumerate(prefectures, start=2):
        capitals[r["pid"]] = r["capital"]
        code = r["lgcode"].zfill(6)  # the file drops the leading zero of 01-09
        by_pid[r["pid"]] = code
        yield _row(sp, snapshot, file, n, code, r["pref"], "province", "prefecture", None, sp.country_area_code,
                   name_en=r["pref_en"], point=(r["lat"], r["lng"]))
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
                   f"{p}{parent}" if parent else None, romanised=_kana_romanised(name, r["citykana"]),
                   point=(r["lat"], r["lng"]), is_capital=name == capitals.get(r["pid"]))


KANA_ENDINGS = {"市": ("し",), "町": ("まち", "ちょう"), "村": ("むら", "そん"), "区": ("く",)}


def _kana_romanised(name: str, kana: str) -> tuple[str, str] | None:
    """島田市, しまだし → ("Shimada", …): the reading the register gives, without the ending of its kind."""
    import jaconv

    kana = kana.strip()
    for ending in KANA_ENDINGS.get(name[-1:], ()):
        if kana.endswith(ending) and len(kana) > len(ending):
            kana = kana[: -len(ending)]
            break
    else:
        return None
    latin = jaconv.kana2alphabet(kana)
    if not latin.isascii() or not latin.isalpha():
        return None  # a kana the converter does not know: no romanised name rather than a wrong one
    return latin.capitalize(), "Hepburn-style from the register's kana (jaconv), ending dropped; long vowels not marked"


KOREAN_SUFFIXES = ("특별자치시", "특별자치도", "특별시", "광역시", "시", "군", "구", "도")


def _letters(text: str) -> tuple[str, str]:
    """서울특별시 종로구 → "Jonglo-gu": the area's own name (its last word), its kind after a hyphen, as the lists
    of place names write Korean names (Suwon-si, Busan-gwangyeoksi)."""
    from anyascii import anyascii

    word = text.split()[-1]
    suffix = next((x for x in KOREAN_SUFFIXES if word.endswith(x) and len(word) > len(x)), "")
    stem = word[: len(word) - len(suffix)]
    latin = anyascii(stem).lower().capitalize() + (f"-{anyascii(suffix).lower()}" if suffix else "")
    return latin, "transliterated letter by letter (anyascii), not the official Revised Romanization spelling"


def _lgd(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    p = sp.code_prefix
    file, states = _read(snapshot, "states")
    for n, r in enumerate(states, start=2):
        kind = {"S": "State", "U": "Union territory"}.get(r["State or UT"], r["State or UT"])
        yield _row(sp, snapshot, file, n, r["State Code"], r["State Name"], "state_or_region", kind, None,
                   sp.country_area_code, key=f"S-{r['State Code']}")
    file, districts = _read(snapshot, "districts")
    for n, r in enumerate(districts, start=2):
        yield _row(sp, snapshot, file, n, r["District Code"], r["District Name"], "district", "District",
                   r["State Code"], f"{p}S-{r['State Code']}", key=f"D-{r['District Code']}")
    _, types = _read(snapshot, "body_types")
    described = {t["Local Body Code"]: t["Description"] for t in types}
    file, bodies = _read(snapshot, "urban_local_bodies")
    for n, r in enumerate(bodies, start=2):
        yield _row(sp, snapshot, file, n, r["Local Body Code"], r["Local Body Name"], "local_government",
                   described.get(r["Localbody Type Code"], f"type {r['Localbody Type Code']}"), r["State Code"],
                   f"{p}S-{r['State Code']}", resolution="the directory gives the state, not the district",
                   key=f"U-{r['Local Body Code']}")


def _thai_provinces(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    p = sp.code_prefix
    district_file, districts = _read(snapshot, "districts")  # read once: for the province codes and the rows
    codes: dict[str, set[str]] = {}
    for d in districts:
        codes.setdefault(d["province_id"], set()).add(d["id"][:-2])
    file, provinces = _read(snapshot, "provinces")
    official = {}
    for n, r in enumerate(provinces, start=2):
        if len(codes.get(r["id"], ())) != 1:
            raise ResponseError(f"{snapshot.path / file}: line {n}: the districts of province {r['name_en']!r} do "
                                f"not share one province code ({sorted(codes.get(r['id'], ()))})")
        code = official[r["id"]] = next(iter(codes[r["id"]]))
        kind = ("Bangkok Metropolitan Administration" if code == "10"
                else "changwat (Provincial Administrative Organisation)")
        yield _row(sp, snapshot, file, n, code, r["name_th"], "province", kind, None, sp.country_area_code,
                   name_en=r["name_en"])
    for n, r in enumerate(districts, start=2):
        province = official[r["province_id"]]
        yield _row(sp, snapshot, district_file, n, r["id"], r["name_th"], "district",
                   "khet" if province == "10" else "amphoe",
                   province, f"{p}{province}", name_en=r["name_en"])


def _dvhcvn(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    import json

    p = sp.code_prefix
    record = next(f for f in snapshot.origin["files"] if f.get("role") == "areas")
    data = json.loads((snapshot.path / record["file"]).read_bytes())["data"]
    n = 0
    for province in data:
        n += 1
        yield _row(sp, snapshot, record["file"], n, province["level1_id"], province["name"], "province",
                   province["type"], None, sp.country_area_code)
        for district in province["level2s"]:
            n += 1
            yield _row(sp, snapshot, record["file"], n, district["level2_id"], district["name"], "district",
                       district["type"], province["level1_id"], f"{p}{province['level1_id']}")
            for commune in district["level3s"]:
                n += 1
                yield _row(sp, snapshot, record["file"], n, commune["level3_id"], commune["name"], "commune",
                           commune["type"], district["level2_id"], f"{p}{district['level2_id']}")


def _legal_dong(sp: RegisterSpec, snapshot: Snapshot) -> Iterator[dict]:
    p = sp.code_prefix
    file, rows = _read(snapshot, "codes")
    in_use = [(n, r) for n, r in enumerate(rows, start=2) if r["폐지여부"] == "존재"]
    sido = {}
    for n, r in in_use:
        code, name = r["법정동코드"], r["법정동명"]
        if code.endswith("00000000") or (code.endswith("00000") and " " not in name):  # 세종특별자치시: single tier
            sido[code[:2]] = code
            yield _row(sp, snapshot, file, n, code, name, "province", "sido", None, sp.country_area_code,
                       romanised=_letters(name))
    codes = {r["법정동코드"] for _, r in in_use}
    for n, r in in_use:
        code, name = r["법정동코드"], r["법정동명"]
        if not code.endswith("00000") or code[:2] + "00000000" == code or " " not in name:
            continue
        parts = name.split()
        if len(parts) == 3:  # 수원시 장안구: a gu inside a si, administrative
            parent = code[:4] + "000000"  # its si: 4111100000 수원시 장안구 is under 4111000000 수원시
            if parent not in codes:
                raise ResponseError(f"{snapshot.path / file}: line {n}: {name} has no si {parent} in use")
            yield _row(sp, snapshot, file, n, code, name, "ward", "gu (administrative, inside a si)", parent,
                       f"{p}{parent}", romanised=_letters(name), is_local_government=False)
        elif parts[0].startswith("제주"):  # Jeju's cities are administrative (Special Self-Governing Province)
            yield _row(sp, snapshot, file, n, code, name, "district", "si (administrative, Jeju)", sido[code[:2]],
                       f"{p}{sido[code[:2]]}", romanised=_letters(name), is_local_government=False)
        else:
            kind = {"시": "si", "군": "gun", "구": "gu"}[parts[-1][-1]]
            yield _row(sp, snapshot, file, n, code, name, "local_government", kind, sido[code[:2]],
                       f"{p}{sido[code[:2]]}", romanised=_letters(name))


PARSERS = {"psgc": _psgc, "kemendagri": _kemendagri, "localgovjp": _localgovjp, "lgd": _lgd,
           "thai_provinces": _thai_provinces, "dvhcvn": _dvhcvn, "legal_dong": _legal_dong}
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
