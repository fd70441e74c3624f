"""PSA OpenSTAT PXWeb metadata and JSON-stat 2.0 answer rebuilt from a real user export (``data/real/psa/``).

The export is PSA's "Table 2. Annual Per Capita Poverty Threshold and Poverty Incidence Among Population with
Measures of Precision, by Region and Province: 2015, 2018, and 2021p" of the former subject 1E, saved as a
semicolon CSV by its user with values rounded to whole numbers (the published table has one decimal). Its
labels (leading dots, footnote marks), its ``..`` (not available) and its values are kept verbatim. PXWeb gives
its values positional codes ("0", "1", …), and so do these files; the registry selects the incidence
parameter by its label, so the code is read from the metadata, never assumed.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from lgstats.devdata.real import REAL_DIR, REPLAY_DIR
from lgstats.pipeline.connectors.pxweb import resolve_selection, spec
from lgstats.pipeline.registry import source
from lgstats.pipeline.snapshots import write_recorded

EXPORT = REAL_DIR / "psa" / "1E3DF020.csv"
ORIGIN = {"repository": "joledan/ph-poverty", "path": "dataraw/1E3DF020.csv",
          "commit": "ddbc6cd4cd8ba3f2618dfeedfee8a68fc0020641",
          "commit_date": "2024-01-18T15:13:51-05:00",  # the commit that added the export (git log of the repository)
          "publisher": "Philippine Statistics Authority (OpenSTAT, former subject 1E)"}
AREA, PARAMETER, YEAR = "Geolocation", "Threshold/Incidence/Parameters", "Year"
_HEADER = re.compile(r"^(?P<parameter>.+?) (?P<year>\d{4}[a-z]?)$")


def read_export(path: Path = EXPORT) -> tuple[str, list[str], list[str], list[str], dict]:
    """(title, geolocation labels, parameters, years, {(label, parameter, year): cell text}) of the export."""
    with open(path, newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh, delimiter=";"))
    title, header, body = lines[0][0], lines[2], [line for line in lines[3:] if line]
    columns = [_HEADER.match(h).groupdict() for h in header[1:]]
    parameters = list(dict.fromkeys(c["parameter"] for c in columns))
    years = list(dict.fromkeys(c["year"] for c in columns))
    cells = {(line[0], c["parameter"], c["year"]): text for line in body
             for c, text in zip(columns, line[1:], strict=True)}
    return title, [line[0] for line in body], parameters, years, cells


def metadata(title: str, areas: list[str], parameters: list[str], years: list[str]) -> dict:
    def variable(code: str, texts: list[str], **extra) -> dict:
        return {"code": code, "text": code, "values": [str(i) for i in range(len(texts))], "valueTexts": texts,
                **extra}

    return {"title": title, "variables": [variable(AREA, areas), variable(PARAMETER, parameters),
                                          variable(YEAR, years, time=True)]}


def dataset(meta: dict, wanted: dict[str, list[str]], cells: dict, title: str) -> dict:
    """The JSON-stat 2.0 answer to the query ``wanted`` (variable → value codes): the export's cells, with
    ``..`` as a null value and status ``..``, as PXWeb writes them."""
    variables = {v["code"]: v for v in meta["variables"]}
    ids = list(wanted)
    dims = {}
    for code in ids:
        texts = variables[code]["valueTexts"]
        category = {"index": {c: i for i, c in enumerate(wanted[code])},
                    "label": {c: texts[int(c)] for c in wanted[code]}}
        if code == PARAMETER:  # the unit, as the label states it; the export rounded to whole numbers
            category["unit"] = {c: {"base": "%" if "(%)" in texts[int(c)] else "PhP", "decimals": 0}
                                for c in wanted[code]}
        dims[code] = {"label": code, "category": category}
    values, status = [], {}
    for a in wanted[AREA]:
        for p in wanted[PARAMETER]:
            for y in wanted[YEAR]:
                text = cells[(variables[AREA]["valueTexts"][int(a)], variables[PARAMETER]["valueTexts"][int(p)],
                              variables[YEAR]["valueTexts"][int(y)])]
                if text == "..":
                    status[str(len(values))] = ".."
                    values.append(None)
                else:
                    values.append(int(text))
    return {"class": "dataset", "label": title, "source": "Philippine Statistics Authority", "id": ids,
            "size": [len(wanted[c]) for c in ids], "dimension": dims, "value": values, "status": status,
            "role": {"time": [YEAR], "metric": [PARAMETER]}, "version": "2.0",
            "extension": {"px": {"tableid": EXPORT.stem, "decimals": 0}}}


def write(out: Path = REPLAY_DIR) -> Path:
    src = source("psa")
    ds = src.dataset("poverty_incidence")
    sp = spec(ds)
    title, areas, parameters, years, cells = read_export()
    meta = metadata(title, areas, parameters, years)
    wanted = resolve_selection(meta, sp, "the replay metadata")
    query = {"query": [{"code": c, "selection": {"filter": "item", "values": v}} for c, v in wanted.items()],
             "response": {"format": "json-stat2"}}
    answer = dataset(meta, wanted, cells, title)
    url = f"{src.base_url}/{sp['table']}"
    # the export does not record when it was made; it was made no later than the commit that added it, so that
    # time stands for its retrieval (issue 25: the load time stood in before, which made 2015-2021 data look new)
    retrieved = "2024-01-18T20:13:51+00:00"
    files = [("metadata.json", json.dumps(meta, ensure_ascii=False).encode(), url,
              {"kind": "metadata", "retrieved_at": retrieved}),
             ("data.json", json.dumps(answer, ensure_ascii=False).encode(), url,
              {"kind": "data", "rows": len(answer["value"]), "total_elements": len(answer["value"]), "query": query,
               "retrieved_at": retrieved, "real_source_file": EXPORT.name})]
    return write_recorded(
        out / src.name / ds.name, files,
        producer=f"{src.title} (real values from a user export of the former 1E Table 2, rounded; "
                 "PXWeb files rebuilt from it)",
        base_url=src.base_url, endpoint=sp["table"], licence=src.licence, licence_url=src.licence_url,
        synthetic=False, recorded_at=retrieved, rebuilt_from_bulk_export=True, query=query, origin=ORIGIN,
        generator="lgstats.devdata.real.psa",
        note=("Values verbatim from PSA's Table 2 (poverty threshold and incidence among population, by region "
              "and province, 2015, 2018, 2021p) of the former OpenSTAT subject 1E, as exported by a user to CSV with "
              "values rounded to whole numbers (the published table has one decimal). The registry now points at "
              "its successor, 1F/FY/0041F3DF02A.px (evidence: shared/reference/fidelity-2026-11.md §2); these "
              "files were rebuilt from the export, not recorded from that table. Positional value codes as PXWeb "
              "assigns them. When the export was made is not recorded: retrieved_at is the time of the commit that "
              "added it to joledan/ph-poverty (2024-01-18 15:13:51 -0500), so the export is no later than that."))
