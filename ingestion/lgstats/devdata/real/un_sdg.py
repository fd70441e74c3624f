"""UN SDG ``Series/Data`` and ``Series/List`` rebuilt from the 2020 release (open-numbers DDF export).

Values, codes and names are verbatim from ``data/real/un_sdg_2020_ddf/``: the DDF export lower-cases ids
(``sg_gov_logv``, ``female``, ``mgr_m_3``) and keeps the API's own code as the entity's ``name``
(``FEMALE``, ``mgr/m^3``), which is what the pages carry. What the export does not hold is left out of the
pages rather than guessed: the ``source``, ``footnotes`` and ``Reporting Type`` of each observation, and the
catalogue's ``release``. Series of the registry with no real copy here are absent, and the sidecar says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from lgstats.devdata.real import REAL_DIR, REPLAY_DIR, asia_pacific_areas, read_csv
from lgstats.pipeline.connectors.un_sdg import parse_value
from lgstats.pipeline.registry import Source, source
from lgstats.pipeline.snapshots import write_recorded

DDF = REAL_DIR / "un_sdg_2020_ddf"
ORIGIN_REPO = "open-numbers/ddf--unstats--sdg_indicators"
ORIGIN_COMMIT = "1bfae15828a86ad30e86872411534f5c8136d784"
RETRIEVED_AT = "2020-10-19T03:40:58+00:00"  # the commit that saved these files ("auto generated dataset")
LICENCE = ("CC BY 4.0 (open-numbers DDF export, datapackage.json); UN SDG Global Database terms of use: free to "
           "use and reproduce with attribution to the United Nations")
PAGE_SIZE = 100  # several pages for the larger series, so replay exercises paging as the live API does
DIMENSIONS = {"sex": "Sex", "location": "Location", "cities": "Cities"}  # DDF entity → API dimension key
KEYS = ("geo_area", "nature", "units", "year")
RELEASE = "UN SDG 2020 release"  # the release the data are of: status and ops.freshness name it
NOTE = ("Values verbatim from the UN SDG Global Database 2020 release, via the open-numbers DDF export at commit "
        f"{ORIGIN_COMMIT[:8]} (CC BY 4.0). The pages were rebuilt from that bulk export, not recorded from an HTTP "
        "response: codes and names come from its entity and concept files; source, footnotes, Reporting Type and "
        "release are not in the export and are left out.")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def concepts() -> dict[str, dict]:
    """Series code → its concept row (description, goal, target, indicator), from the real concept file."""
    return {r["name"]: r for r in read_csv(DDF / "ddf--concepts--continuous.csv")}


def entity_names(entity: str) -> dict[str, str]:
    return {r[entity]: r["name"] for r in read_csv(DDF / f"ddf--entities--{entity}.csv")}


def datapoints_file(series_code: str) -> Path | None:
    found = sorted(DDF.glob(f"ddf--datapoints--{series_code.lower()}--by--*.csv"))
    return found[0] if found else None


def datapoints(series_code: str, areas: set[str]) -> list[dict]:
    """The real rows of one series for the given (unpadded) M49 codes, in the file's order."""
    path = datapoints_file(series_code)
    return [r for r in read_csv(path) if r["geo_area"] in areas] if path else []


def observation(concept: dict, row: dict, names: dict[str, dict[str, str]]) -> dict:
    """One ``data[]`` item of a Series/Data page, as the API writes it, from one DDF row."""
    value_column = concept["concept"]
    dims = {api: names[entity][row[entity]] for entity, api in DIMENSIONS.items() if entity in row}
    return {
        "goal": _split(concept["goal"]), "target": _split(concept["target"]), "indicator": _split(concept["indicator"]),
        "series": concept["name"], "seriesDescription": concept["description"], "seriesCount": None,
        "geoAreaCode": row["geo_area"], "geoAreaName": names["geo_area"][row["geo_area"]],
        "timePeriodStart": float(row["year"]), "value": row[value_column],
        "valueType": "Float" if parse_value(row[value_column])[0] is not None else "String",  # "N": non-relevant
        "time_detail": None, "upperBound": None, "lowerBound": None, "basePeriod": None,
        "attributes": {"Nature": names["nature"][row["nature"]], "Units": names["units"][row["units"]]},
        "dimensions": dims,
    }


def _codelists(items: list[dict]) -> dict:
    """The envelope's ``attributes``/``dimensions`` code lists: the codes these pages use (no descriptions:
    the export has none)."""
    def lists(key: str) -> list[dict]:
        ids = sorted({k for item in items for k in item[key]})
        return [{"id": i, "codes": [{"code": c} for c in sorted({item[key][i] for item in items if i in item[key]})]}
                for i in ids]

    return {"attributes": lists("attributes"), "dimensions": lists("dimensions")}


