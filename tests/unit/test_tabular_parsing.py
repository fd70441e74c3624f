"""The tabular connector on the real files it reads (IMF Fiscal Decentralization, OxCGRT, OWID, twin-town
lists): values verbatim, one observation per non-empty cell, periods as ISO text, the layout checked against the
registry entry (a changed header or a cell that is not a number is refused by file, line and column)."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal

import pytest

from lgstats.devdata.real import asia_pacific_areas
from lgstats.pipeline import connectors, registry
from lgstats.pipeline.http import ResponseError
from lgstats.pipeline.validation import run_suite
from tests.conftest import REPLAY
from tests.unit.test_real_replay import replayed

TABULAR = connectors.get("tabular")
AP_ISO3 = {a["country_iso3"] for a in asia_pacific_areas() if a["area_level"] == "country"}


def dataset(source: str, name: str):
    return registry.source(source).dataset(name)


def parsed(tmp_path, source: str, name: str, folder=None) -> list[dict]:
    return list(TABULAR.parse(replayed(tmp_path, source, name, folder), dataset(source, name)))


def raw_lines(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def suite_outcome(tmp_path, source: str, name: str, rows: list[dict]):
    ds, src = dataset(source, name), registry.source(source)
    return run_suite(TABULAR.validation_frame(rows, ds), ds.suite,
                     TABULAR.suite_parameters(src, ds, replayed(tmp_path / "suite", source, name)))


def test_imf_wide_file_gives_one_observation_per_non_empty_cell_verbatim(tmp_path):
    rows = parsed(tmp_path, "imf_fd", "fiscal_decentralisation")
    lines = raw_lines(REPLAY / "imf_fd" / "fiscal_decentralisation" / "time_series.csv")
    header, body = lines[0], lines[1:]
    kept_codes = {r["source_code"] for r in csv.DictReader(
        open(registry.SEEDS_DIR / "area_maps" / "map_imf_fd__country.csv", encoding="utf-8"))}
    expected = {(f"{line[3]}.{line[5]}", line[1], year): cell for line in body if line[1] in kept_codes
                for year, cell in zip(header[7:], line[7:], strict=False) if year and cell != ""}
    assert {(r["measure"], r["area_source_code"], r["time_period"]): r["value_text"] for r in rows} == expected
    assert len({r["area_source_code"] for r in rows}) == 15  # the Asia-Pacific countries the dataset covers
    japan = next(r for r in rows if (r["measure"], r["area_source_code"], r["year"]) == ("sd.SNG", "158", 2016))
    assert japan["value"] == Decimal("0.351379440256012")  # shared/reference/real/README.md §7
    assert japan["unit_measure"] == "RATIO"
    assert japan["series_name"].startswith("Expenditure decentralization") and "Subnational" in japan["series_name"]
    assert suite_outcome(tmp_path, "imf_fd", "fiscal_decentralisation", rows).success


def test_oxcgrt_daily_indices_keep_the_asia_pacific_jurisdictions_with_iso_days(tmp_path):
    rows = parsed(tmp_path, "oxcgrt", "stringency_index")
    lines = raw_lines(REPLAY / "oxcgrt" / "stringency_index" / "OxCGRT_timeseries_StringencyIndex_v1.csv")
    header, body = lines[0], lines[1:]
    ap = [line for line in body if line[0] in AP_ISO3]
    assert len(ap) == 128 and len(body) > 300  # the whole file is in the snapshot; the load keeps the region
    assert len(rows) == sum(1 for line in ap for cell in line[7:] if cell != "")
    assert len({r["area_source_code"] for r in rows}) == 128
    hubei = next(line for line in ap if line[2] == "CHN_HB")
    day = header.index("01Feb2020")
    row = next(r for r in rows if r["area_source_code"] == "CHN_HB" and r["time_period"] == "2020-02-01")
    assert row["value_text"] == hubei[day] and row["year"] == 2020 and row["measure"] == "StringencyIndex"
    sydney = {r["area_source_code"] for r in rows if r["dimensions"] and '"AUS_1GSYD"' in r["dimensions"]}
    assert sydney == {"AUS_1GSYD"}  # a city row is its city, not its state or country


def test_owid_long_file_is_a_later_vintage_of_the_sdg_series(tmp_path):
    rows = parsed(tmp_path, "owid", "women_in_local_government")
    lines = raw_lines(REPLAY / "owid" / "women_in_local_government" / "WomenInLocalGov.csv")
    expected = {(line[1], line[2]): line[3] for line in lines[1:] if line[1] in AP_ISO3}
    assert {(r["area_source_code"], r["time_period"]): r["value_text"] for r in rows} == expected
    assert {r["measure"] for r in rows} == {"SG_GEN_LOCGELS"} and max(r["year"] for r in rows) == 2023
    assert suite_outcome(tmp_path, "owid", "women_in_local_government", rows).success


def test_twin_town_records_keep_every_line_as_published(tmp_path):
    rows = parsed(tmp_path, "twinning", "twin_cities")
    lines = raw_lines(REPLAY / "twinning" / "twin_cities" / "twin_cities_raw.csv")
    assert len(rows) == len(lines) - 1 == 26114
    first = rows[0]
    assert (first["city1"], first["country1"], first["city2"], first["country2"], first["row_number"]) == (
        *lines[1], 2)
    assert [r["country2"] for r in rows].count(None) == 5  # empty in the scrape: kept, never guessed
    assert suite_outcome(tmp_path, "twinning", "twin_cities", rows).success


def copy_with(tmp_path, source: str, name: str, edit) -> object:
    folder = tmp_path / "copy"
    shutil.copytree(REPLAY / source / name, folder)
    target = next(p for p in folder.iterdir() if p.suffix == ".csv")
    target.write_bytes(edit(target.read_bytes()))
    import hashlib
    import json

    sidecar = json.loads((folder / "_origin.json").read_text(encoding="utf-8"))
    for rec in sidecar["files"]:
        rec["md5"], rec["bytes"] = hashlib.md5(target.read_bytes()).hexdigest(), len(target.read_bytes())
    (folder / "_origin.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return folder


def test_a_changed_header_is_refused_naming_the_file_and_the_columns(tmp_path):
    folder = copy_with(tmp_path, "owid", "women_in_local_government",
                       lambda b: b.replace(b"Entity,Code,Year", b"Entity,ISO,Year", 1))
    with pytest.raises(ResponseError) as err:
        parsed(tmp_path, "owid", "women_in_local_government", folder)
    assert "WomenInLocalGov.csv" in str(err.value) and "'ISO'" in str(err.value) and "columns" in str(err.value)


def test_a_cell_that_is_not_a_number_is_refused_by_line_and_column(tmp_path):
    folder = copy_with(tmp_path, "owid", "women_in_local_government",
                       lambda b: b.replace(b"Afghanistan,AFG,2020,16.53", b"Afghanistan,AFG,2020,16.53%", 1))
    with pytest.raises(ValueError) as err:
        parsed(tmp_path, "owid", "women_in_local_government", folder)
    assert "line 2" in str(err.value) and "'16.53%'" in str(err.value)


@pytest.mark.parametrize("drop,named", [("period_columns", "period_columns"),
                                        ("measure", "measure_columns or measure")])
def test_an_incomplete_entry_is_refused_naming_what_it_lacks(drop, named):
    ds = dataset("oxcgrt", "stringency_index")
    extra = {k: v for k, v in (ds.model_extra or {}).items() if k != drop}
    broken = ds.model_copy(update={"name": "broken"})
    broken.__pydantic_extra__ = extra
    with pytest.raises(ValueError) as err:
        TABULAR.spec(broken)
    assert "'broken'" in str(err.value) and named in str(err.value)


def test_a_named_column_missing_from_the_header_declaration_is_refused():
    ds = dataset("owid", "women_in_local_government")
    broken = ds.model_copy(update={"name": "broken"})
    broken.__pydantic_extra__ = {**ds.model_extra, "area_columns": ["ISO"]}
    with pytest.raises(ValueError, match=r"column\(s\) \['ISO'\] are not in its `columns`"):
        TABULAR.spec(broken)
