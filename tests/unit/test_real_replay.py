"""The replay folders rebuilt from real public files: the committed pages are exactly what the builders make,
they parse with the real parsers, and every parsed value is the source file's value, row for row."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from lgstats.devdata.real import REAL_DIR, asia_pacific_areas, psa, registers, tabular, un_sdg, world_bank
from lgstats.pipeline import connectors, registry
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter
from lgstats.pipeline.steps import _replay_into
from tests.conftest import REPLAY


def replayed(tmp_path: Path, source: str, dataset: str, folder: Path | None = None) -> Snapshot:
    """The replay folder as the pipeline's fetch step stores it (same code path as `lgstats run`)."""
    with SnapshotWriter(tmp_path / "store", source, dataset, "2026-11-29") as writer:
        origin = _replay_into(writer, folder or REPLAY / source / dataset)
        return writer.commit(mode="replay", **origin)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("build,parts", [
    (un_sdg.write, [("un_sdg", "series_data"), ("un_sdg", "series_list"), ("un_sdg", "geoarea_list")]),
    (world_bank.write, [("world_bank", "indicators")]),
    (psa.write, [("psa", "poverty_incidence")]),
])
def test_committed_replay_is_what_the_builder_makes(tmp_path, build, parts):
    """Nobody edits replay files by hand: rebuilding from data/real gives the committed bytes."""
    build(tmp_path)
    for source, dataset in parts:
        assert tree(tmp_path / source / dataset) == tree(REPLAY / source / dataset), f"{source}/{dataset} differs"


def test_register_sidecars_are_what_the_builder_writes(tmp_path):
    for ds in registry.source("registers").datasets:
        folder = tmp_path / "registers" / ds.name
        folder.mkdir(parents=True)
        for name, body in tree(REPLAY / "registers" / ds.name).items():
            if name != "_origin.json":
                (folder / name).write_bytes(body)
    registers.write(tmp_path)
    for ds in registry.source("registers").datasets:
        assert tree(tmp_path / "registers" / ds.name) == tree(REPLAY / "registers" / ds.name)


