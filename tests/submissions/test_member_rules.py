"""Issue 24, members: a partnership a member reports involves that member (N9), and numbers parse strictly:
ASCII digits only, and a value too small to store is refused, never stored as 0 (N12)."""

from __future__ import annotations

import psycopg
import pytest

from lgstats.pipeline.submissions import process

PARTNERSHIPS = ("partnership_id,partner_a_name,partner_a_country_iso3,partner_a_area_code,partner_b_name,"
                "partner_b_country_iso3,partner_b_area_code,kind,start_year,end_year,status,themes,sdg_goals,"
                "funding_usd,outcomes,monev_indicator,monev_target,monev_achieved\n")
INDICATORS = "area_code,indicator_code,indicator_name,year,value,unit,source\n"


def problems(url: str, template: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        return [p for (p,) in conn.execute(
            f"select jsonb_array_elements(problems) from quarantine.submissions__{template}")]


def test_a_partnership_between_two_other_members_is_set_aside(warehouse_url, tmp_path):
    path = tmp_path / "partnerships.csv"
    path.write_text(PARTNERSHIPS
                    + "P-1,Synthetic City PH-01,PHL,PH-LG-001,Synthetic City ID-01,IDN,ID-LG-001,twinning,2016,,"
                      "active,,,,,,,\n"   # involves the submitter (PH-LG-001)
                    + "P-2,Synthetic City ID-01,IDN,ID-LG-001,Synthetic Town FJ-01,FJI,FJ-LG-001,project,2020,,"
                      "active,,,,,,,\n"   # two other members: refused
                    + "P-3,Outside A,FRA,,Outside B,DEU,,MoU,2021,,planned,,,,,,,\n",  # neither side is the submitter
                    encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "cooperation_partnership")
    assert (result.rows_loaded, result.rows_rejected) == (1, 2), result.message
    found = problems(warehouse_url, "cooperation_partnership")
    assert {(p["column"], p["value"]) for p in found} == {
        ("partner_a_area_code, partner_b_area_code", "ID-LG-001 / FJ-LG-001"),
        ("partner_a_area_code, partner_b_area_code", "(empty) / (empty)")}
    assert all(p["problem"] == "the submitter is neither partner" and "PH-LG-001" in p["fix"] for p in found)


@pytest.mark.parametrize("value,loads", [("1e-400", False), ("0.000", True), ("0e5", True), ("１２", False),
                                        ("12", True), ("٣", False), ("1e-5", True)])
def test_numbers_are_ascii_and_an_underflow_is_refused(warehouse_url, tmp_path, value, loads):
    path = tmp_path / "indicator.csv"
    path.write_text(INDICATORS + f"PH-LG-001,LOCAL_X,Test,2024,{value},NUMBER,test\n", encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "local_indicator")
    assert result.rows_loaded == (1 if loads else 0), result.message
    if not loads:
        (problem,) = problems(warehouse_url, "local_indicator")
        assert problem["value"] == value and problem["column"] == "value"


def test_a_count_in_full_width_digits_is_refused(warehouse_url, tmp_path):
    path = tmp_path / "council.csv"
    path.write_text("area_code,local_government_name,election_year,seats_total,seats_women\n"
                    "PH-LG-001,Synthetic City PH-01,2019,１２,3\n", encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "council_composition")
    assert result.rows_loaded == 0
    (problem,) = problems(warehouse_url, "council_composition")
    assert problem["column"] == "seats_total" and problem["problem"] == "not a whole number"


COUNCIL = "area_code,local_government_name,election_year,seats_total,seats_women\n"


def test_the_report_lists_every_problem_of_a_row_as_the_member_wrote_it(warehouse_url, tmp_path):
    """Issue 25, defect 13: only a row's first problem was listed (seats_total=-1 went unreported beside a bad
    year), integers printed as 12.0 and empty cells as nan."""
    path = tmp_path / "council.csv"
    path.write_text(COUNCIL + "PH-LG-001,Synthetic City PH-01,twenty,-1,3\n"
                              "PH-LG-001,Synthetic City PH-01,2019,,12\n", encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "council_composition")
    assert result.rows_loaded == 0
    found = {(p["row_number"], p["column"]): p for p in problems(warehouse_url, "council_composition")}
    assert found[(2, "election_year")]["value"] == "twenty"
    assert found[(2, "seats_total")]["value"] == "-1"  # reported beside the bad year, and not as -1.0
    assert found[(3, "seats_total")]["problem"] == "missing" and found[(3, "seats_total")]["value"] is None
    report = open(result.report_csv, encoding="utf-8").read()
    assert "nan" not in report and "-1.0" not in report and "12.0" not in report


def test_an_unclosed_quote_is_named_where_it_opens(warehouse_url, tmp_path):
    path = tmp_path / "council.csv"
    path.write_text(COUNCIL + 'PH-LG-001,"Synthetic City PH-01,2019,12,3\nPH-LG-001,Other,2020,10,2\n',
                    encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "council_composition")
    assert result.status == "refused" and result.rows_loaded == 0
    assert "The quote opened on line 2 is never closed" in result.message
    assert "missing" not in result.message


def test_a_local_government_code_is_never_suggested_from_an_association(warehouse_url, tmp_path):
    """Issue 25, defect 13: an unknown local government named like an association was told to use LGA-PH-01."""
    path = tmp_path / "council.csv"
    path.write_text(COUNCIL + "PH-LG-999,Synthetic League of Cities PH,2019,12,3\n", encoding="utf-8")
    process.submit(path, "PH-LG-001", "council_composition")
    fixes = " ".join(p["fix"] for p in problems(warehouse_url, "council_composition"))
    assert "LGA-PH-01" not in fixes


def test_a_unit_outside_the_unit_list_is_set_aside_naming_the_list(warehouse_url, tmp_path):
    """Issue 25: every observation's unit is a code of the one unit list; a member's own spelling of a unit
    ('hectares', '%') is set aside with the list to choose from, never loaded as a new unit."""
    path = tmp_path / "indicator.csv"
    path.write_text(INDICATORS + "PH-LG-001,LOCAL_PARKS_HA,Parks,2024,12,hectares,test\n"
                    + "PH-LG-001,LOCAL_PARKS_HA,Parks,2023,11,HECTARE,test\n"
                    + "PH-LG-001,LOCAL_SHARE,Share,2024,40,%,test\n", encoding="utf-8")
    result = process.submit(path, "PH-LG-001", "local_indicator")
    assert (result.rows_loaded, result.rows_rejected) == (1, 2), result.message
    found = problems(warehouse_url, "local_indicator")
    assert {p["value"] for p in found} == {"hectares", "%"}
    assert all(p["column"] == "unit" and "ref_units.csv" in p["fix"] and "HECTARE" in p["fix"] for p in found)
