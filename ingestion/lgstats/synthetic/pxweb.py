"""Synthetic PSA OpenSTAT replay: the table's PXWeb metadata (GET) and a JSON-stat 2.0 answer (POST) for
poverty incidence by region, province and highly urbanised city, with invented values.

Labels follow PSA's layout (sources.md §6): positional value codes "0"…"n", indentation by leading dots,
footnote marks after names (``Cebu /a``, ``Siquijor r1, 1/``), a suppressed cell (``..``) as null.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from lgstats.connectors.pxweb import spec
from lgstats.registry import source
from lgstats.settings import PROJECT_DIR
from lgstats.synthetic import synthetic_origin, write_replay

GEOLOCATIONS = ["PHILIPPINES", "..National Capital Region (NCR)", "....City of Manila 1/",
                "..Region VI - Western Visayas", "....Iloilo /a", "....Negros Occidental", "....Iloilo City",
                "..Region VII - Central Visayas", "....Bohol", "....Cebu /a", "....Siquijor r1, 1/", "....Cebu City",
                "..Region XI - Davao Region", "....Davao del Sur b/", "....Davao City"]
INDICATORS = ["Poverty Incidence among Population (%)", "Magnitude of Poor Population"]
YEARS = ["2018", "2021", "2023"]
SUPPRESSED = ("....Siquijor r1, 1/", "2018")


def _rng(*parts: object) -> random.Random:
    return random.Random(int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16], 16))


def metadata() -> dict:
    return {"title": "Poverty Incidence among Population by Region, Province and HUC (synthetic replay)",
            "variables": [
                {"code": "Geolocation", "text": "Geolocation", "values": [str(i) for i in range(len(GEOLOCATIONS))],
                 "valueTexts": GEOLOCATIONS},
                {"code": "Indicator", "text": "Indicator", "values": ["0", "1"], "valueTexts": INDICATORS},
                {"code": "Year", "text": "Year", "values": [str(i) for i in range(len(YEARS))], "valueTexts": YEARS,
                 "time": True}]}


def dataset(selection: dict[str, list[str]]) -> dict:
    meta = {v["code"]: v for v in metadata()["variables"]}
    ids = list(selection)
    dims, sizes = {}, []
    for code in ids:
        var = meta[code]
        chosen = selection[code]
        category = {"index": {c: i for i, c in enumerate(chosen)},
                    "label": {c: var["valueTexts"][int(c)] for c in chosen}}
        if code == "Indicator":
            category["unit"] = {c: {"base": "percent" if c == "0" else "persons", "decimals": 1} for c in chosen}
        dims[code] = {"label": var["text"], "category": category}
        sizes.append(len(chosen))
    values, status = [], {}
    for g in selection["Geolocation"]:
        for ind in selection["Indicator"]:
            r = _rng("psa", g, ind)
            level = r.uniform(3, 35)
            for y in selection["Year"]:
                label, year = GEOLOCATIONS[int(g)], YEARS[int(y)]
                if (label, year) == SUPPRESSED:
                    status[str(len(values))] = ".."
                    values.append(None)
                    continue
                v = level * (1.12 - 0.06 * int(y)) * r.uniform(0.95, 1.05)
                values.append(round(v, 1) if ind == "0" else int(v * 50_000))
    return {"class": "dataset", "label": metadata()["title"], "source": "Philippine Statistics Authority (synthetic)",
            "updated": "2026-11-28T00:00:00Z", "id": ids, "size": sizes, "dimension": dims, "value": values,
            "status": status, "role": {"time": ["Year"], "metric": ["Indicator"]}, "version": "2.0",
            "extension": {"px": {"tableid": "0021E3DF01A", "decimals": 1}}}


def write(out: Path) -> Path:
    src = source("psa")
    ds = src.dataset("poverty_incidence")
    sp = spec(ds)
    meta = metadata()
    variables = {v["code"]: v for v in meta["variables"]}
    wanted = {c: (variables[c]["values"] if v == "*" else v) for c, v in sp["selection"].items()}
    query = {"query": [{"code": c, "selection": {"filter": "item", "values": v}} for c, v in wanted.items()],
             "response": {"format": "json-stat2"}}
    url = f"{src.base_url}/{sp['table']}"
    cells = len(json.loads(json.dumps(dataset(wanted)))["value"])
    files = [("metadata.json", json.dumps(meta, ensure_ascii=False).encode(), url, {"kind": "metadata"}),
             ("data.json", json.dumps(dataset(wanted), ensure_ascii=False).encode(), url,
              {"kind": "data", "rows": cells, "total_elements": cells, "query": query})]
    return write_replay(out / src.name / ds.name, files,
                        **synthetic_origin(src.title, src.base_url, sp["table"], "lgstats.synthetic.pxweb",
                                           query=query))


if __name__ == "__main__":
    print(write(PROJECT_DIR / "data" / "replay"))
