"""Synthetic World Bank v2 pages (``[header, rows]``) for the registry's indicators and countries.

Invented values in the API's exact shape: ISO2 ``country.id``, ``countryiso3code``, string ``date``,
number-or-null ``value``; central-government finance is null for about a third of the countries, as it is
in the real data for many small states. Labelled synthetic in the sidecar.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from urllib.parse import urlencode

from lgstats.registry import source
from lgstats.settings import PROJECT_DIR
from lgstats.synthetic import synthetic_origin, write_replay

YEARS = range(2015, 2024)


def _value(code: str, r: random.Random, base: dict, year: int):
    t = year - 2015
    if code == "SP.URB.TOTL.IN.ZS":
        return round(min(100.0, base["urban"] + 0.4 * t), 3)
    if code == "SP.POP.TOTL":
        return int(base["pop"] * (1.012 ** t))
    if code == "NY.GDP.PCAP.CD":
        return round(base["gdp"] * (1.03 ** t) * r.uniform(0.97, 1.03), 2)
    if base["no_finance"]:
        return None
    return round(base["fin"] + r.uniform(-1.5, 1.5), 2)


def write(out: Path) -> Path:
    import csv

    from lgstats.registry import SEEDS_DIR

    src = source("world_bank")
    ds = src.dataset("indicators")
    with open(SEEDS_DIR / "ref_m49_areas.csv", newline="", encoding="utf-8") as fh:
        countries = [(r["country_iso3"], r["area_name"]) for r in csv.DictReader(fh) if r["country_iso3"]]
    files = []
    for s in ds.series:
        rows = []
        for iso3, name in sorted(countries, key=lambda c: c[1]):
            r = random.Random(int(hashlib.sha256(f"wb|{iso3}|{s.code}".encode()).hexdigest()[:16], 16))
            b = random.Random(int(hashlib.sha256(f"wb|{iso3}".encode()).hexdigest()[:16], 16))
            base = {"urban": b.uniform(10, 95), "pop": b.randint(1_500, 1_400_000_000), "gdp": b.uniform(600, 70_000),
                    "no_finance": b.random() < 0.33, "fin": b.uniform(8, 35)}
            for year in sorted(YEARS, reverse=True):  # the API lists the newest year first
                rows.append({"indicator": {"id": s.code, "value": s.name}, "country": {"id": iso3[:2], "value": name},
                             "countryiso3code": iso3, "date": str(year), "value": _value(s.code, r, base, year),
                             "unit": "", "obs_status": "", "decimal": 1})
        header = {"page": 1, "pages": 1, "per_page": ds.page_size, "total": len(rows), "sourceid": "2",
                  "lastupdated": "2026-11-28"}
        url = (f"{src.base_url}/" + ds.endpoint.format(countries=";".join(c for c, _ in countries), indicator=s.code)
               + "?" + urlencode([("format", "json"), ("date", ds.model_extra["date"]), ("per_page", ds.page_size),
                                  ("page", 1)]))
        files.append((f"{s.code}__page-0001.json", json.dumps([header, rows]).encode(), url,
                      {"series": s.code, "page": 1, "total_elements": len(rows), "rows": len(rows)}))
    return write_replay(out / src.name / ds.name, files,
                        **synthetic_origin(src.title, src.base_url, ds.endpoint, "lgstats.synthetic.world_bank"))


if __name__ == "__main__":
    print(write(PROJECT_DIR / "data" / "replay"))
