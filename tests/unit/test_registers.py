"""The official registers of local governments: parsed into one row per area with its official code, level
and parent; validated against the official totals; a broken register is refused by file, row and fix."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest

from lgstats.pipeline import connectors, registry
from lgstats.pipeline.validation import run_suite
from tests.conftest import REPLAY
from tests.unit.test_real_replay import replayed

REGISTERS = {ds.name: ds for ds in registry.source("registers").datasets}
OFFICIAL = {  # the publishers' totals (shared/reference/real/README.md §3)
    "ph_psgc": {"state_or_region": 18, "province": 82, "local_government": 1642},
    "id_kemendagri": {"province": 38, "local_government": 514},
    "jp_localgov": {"province": 47, "local_government": 1741, "ward": 175},
    "in_lgd": {"state_or_region": 36, "district": 763, "local_government": 4814},
    "th_provinces": {"province": 77, "district": 929},
    "vn_gso": {"province": 63, "district": 696, "commune": 10047},
    "kr_mois": {"province": 17, "local_government": 226, "district": 2, "ward": 32},  # 75 si + 82 gun + 69 gu
}


def parsed(snapshot, name: str) -> list[dict]:
    return list(connectors.get("register").parse(snapshot, REGISTERS[name]))


def validate(snapshot, name: str):
    src, ds, conn = registry.source("registers"), REGISTERS[name], connectors.get("register")
    return run_suite(conn.validation_frame(parsed(snapshot, name), ds), ds.suite,
                     conn.suite_parameters(src, ds, snapshot))


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_each_register_has_the_official_totals_and_passes_its_suite(tmp_path, name):
    snap = replayed(tmp_path, "registers", name)
    rows = parsed(snap, name)
    assert dict(collections.Counter(r["area_level"] for r in rows)) == OFFICIAL[name]
    assert len({r["area_code"] for r in rows}) == len(rows)
    outcome = validate(snap, name)
    assert outcome.success, [f.describe() for f in outcome.failures]
    assert snap.origin["synthetic"] is False and snap.origin["register_vintage"]


def test_registers_count_local_governments_as_the_un_does(tmp_path):
    counts = {name: sum(r["counts_as_local_government"]
                        for r in parsed(replayed(tmp_path / name, "registers", name), name))
              for name in ("jp_localgov", "id_kemendagri", "ph_psgc")}
    # SG_GOV_LOGV: Japan 1,788 = 1,741 + 47; Indonesia 514; Philippines 1,642 + 82 (the UN's 2019 figure is 1,715)
    assert counts == {"jp_localgov": 1788, "id_kemendagri": 514, "ph_psgc": 1724}


def test_official_codes_keep_their_form_and_parents_resolve(tmp_path):
    rows = {r["area_code"]: r for name in OFFICIAL
            for r in parsed(replayed(tmp_path / name, "registers", name), name)}
    adams = rows["PH-PSGC-012801"]
    assert (adams["official_code"], adams["area_name"], adams["parent_area_code"]) == (
        "012801", "Adams", "PH-PSGC-0128")
    assert rows["PH-PSGC-0128"]["parent_area_code"] == "PH-PSGC-01" and rows["PH-PSGC-01"]["parent_area_code"] == "608"
    # a city whose province code is not in the provinces file hangs under the region its code names, and says so
    isabela = rows["PH-PSGC-099701"]
    assert isabela["parent_official_code"] == "0997" and isabela["parent_area_code"] == "PH-PSGC-09"
    assert "not in the provinces file" in isabela["parent_resolution"]
    assert rows["ID-KDN-11.01"]["parent_area_code"] == "ID-KDN-11" and rows["ID-KDN-11"]["parent_area_code"] == "360"
    assert rows["ID-KDN-11.01"]["area_type"] == "kabupaten"
    sapporo, chuo = rows["JP-LG-011002"], rows["JP-LG-011011"]
    assert sapporo["area_level"] == "local_government" and sapporo["parent_area_code"] == "JP-LG-010006"
    assert chuo["area_level"] == "ward" and chuo["parent_area_code"] == "JP-LG-011002"
    assert not chuo["counts_as_local_government"]
    assert rows["JP-LG-010006"]["area_name_en"] == "Hokkaido"
    assert rows["JP-LG-131016"]["area_type"] == "特別区"  # 千代田区: a Tokyo special ward is a municipality


def _broken_copy(tmp_path: Path, name: str, edit) -> Path:
    folder = tmp_path / "replay" / "registers" / name
    shutil.copytree(REPLAY / "registers" / name, folder)
    edit(folder)
    import hashlib
    import json

    origin = json.loads((folder / "_origin.json").read_text(encoding="utf-8"))
    for f in origin["files"]:
        body = (folder / f["file"]).read_bytes()
        f["md5"], f["bytes"] = hashlib.md5(body).hexdigest(), len(body)
    (folder / "_origin.json").write_text(json.dumps(origin), encoding="utf-8")
    return folder


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


KDN = "id_wilayah_kemendagri_2025_prov_kabkota.csv"
CASES = {
    "duplicate code": (lambda f: _append(f / KDN, "11.01,Kabupaten Aceh Selatan Lagi"),
                       "expect_column_values_to_be_unique", "row 554", "lists a code twice"),
    "orphan parent": (lambda f: _append(f / KDN, "99.01,Kabupaten Tanpa Provinsi"),
                      "expect_column_values_to_be_in_set", "row 554", "the parent code is in no row"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_register_fails_naming_file_row_and_fix(tmp_path, case):
    edit, expectation, where, fix = CASES[case]
    folder = _broken_copy(tmp_path, "id_kemendagri", edit)
    outcome = validate(replayed(tmp_path, "registers", "id_kemendagri", folder), "id_kemendagri")
    assert not outcome.success
    text = "\n".join(f.describe() for f in outcome.failures)
    assert expectation in text and f"file {KDN} {where}" in text and fix in text
    # and one more local government than the official total is a failure of the totals too
    assert "expect_table_row_count_to_equal" in text and "check the file's vintage" in text


def test_a_register_missing_areas_fails_on_the_official_total(tmp_path):
    def drop_last(folder: Path) -> None:
        lines = (folder / KDN).read_text(encoding="utf-8").splitlines()
        (folder / KDN).write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")

    folder = _broken_copy(tmp_path, "id_kemendagri", drop_last)
    outcome = validate(replayed(tmp_path, "registers", "id_kemendagri", folder), "id_kemendagri")
    failed = [f for f in outcome.failures if f.expectation == "expect_table_row_count_to_equal"]
    assert len(failed) == 1 and failed[0].observed == 513 and "official total" in failed[0].fix


def test_a_misspelt_register_key_is_refused_with_the_dataset_named():
    ds = REGISTERS["jp_localgov"].model_copy(update={})
    extra = dict(ds.model_extra)
    extra["expectd"] = extra.pop("expected")
    broken = type(ds).model_validate({**ds.model_dump(exclude=set(ds.model_extra)), **extra})
    with pytest.raises(ValueError, match="jp_localgov.*expectd"):
        connectors.get("register").spec(broken)


@pytest.mark.usefixtures("warehouse_url")
def test_a_rejected_register_loads_nothing_and_says_where_to_look(tmp_path, monkeypatch):
    from lgstats.core import warehouse
    from lgstats.pipeline import steps as pipeline
    from lgstats.pipeline.validation import ValidationFailed

    _broken_copy(tmp_path, "id_kemendagri", CASES["duplicate code"][0])
    monkeypatch.setenv("LGSTATS_REPLAY_DIR", str(tmp_path / "replay"))
    path = pipeline.fetch("registers", "id_kemendagri", "2026-11-29", "replay")
    with pytest.raises(ValidationFailed) as err:
        pipeline.validate(path)
    message = str(err.value)
    assert f"file {KDN} row 554" in message and "Nothing from it was loaded" in message
    assert "fix them there" in message  # replayed files: the message points at the replay folder
    with warehouse.connect() as conn:  # nothing loaded, nothing left staged
        assert conn.execute("select count(*) from raw.registers__id_kemendagri").fetchone()[0] == 0
        assert conn.execute("select count(*) from pending.registers__id_kemendagri").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw.snapshot_origins").fetchone()[0] == 0


def test_local_governments_are_told_from_administrative_units(tmp_path):
    def by_level(name):
        rows = parsed(replayed(tmp_path / name, "registers", name), name)
        return {lv: {r["is_local_government"] for r in rows if r["area_level"] == lv} for lv in OFFICIAL[name]}, rows

    india, _ = by_level("in_lgd")
    assert india == {"state_or_region": {False}, "district": {False}, "local_government": {True}}
    thailand, th_rows = by_level("th_provinces")
    assert thailand == {"province": {True}, "district": {False}}
    bangkok = next(r for r in th_rows if r["area_name_en"] == "Bangkok")
    assert bangkok["official_code"] == "10" and "Metropolitan" in bangkok["area_type"]  # DOPA code, from its khet
    korea, kr_rows = by_level("kr_mois")
    assert korea["ward"] == {False} and korea["district"] == {False} and korea["local_government"] == {True}
    jongno = next(r for r in kr_rows if r["area_name"] == "서울특별시 종로구")
    assert (jongno["area_name_romanised"], jongno["parent_area_code"]) == ("Jonglo-gu", "KR-MOIS-1100000000")
    assert "not the official" in jongno["romanisation"]
    vietnam, vn_rows = by_level("vn_gso")
    assert all(v == {True} for v in vietnam.values())  # each level has its People's Council
    assert next(r for r in vn_rows if r["official_code"] == "001")["parent_area_code"] == "VN-GSO-01"


def test_japanese_municipalities_get_their_reading_and_the_capital_mark(tmp_path):
    rows = parsed(replayed(tmp_path, "registers", "jp_localgov"), "jp_localgov")
    by_code = {r["official_code"]: r for r in rows}
    assert by_code["122033"]["area_name"] == "市川市" and by_code["122033"]["area_name_romanised"] == "Ichikawa"
    assert by_code["222151"]["area_name_romanised"] == "Gotenba"  # 御殿場市 ごてんばし: the register's reading
    municipalities = [r for r in rows if r["area_level"] == "local_government"]
    assert all(r["area_name_romanised"] and r["latitude"] is not None for r in municipalities)
    capitals = [r["area_name"] for r in rows if r["is_capital"]]
    assert len(capitals) == 47 and "大阪市" in capitals and "山梨市" not in capitals  # Yamanashi's is 甲府市
