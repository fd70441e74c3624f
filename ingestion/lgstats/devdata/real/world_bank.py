"""World Bank v2 pages (``[header, rows]``) rebuilt from real WDI files in ``data/real/world_bank/``.

Two indicators have a real copy here: SP.URB.TOTL.IN.ZS (WDI export of 2021-09-15, wide, to 2020) and
SP.POP.TOTL (datahub.io's copy of the WDI CSV, long, to 2024). Values are verbatim; an empty cell of the wide
file is a ``null`` value, as the API sends it. The other registry indicators have no real copy here and are
left out of the replay (their mart columns stay NULL), never invented.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import urlencode

from lgstats.devdata.real import REAL_DIR, REPLAY_DIR
from lgstats.pipeline.connectors.world_bank import year_range
from lgstats.pipeline.registry import Dataset, Source, source
from lgstats.pipeline.snapshots import write_recorded

URBAN = "SP.URB.TOTL.IN.ZS"
POPULATION = "SP.POP.TOTL"
FILES = {
    URBAN: {"file": "wdi_2021-09-15_urban-development-raw_SP.URB.TOTL.IN.ZS_asia_pacific.csv",
            "repository": "light-and-salt/World-Bank-Data-by-Indicators",
            "path": "urban-development/urban-development-raw-2021.csv",
            "commit": "f6bc0432af81a31164cbc090d939d2114170c9dc", "lastupdated": "2021-09-15",
            "retrieved_at": "2021-10-18T07:05:19-07:00",
            "licence": "World Bank data: CC BY 4.0 (World Bank Open Data terms); the repository states no licence"},
    POPULATION: {"file": "datahub_population_SP.POP.TOTL_asia_pacific.csv", "repository": "datasets/population",
                 "path": "data/population.csv", "commit": "425fc447a53a26c767a15a7de60c4cc2478a0595",
                 "lastupdated": None, "retrieved_at": "2026-03-06T11:27:07+00:00",
                 "licence": "World Bank data: CC BY 4.0; datahub.io package ODC-PDDL-1.0"},
}


def _number(text: str):
    """The CSV's text as the JSON number the API sends: an int stays an int, a decimal keeps its digits."""
    return int(text) if text.lstrip("-").isdigit() else float(text)


def urban_rows(years: range) -> list[tuple[str, str, str, str, str]]:
    """(country name, ISO3, indicator name, year, value text or '') from the wide WDI export."""
    with open(REAL_DIR / "world_bank" / FILES[URBAN]["file"], newline="", encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))[4:]  # preamble: data source, blank, last updated, blank
    header, out = lines[0], []
    for line in lines[1:]:
        if not line:
            continue
        row = dict(zip(header, line, strict=False))
        for year in sorted((str(y) for y in years if str(y) in header), reverse=True):
            out.append((row["Country Name"], row["Country Code"], row["Indicator Name"], year, row[year]))
    return out


def population_rows(years: range) -> list[tuple[str, str, str, str, str]]:
    with open(REAL_DIR / "world_bank" / FILES[POPULATION]["file"], newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["Year"]) in years]
    by_country: dict[str, list[dict]] = {}
    for r in rows:
        by_country.setdefault(r["Country Code"], []).append(r)
    return [(r["Country Name"], r["Country Code"], "Population, total", r["Year"], r["Value"])
            for code in by_country for r in sorted(by_country[code], key=lambda r: r["Year"], reverse=True)]


def _iso2(iso3: str) -> str:
    import pycountry

    return pycountry.countries.get(alpha_3=iso3).alpha_2


def pages(src: Source, ds: Dataset, code: str, rows: list[tuple]) -> list[tuple[str, bytes, str, dict]]:
    """The indicator's rows as the API pages them: ``per_page`` rows a page, the header counting them all."""
    meta = FILES[code]
    items = [{"indicator": {"id": code, "value": ind_name}, "country": {"id": _iso2(iso3), "value": name},
              "countryiso3code": iso3, "date": year, "value": _number(value) if value else None,
              "unit": "", "obs_status": "", "decimal": None} for name, iso3, ind_name, year, value in rows]
    size = ds.page_size
    count = max(1, -(-len(items) // size))
    countries = ";".join(sorted({r[1] for r in rows}))
    out = []
    for number in range(1, count + 1):
        chunk = items[(number - 1) * size: number * size]
        header = {"page": number, "pages": count, "per_page": size, "total": len(items), "sourceid": "2",
                  "lastupdated": meta["lastupdated"]}
        url = (f"{src.base_url}/" + ds.endpoint.format(countries=countries, indicator=code) + "?"
               + urlencode([("format", "json"), ("date", year_range(ds)), ("per_page", size),
                            ("page", number)]))
        extra = {"retrieved_at": meta["retrieved_at"], "series": code, "page": number,
                 "total_elements": len(items), "rows": len(chunk), "real_source_file": meta["file"],
                 "origin_repository": meta["repository"], "origin_path": meta["path"],
                 "origin_commit": meta["commit"], "licence": meta["licence"]}
        out.append((f"{code}__page-{number:04d}.json", json.dumps([header, chunk], ensure_ascii=False).encode(),
                    url, extra))
    return out


def write(out: Path = REPLAY_DIR) -> Path:
    src = source("world_bank")
    ds = src.dataset("indicators")
    first, last = (int(y) for y in year_range(ds).split(":"))
    years = range(first, last + 1)
    files = [*pages(src, ds, URBAN, urban_rows(years)), *pages(src, ds, POPULATION, population_rows(years))]
    absent = [s.code for s in ds.series if s.code not in FILES]
    return write_recorded(
        out / src.name / ds.name, files,
        producer=f"{src.title} (real values; pages rebuilt from public WDI CSV exports)", base_url=src.base_url,
        endpoint=ds.endpoint, licence="CC BY 4.0 (World Bank Open Data terms of use)", licence_url=src.licence_url,
        synthetic=False, recorded_at="2026-03-06T11:27:07+00:00", rebuilt_from_bulk_export=True,
        series_absent=absent, generator="lgstats.devdata.real.world_bank",
        note=("Values verbatim from two public copies of WDI CSV exports (origin per file below); the v2 pages "
              "were rebuilt from them, not recorded from an HTTP response. Indicators without a real copy here "
              f"({', '.join(absent)}) are left out: their mart columns stay NULL."))
