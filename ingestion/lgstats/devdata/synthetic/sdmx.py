"""Synthetic SDMX-CSV replay snapshots: ABS ERP by LGA (SDMX-CSV 1.0) and OECD SNG-WOFI finance
(``csvfilewithlabels``, in the 9-dimension DSD of fidelity-2026-11.md §1), in the exact layouts of the samples
in sources.md §5, with invented values. No real copy of either exists here.

The ABS file deliberately holds an LGA code that the area mapping does not know (15750, the code of the
public test fixture) and an empty ``OBS_VALUE``: both must survive to the warehouse, the first reported as
unmapped, the second kept as NULL.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from pathlib import Path
from urllib.parse import urlencode

from lgstats.core.settings import PROJECT_DIR
from lgstats.devdata.synthetic import synthetic_origin, write_replay
from lgstats.pipeline.connectors.sdmx import dataflow_id, spec
from lgstats.pipeline.registry import source

ABS_LGAS = {"17200": 210_000, "24600": 170_000, "31000": 1_250_000, "40070": 26_000, "57080": 31_000,
            "62810": 56_000, "71000": 86_000, "15750": 12_500}
SNG_COUNTRIES = ["AUS", "NZL", "JPN", "KOR", "PHL", "IDN", "THA", "VNM", "IND", "MYS", "KHM", "MNG", "NPL", "BGD",
                 "PAK", "LKA", "FJI"]
FEDERAL = {"AUS", "IND", "PAK", "MYS", "NPL"}


def _rng(*parts: object) -> random.Random:
    return random.Random(int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16], 16))


def _country(iso3: str) -> str:
    import pycountry

    return pycountry.countries.get(alpha_3=iso3).name


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def _url(src, ds) -> str:
    sp = spec(ds)
    params = {"dimensionAtObservation": "AllDimensions", "format": sp["format"], **sp["params"]}
    return f"{src.base_url}/data/{sp['agency']},{sp['flow']},{sp['version']}/{sp['key']}?{urlencode(params)}"


def abs_erp_lga(out: Path) -> Path:
    src = source("abs")
    ds = src.dataset("erp_lga")
    flow = dataflow_id(spec(ds))
    rows = [["DATAFLOW", "MEASURE", "REGION_TYPE", "REGION", "FREQ", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE",
             "OBS_STATUS", "OBS_COMMENT", "REPYEAREND"]]
    for code, base in ABS_LGAS.items():
        r = _rng("abs", code)
        for year in range(2019, 2026):
            growth = (1 + r.uniform(0.004, 0.02)) ** (year - 2019)
            value = "" if (code == "15750" and year == 2025) else str(int(base * growth))
            rows.append([flow, "ERP", "LGA2025", code, "A", str(year), value, "PSNS", "", "", "30-6"])
    body = _csv(rows)
    return write_replay(out / src.name / ds.name, [("data.csv", body, _url(src, ds),
                                                    {"rows": len(rows) - 1, "total_elements": len(rows) - 1})],
                        **synthetic_origin(src.title, src.base_url, f"data/{flow}", "lgstats.devdata.synthetic.sdmx"))


SNG_MEASURES = [("E1", "Total expenditure", "PT_B1GQ", "Percentage of GDP", 8, 22),
                ("E1", "Total expenditure", "PT_OTE_S13_TRANSACT", "Percentage of general government expenditure",
                 15, 55),
                ("R1", "Total revenue", "PT_B1GQ", "Percentage of GDP", 7, 21)]


# The DSD's dimensions in order (fidelity-2026-11.md §1) with the labels the Data Explorer gives them.
SNG_DIMENSION_LABELS = {"REF_AREA": "Reference area", "INCOME": "Income", "FORM": "Form", "REG": "Region",
                        "MEASURE": "Measure", "COFOG": "Function", "SECTOR": "Sector",
                        "STATISTICAL_OPERATION": "Statistical operation", "UNIT_MEASURE": "Unit of measure"}
# Codes for the dimensions no public evidence gives values for: the SDMX cross-domain "total" (_T) and
# "not applicable" (_Z) codes. Synthetic, like the values: a live run replaces them with the real codes.
SNG_PLACEHOLDERS = {"INCOME": ("_T", "Total"), "FORM": ("_T", "Total"), "REG": ("_T", "Total"),
                    "COFOG": ("_T", "Total"), "STATISTICAL_OPERATION": ("_Z", "Not applicable")}


def oecd_sng_wofi(out: Path) -> Path:
    src = source("oecd")
    ds = src.dataset("sng_wofi_finance")
    sp = spec(ds)
    header = ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION"]
    columns = [*[(d, SNG_DIMENSION_LABELS[d]) for d in sp["dimensions"]], ("TIME_PERIOD", "Time period"),
               ("OBS_VALUE", "Observation value"), ("OBS_STATUS", "Observation status"),
               ("UNIT_MULT", "Unit multiplier"), ("DECIMALS", "Decimals")]
    for dim, label in columns:
        header += [dim, label]
    rows = [header]
    for iso3 in SNG_COUNTRIES:
        sectors = [("S13M", "State and local government")]
        if iso3 in FEDERAL:  # federal countries also report the local tier apart
            sectors.append(("S1313", "Local government"))
        for sector, sector_label in sectors:
            for measure, m_label, unit, u_label, low, high in SNG_MEASURES:
                r = _rng("sng", iso3, sector, measure, unit)
                level = r.uniform(low, high) * (0.6 if sector == "S1313" else 1)
                for year in range(2016, 2021):
                    missing = iso3 == "FJI" and year == 2016  # a missing cell: empty value, status M
                    value = "" if missing else f"{level * r.uniform(0.96, 1.04):.1f}"
                    cells = {"REF_AREA": (iso3, _country(iso3)), "MEASURE": (measure, m_label),
                             "SECTOR": (sector, sector_label), "UNIT_MEASURE": (unit, u_label),
                             **SNG_PLACEHOLDERS,
                             "TIME_PERIOD": (str(year), str(year)), "OBS_VALUE": (value, value),
                             "OBS_STATUS": ("M", "Missing value") if missing else ("A", "Normal value"),
                             "UNIT_MULT": ("0", "Units"), "DECIMALS": ("1", "One")}
                    row = ["dataflow", dataflow_id(sp), "Subnational government finance", "I"]
                    for dim, _ in columns:
                        row += list(cells[dim])
                    rows.append(row)
    body = _csv(rows)
    return write_replay(out / src.name / ds.name, [("data.csv", body, _url(src, ds),
                                                    {"rows": len(rows) - 1, "total_elements": len(rows) - 1})],
                        **synthetic_origin(src.title, src.base_url, f"data/{dataflow_id(sp)}",
                                           "lgstats.devdata.synthetic.sdmx"))


def write(out: Path) -> list[Path]:
    return [abs_erp_lga(out), oecd_sng_wofi(out)]


if __name__ == "__main__":
    for path in write(PROJECT_DIR / "data" / "replay"):
        print(path)