def test_tabular_sidecars_are_what_the_builder_writes_and_the_files_are_the_checksummed_copies(tmp_path):
    import hashlib

    folders = [(src.name, ds.name) for src in registry.sources().values() if src.connector == "tabular"
               for ds in src.datasets]
    assert len(folders) == 8  # twinning (2), imf_fd, oxcgrt (4), owid
    for source, dataset in folders:
        folder = tmp_path / source / dataset
        folder.mkdir(parents=True)
        for name, body in tree(REPLAY / source / dataset).items():
            if name != "_origin.json":
                (folder / name).write_bytes(body)
    tabular.write(tmp_path)
    sums = {line.split("  ", 1)[1]: line.split("  ", 1)[0]
            for line in (REAL_DIR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()}
    for source, dataset in folders:
        assert tree(tmp_path / source / dataset) == tree(REPLAY / source / dataset), f"{source}/{dataset}"
        for name, body in tree(REPLAY / source / dataset).items():
            if name != "_origin.json":  # the verbatim copy whose checksum data/real/SHA256SUMS records
                assert hashlib.sha256(body).hexdigest() == sums[f"../replay/{source}/{dataset}/{name}"]


def _ddf_rows(series_code: str) -> list[dict]:
    areas = {str(int(a["m49_code"])) for a in asia_pacific_areas()}
    with open(un_sdg.datapoints_file(series_code), newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["geo_area"] in areas]


def test_un_sdg_pages_reproduce_the_2020_release_row_for_row(tmp_path):
    snap = replayed(tmp_path, "un_sdg", "series_data")
    ds = registry.source("un_sdg").dataset("series_data")
    parsed = list(connectors.get("un_sdg").parse(snap, ds))
    names = {e: un_sdg.entity_names(e) for e in ("nature", "units", "sex", "location", "cities", "geo_area")}
    expected = []
    present = [s.code for s in ds.series if un_sdg.datapoints_file(s.code)]
    assert present == ["SG_GEN_LOCGELS", "SG_DSR_SILS", "SG_DSR_SILN", "SG_GOV_LOGV", "EN_LND_SLUM",
                       "EN_REF_WASCOL", "EN_ATM_PM25"]
    for code in present:
        for r in _ddf_rows(code):
            dims = {api: names[e][r[e]] for e, api in un_sdg.DIMENSIONS.items() if e in r}
            expected.append((code, r["geo_area"], int(r["year"]), r[code.lower()], names["nature"][r["nature"]],
                             names["units"][r["units"]], dims))
    got = [(p["series_code"], p["geo_area_code"], p["year"], p["value_text"], p["nature"], p["units"],
            json.loads(p["dimensions"])) for p in parsed]
    assert got == expected and len(got) > 350
    # numbers parse to exactly the file's decimal value, and areas get their real names and padded codes
    for p, (_, geo, *_rest) in zip(parsed, expected, strict=True):
        if p["value_text"] == "N":  # the release's "non-relevant" marker: kept as text, never a number
            assert p["value_num"] is None and p["value_type"] == "String"
        else:
            assert Decimal(p["value_num"]) == Decimal(p["value_text"]) and p["value_type"] == "Float"
        assert p["area_code"] == geo.zfill(3) and p["geo_area_name"] == names["geo_area"][geo]
    by_key = {(p["series_code"], p["area_code"], p["year"]): p["value_text"] for p in parsed}
    assert by_key[("SG_GEN_LOCGELS", "608", 2019)] == "29.08" and by_key[("SG_GEN_LOCGELS", "392", 2017)] == "12.87"
    assert by_key[("SG_GOV_LOGV", "392", 2018)] == "1788"


def test_un_sdg_sidecar_says_what_the_pages_are_and_what_is_absent(tmp_path):
    snap = replayed(tmp_path, "un_sdg", "series_data")
    o = snap.origin
    assert o["synthetic"] is False and o["rebuilt_from_bulk_export"] is True
    assert o["origin"]["commit"] == "1bfae15828a86ad30e86872411534f5c8136d784" and "CC BY 4.0" in o["licence"]
    assert "not recorded from an HTTP" in o["note"]
    assert o["series_absent"] == ["SP_TRN_PUBL", "EN_LND_CNSPOP", "EN_URB_OPENSP"]
    assert not any(f["series"] in o["series_absent"] for f in o["files"])
    catalogue = replayed(tmp_path, "un_sdg", "series_list")
    rows = list(connectors.get("un_sdg").parse(catalogue, registry.source("un_sdg").dataset("series_list")))
    concepts = un_sdg.concepts()
    assert [(r["series_code"], r["series_description"]) for r in rows] == [
        (c, concepts[c]["description"]) for c in ["SG_GEN_LOCGELS", "SG_DSR_SILS", "SG_DSR_SILN", "SG_GOV_LOGV",
                                                  "EN_LND_SLUM", "EN_REF_WASCOL", "EN_ATM_PM25"]]


def test_un_sdg_replay_passes_its_suites_and_the_catalogue_suite_still_catches_a_missing_series(tmp_path):
    from lgstats.pipeline.validation import run_suite

    src = registry.source("un_sdg")
    conn = connectors.get("un_sdg")
    for name in ("series_data", "series_list"):
        snap = replayed(tmp_path / name, "un_sdg", name)
        ds = src.dataset(name)
        outcome = run_suite(conn.validation_frame(conn.parse(snap, ds), ds), ds.suite,
                            conn.suite_parameters(src, ds, snap))
        assert outcome.success, [f.describe() for f in outcome.failures]
    # a catalogue that silently lacks a series it does not declare absent still fails
    snap = replayed(tmp_path / "again", "un_sdg", "series_list")
    snap.origin["series_absent"] = []
    ds = src.dataset("series_list")
    outcome = run_suite(conn.validation_frame(conn.parse(snap, ds), ds), ds.suite, conn.suite_parameters(src, ds, snap))
    assert not outcome.success


def test_world_bank_pages_reproduce_the_wdi_files(tmp_path):
    snap = replayed(tmp_path, "world_bank", "indicators")
    rows = list(connectors.get("world_bank").parse(snap, registry.source("world_bank").dataset("indicators")))
    got = {(r["indicator_id"], r["country_iso3"], r["year"]): r["value_num"] for r in rows}
    assert len(got) == len(rows)  # no row twice
    expected_urban = {("SP.URB.TOTL.IN.ZS", iso3, int(year)): value
                      for _n, iso3, _i, year, value in world_bank.urban_rows(range(2000, 2026))}
    expected_pop = {("SP.POP.TOTL", iso3, int(year)): value
                    for _n, iso3, _i, year, value in world_bank.population_rows(range(2000, 2026))}
    assert set(got) == set(expected_urban) | set(expected_pop)
    for key, text in {**expected_urban, **expected_pop}.items():
        assert (got[key] is None) if text == "" else Decimal(got[key]) == Decimal(text), key
    # spot values straight from the files
    assert Decimal(got[("SP.URB.TOTL.IN.ZS", "AFG", 2019)]) == Decimal("25.754")
    with open(REAL_DIR / "world_bank" / world_bank.FILES["SP.POP.TOTL"]["file"], encoding="utf-8-sig") as fh:
        jpn_2024 = next(r["Value"] for r in csv.DictReader(fh) if r["Country Code"] == "JPN" and r["Year"] == "2024")
    assert got[("SP.POP.TOTL", "JPN", 2024)] == jpn_2024
    assert max(y for (code, _, y) in got if code == "SP.URB.TOTL.IN.ZS") == 2020
    assert snap.origin["series_absent"] == ["NY.GDP.PCAP.CD", "GC.REV.XGRT.GD.ZS", "GC.XPN.TOTL.GD.ZS"]
    assert snap.origin["synthetic"] is False


def test_psa_replay_is_the_export_and_selects_incidence_by_its_label(tmp_path):
    snap = replayed(tmp_path, "psa", "poverty_incidence")
    ds = registry.source("psa").dataset("poverty_incidence")
    rows = list(connectors.get("pxweb").parse(snap, ds))
    _title, areas, parameters, years, cells = psa.read_export()
    assert parameters == ["Annual Per Capita Poverty Threshold (in PhP)", "Poverty Incidence among Population (%)"]
    assert {r["measure_label"] for r in rows} == {"Poverty Incidence among Population (%)"}
    assert len(rows) == len(areas) * len(years)
    for r in rows:
        labels = json.loads(r["labels"])
        text = cells[(labels["Geolocation"], labels["Threshold/Incidence/Parameters"], labels["Year"])]
        assert (r["value"] is None and r["status"] == "..") if text == ".." else r["value"] == text
    ph = {r["year"]: r["value"] for r in rows if r["area_label_clean"] == "PHILIPPINES"}
    assert ph == {2015: "23", 2018: "17", 2021: "18"}
    assert "rounded" in snap.origin["note"] and "1E" in snap.origin["note"] and snap.origin["synthetic"] is False


def test_psa_registry_matches_the_evidence_and_a_missing_label_is_refused_by_name():
    from lgstats.pipeline.connectors.pxweb import resolve_selection, spec
    from lgstats.pipeline.http import ApiError

    sp = spec(registry.source("psa").dataset("poverty_incidence"))
    assert sp["table"] == "1F/FY/0041F3DF02A.px"  # fidelity-2026-11.md §2: poverty tables moved to 1F
    assert list(sp["selection"]) == ["Geolocation", "Threshold/Incidence/Parameters", "Year"]
    assert sp["measure_variable"] == "Threshold/Incidence/Parameters"
    meta = json.loads((REPLAY / "psa" / "poverty_incidence" / "metadata.json").read_text(encoding="utf-8"))
    assert resolve_selection(meta, sp, "m")["Threshold/Incidence/Parameters"] == ["1"]  # the threshold is "0"
    for v in meta["variables"]:
        if v["code"] == "Threshold/Incidence/Parameters":
            v["valueTexts"][1] = "Poverty Incidence among Families (%)"
    with pytest.raises(ApiError, match="no value labelled \\['Poverty Incidence among Population \\(%\\)'\\]"):
        resolve_selection(meta, sp, "m")


def test_sng_wofi_uses_the_nine_dimension_dsd_in_registry_replay_and_parser(tmp_path):
    from lgstats.pipeline.connectors.sdmx import SchemaDrift, spec

    dsd = ["REF_AREA", "INCOME", "FORM", "REG", "MEASURE", "COFOG", "SECTOR", "STATISTICAL_OPERATION", "UNIT_MEASURE"]
    ds = registry.source("oecd").dataset("sng_wofi_finance")
    assert spec(ds)["dimensions"] == dsd  # fidelity-2026-11.md §1: no FREQ, UNIT_MEASURE a dimension
    header = (REPLAY / "oecd" / "sng_wofi_finance" / "data.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",")[4::2][:9] == dsd
    snap = replayed(tmp_path, "oecd", "sng_wofi_finance")
    rows = list(connectors.get("sdmx").parse(snap, ds))
    assert rows and all(list(json.loads(r["dimensions"])) == dsd for r in rows)
    assert snap.origin["synthetic"] is True  # no real copy: the values stay labelled synthetic
    # a file in the old 5-dimension layout is refused, naming the columns
    old = tmp_path / "old"
    old.mkdir()
    body = (REPLAY / "oecd" / "sng_wofi_finance" / "data.csv").read_text(encoding="utf-8")
    (old / "data.csv").write_text(body.replace(",INCOME,Income", ",FREQ,Frequency of observation"), encoding="utf-8")
    (old / "_origin.json").write_text((REPLAY / "oecd" / "sng_wofi_finance" / "_origin.json").read_text())
    origin = json.loads((old / "_origin.json").read_text())
    import hashlib
    origin["files"][0]["md5"] = hashlib.md5((old / "data.csv").read_bytes()).hexdigest()
    (old / "_origin.json").write_text(json.dumps(origin))
    with pytest.raises(SchemaDrift, match=r"new column\(s\) \['FREQ'\].*declared column\(s\) \['INCOME'\] missing"):
        list(connectors.get("sdmx").parse(replayed(tmp_path / "o", "oecd", "sng_wofi_finance", old), ds))