def series_data(src: Source, out: Path = REPLAY_DIR) -> Path:
    ds = src.dataset("series_data")
    areas = {str(int(a["m49_code"])) for a in asia_pacific_areas()}
    names = {e: entity_names(e) for e in ("geo_area", "nature", "units", *DIMENSIONS)}
    catalogue = concepts()
    files, absent = [], []
    for series in ds.series:
        concept = catalogue.get(series.code)
        rows = datapoints(series.code, areas) if concept else []
        if not concept or datapoints_file(series.code) is None:
            absent.append(series.code)
            continue
        items = [observation(concept, r, names) for r in rows]
        for item in items:
            item["seriesCount"] = str(len(items))
        pages = max(1, -(-len(items) // PAGE_SIZE))
        for page in range(1, pages + 1):
            chunk = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
            envelope = {"size": PAGE_SIZE, "totalElements": len(items), "totalPages": pages if items else 0,
                        "pageNumber": page, **_codelists(items), "data": chunk}
            query = urlencode([("seriesCode", series.code), *[("areaCode", a) for a in ds.area_codes()],
                               ("page", page), ("pageSize", PAGE_SIZE)])
            files.append((f"{series.code}__page-{page:04d}.json", json.dumps(envelope, ensure_ascii=False).encode(),
                          f"{src.base_url}/{ds.endpoint}?{query}",
                          {"retrieved_at": RETRIEVED_AT, "series": series.code, "page": page,
                           "total_elements": len(items), "rows": len(chunk),
                           "real_source_file": datapoints_file(series.code).name}))
    return write_recorded(out / src.name / ds.name, files, **_origin(src, ds.endpoint, absent))


def series_list(src: Source, out: Path = REPLAY_DIR) -> Path:
    ds = src.dataset("series_list")
    wanted = [s.code for s in src.dataset("series_data").series]
    catalogue = concepts()
    payload = [{"goal": _split(c["goal"]), "target": _split(c["target"]), "indicator": _split(c["indicator"]),
                "release": None, "code": code, "description": c["description"], "uri": f"/v1/sdg/Series/{code}"}
               for code in wanted if (c := catalogue.get(code))]
    absent = [code for code in wanted if code not in catalogue]
    body = json.dumps(payload, ensure_ascii=False).encode()
    files = [(f"{ds.kind}.json", body, f"{src.base_url}/{ds.endpoint}",
              {"retrieved_at": RETRIEVED_AT, "rows": len(payload), "total_elements": len(payload),
               "real_source_file": "ddf--concepts--continuous.csv"})]
    return write_recorded(out / src.name / ds.name, files, **_origin(src, ds.endpoint, absent))


def geoarea_list(src: Source, out: Path = REPLAY_DIR) -> Path:
    """GeoArea/List: the release's real codes and names (the DDF geo_area entity file is the saved list)."""
    ds = src.dataset("geoarea_list")
    payload = [{"geoAreaCode": r["geo_area"], "geoAreaName": r["name"]}
               for r in read_csv(DDF / "ddf--entities--geo_area.csv", encoding="utf-8")]
    body = json.dumps(payload, ensure_ascii=False).encode()
    files = [(f"{ds.kind}.json", body, f"{src.base_url}/{ds.endpoint}",
              {"retrieved_at": "2020-08-09T00:00:00+00:00", "rows": len(payload), "total_elements": len(payload)})]
    return write_recorded(
        out / src.name / ds.name, files, base_url=src.base_url, endpoint=ds.endpoint,
        producer=f"{src.title} (GeoArea/List, 2020, from a public saved copy)", licence=src.licence,
        licence_url=src.licence_url, synthetic=False, recorded_at="2020-08-09T00:00:00+00:00", release=RELEASE,
        note=("Rows of GET /v1/sdg/GeoArea/List as saved by open-numbers/ddf--unstats--sdg_indicators "
              "(ddf--entities--geo_area.csv @1bfae158, last changed 2020-08-09); that ETL renamed "
              "geoAreaCode,geoAreaName to geo_area,name and sorted the rows, which is undone only for the "
              "names. Values are real; the JSON body itself is reconstructed."),
        generator="lgstats.devdata.real.un_sdg (reconstruction, not generation)")


def _origin(src: Source, endpoint: str, absent: list[str]) -> dict:
    return {
        "producer": f"{src.title} (2020 release; pages rebuilt from the open-numbers DDF bulk export)",
        "base_url": src.base_url, "endpoint": endpoint, "licence": LICENCE, "licence_url": src.licence_url,
        "synthetic": False, "recorded_at": RETRIEVED_AT, "rebuilt_from_bulk_export": True, "release": RELEASE,
        "origin": {"repository": ORIGIN_REPO, "commit": ORIGIN_COMMIT, "folder": "data/real/un_sdg_2020_ddf",
                   "publisher": "United Nations Statistics Division, SDG Global Database"},
        # A registry series with no real copy is absent from replay, never invented; live mode fetches it.
        "series_absent": absent,
        "note": NOTE, "generator": "lgstats.devdata.real.un_sdg",
    }


def write(out: Path = REPLAY_DIR) -> list[Path]:
    src = source("un_sdg")
    return [series_data(src, out), series_list(src, out), geoarea_list(src, out)]
