"""Every programme on real data (issue 23), checked on the shared replay run against the real files themselves:
city-to-city partnerships with register areas, IMF fiscal decentralisation, the real associations and their
potential membership, OxCGRT's daily indices and their annual figures, the registers of seven countries, the
later vintage of women's seat share, and the share of real rows."""

from __future__ import annotations

import csv
from collections import Counter

import psycopg
import pytest

from lgstats.devdata.real import asia_pacific_areas
from tests.conftest import FIXTURES, REPLAY

pytestmark = pytest.mark.e2e
AP = {a["country_iso3"] for a in asia_pacific_areas() if a["area_level"] == "country"}


@pytest.fixture(scope="module")
def marts(clean_replay):
    assert clean_replay.proc.returncode == 0, clean_replay.proc.stdout[-3000:]
    with psycopg.connect(clean_replay.url) as conn:
        yield lambda sql, *args: conn.execute(sql, args or None).fetchall()


def read(path, **kw) -> list[dict]:
    with open(path, newline="", encoding=kw.pop("encoding", "utf-8-sig")) as fh:
        return list(csv.DictReader(fh, **kw))


def test_twin_town_partnerships_of_the_region_are_real_and_listed_once(marts):
    rows = marts("select country_iso3_a, country_iso3_b, lower(partner_name_a), lower(partner_name_b), source_name, "
                 "partnership_id like 'twinning:%%' from marts.cooperation_partnership")
    twinned = [r for r in rows if r[5]]  # from the twin-town lists (a member may report a twinning too)
    both = sum(1 for a, b, *_ in twinned if a in AP and b in AP)
    one = sum(1 for a, b, *_ in twinned if a in AP or b in AP)
    taiwan = sum(1 for a, b, *_ in twinned if "TWN" in (a, b))
    assert both >= 1200 and one >= 4000 and taiwan > 0, (both, one, taiwan)
    sides = Counter(frozenset([(a, na), (b, nb)]) for a, b, na, nb, *_ in twinned)
    assert max(sides.values()) == 1  # a pair listed on both countries' pages is one partnership
    assert all("Wikipedia" in r[4] and "synthetic" not in r[4] for r in twinned)
    assert all("synthetic" in r[4] for r in rows if not r[5])  # the demo submissions say so
    # a pair listed from both sides in the file is one row, with both pages as evidence
    evidence = marts("select evidence from marts.cooperation_partnership where kind = 'twinning' "
                     "and evidence like '%; %' limit 1")
    assert evidence and evidence[0][0].count("Wikipedia") == 2


def test_indonesian_cities_with_partners_in_japan_have_both_register_areas(marts):
    rows = marts("""
        select p.partner_name_a, p.partner_name_b, a.area_name, b.area_name
        from marts.cooperation_partnership as p
        join marts.dim_area as a on a.area_code = p.area_code_a
        join marts.dim_area as b on b.area_code = p.area_code_b
        where p.kind = 'twinning' and ((p.country_iso3_a, p.country_iso3_b) in (('IDN', 'JPN'), ('JPN', 'IDN')))""")
    names = {frozenset(r[:2]) for r in rows}
    assert frozenset({"Medan", "Ichikawa"}) in names and frozenset({"Surabaya", "Kōchi"}) in names
    assert any(r[2] == "市川市" or r[3] == "市川市" for r in rows)


def test_partner_match_rates_and_the_labelled_set(marts, clean_replay):
    rates = {c: (n, m) for c, n, m in marts("select country_iso3, count(*), count(area_code) "
                                           "from marts.twinning_partner_matches group by 1")}
    for country in ("JPN", "IDN", "PHL"):
        n, m = rates[country]
        assert m / n >= 0.80, (country, m, n)
        assert f"{country} {m}/{n}" in clean_replay.proc.stdout  # reported in the run summary
    got = {(n, c): a for n, c, a in marts("select partner_name, country_iso3, area_code "
                                          "from marts.twinning_partner_matches")}
    labelled = read(FIXTURES / "matching" / "partners_labelled.csv", encoding="utf-8")
    assert len(labelled) >= 60
    wrong = [(r["partner_name"], got.get((r["partner_name"], r["country_iso3"]), "absent"), r["expected_area_code"])
             for r in labelled if got.get((r["partner_name"], r["country_iso3"]), "absent") not in
             (None, r["expected_area_code"] or None)]
    assert wrong == []  # precision: no wrong match, and the must-stay-unmatched stay unmatched
    found = sum(1 for r in labelled if r["expected_area_code"]
                and got[(r["partner_name"], r["country_iso3"])] == r["expected_area_code"])
    assert found >= 0.9 * sum(1 for r in labelled if r["expected_area_code"])
    reasons = marts("select unmatched_reason from marts.twinning_partner_matches where partner_name = 'Cebu'")
    assert reasons and "ambiguous" in reasons[0][0] and "PH-PSGC-072217" in reasons[0][0]


def test_imf_fiscal_ratios_reach_the_decentralisation_profile_verbatim(marts):
    countries = marts("select distinct country_iso3 from marts.decentralisation_country_profile "
                      "where fiscal_ratios_unit = 'RATIO'")
    assert len(countries) == 15
    lines = read(REPLAY / "imf_fd" / "fiscal_decentralisation" / "time_series.csv")
    japan = next(r for r in lines if r["Country Code"] == "158" and r["Indicator Code"] == "sd"
                 and r["Sector Code"] == "SNG")
    assert marts("select expenditure_decentralisation_ratio::text from marts.decentralisation_country_profile "
                 "where country_iso3 = 'JPN' and year = 2016") == [(japan["2016"],)]
    units = marts("select distinct unit from marts.dim_indicator where series_code like 'imf_fd.%'")
    assert units == [("RATIO",)]
    assert marts("select count(*) from marts.dim_indicator where series_code = 'imf_fd.vfi.SNG' "
                 "and series_name like 'Vertical Fiscal Imbalance%'") == [(1,)]


def test_real_associations_with_their_potential_membership(marts):
    real = marts("select lga_code, country_iso3, source_url, potential_members from marts.lga_profile "
                 "where source_url is not null")
    assert len({r[0] for r in real}) >= 15 and len({r[1] for r in real}) >= 8
    assert all(r[2].startswith("http") for r in real)
    folder = REPLAY / "registers" / "ph_psgc"
    provinces = len(read(folder / "psgc_provinces.updated.csv"))
    kinds = Counter(r["type"] for r in read(folder / "psgc_cities_municipalities.updated.fixed.csv"))
    cities = sum(n for k, n in kinds.items() if "city" in k)
    potential = dict(marts("select lga_code, potential_members from marts.lga_profile "
                           "where lga_code in ('PHL-LPP', 'PHL-LCP', 'PHL-LMP')"))
    assert potential == {"PHL-LPP": provinces, "PHL-LCP": cities, "PHL-LMP": kinds["municipality"]}
    assert (provinces, cities, kinds["municipality"]) == (82, 149, 1493)
    synthetic = marts("select count(*) from marts.lga_profile where source_name like '%synthetic%'")
    assert synthetic[0][0] > 0  # the demo members stay, labelled


def test_oxcgrt_daily_values_verbatim_and_their_annual_figures(marts):
    lines = read(REPLAY / "oxcgrt" / "stringency_index" / "OxCGRT_timeseries_StringencyIndex_v1.csv")
    hubei = next(r for r in lines if r["RegionCode"] == "CHN_HB")
    days = {k: v for k, v in hubei.items() if k[:2].isdigit() and k.endswith("2020") and v != ""}
    assert marts("select value_text from marts.fct_observation where series_code = 'oxcgrt.StringencyIndex' "
                 "and area_code = 'CN-HB' and period = '2020-02-01'") == [(days["01Feb2020"],)]
    annual = marts("select stringency_index_max::float, stringency_days_above_70, stringency_days_reported "
                   "from marts.local_resilience where area_code = 'CN-HB' and year = 2020")
    values = [float(v) for v in days.values()]
    assert annual == [(max(values), sum(v > 70 for v in values), len(values))]
    per_series = marts("select series_code, count(distinct area_code) from marts.fct_observation "
                       "where series_code like 'oxcgrt.%' group by 1")
    jurisdictions = {r["CityCode"] or r["RegionCode"] or r["CountryCode"] for r in lines if r["CountryCode"] in AP}
    assert len(per_series) == 4 and all(n == len(jurisdictions) for _, n in per_series)
    levels = dict(marts("select a.area_level, count(distinct a.area_code) from marts.fct_observation f "
                        "join marts.dim_area a using (area_code) where f.series_code = 'oxcgrt.StringencyIndex' "
                        "group by 1"))
    assert levels["state_or_region"] == 75 and levels["statistical_area"] == 14


def test_dim_area_has_local_governments_of_seven_countries_and_administrative_units_apart(marts):
    rows = marts("select country_iso3, area_level, is_local_government, count(*), count(area_name_latin), "
                 "count(distinct register_vintage) from marts.dim_area where code_system like 'registers/%' "
                 "group by 1, 2, 3")
    local = {c for c, _, lg, *_ in rows if lg}
    assert local == {"PHL", "IDN", "JPN", "IND", "THA", "VNM", "KOR"}
    assert all(latin == n and vintages == 1 for *_, n, latin, vintages in rows)  # Latin names, one vintage each
    by = {(c, level): lg for c, level, lg, *_ in rows}
    assert by[("IND", "district")] is False and by[("THA", "district")] is False and by[("IND", "local_government")]
    assert marts("select area_name_latin from marts.dim_area where area_code = 'JP-LG-122033'") == [("Ichikawa",)]


def test_women_seat_share_reaches_the_latest_vintage_and_most_rows_are_real(marts):
    assert marts("select max(year) from marts.women_in_local_government where area_level = 'country'") == [(2023,)]
    dupes = marts("select area_code, year from marts.women_in_local_government group by 1, 2 having count(*) > 1")
    assert dupes == []
    both = marts("select count(distinct source_name) from marts.fct_observation where series_code = 'SG_GEN_LOCGELS'")
    assert both == [(2,)]  # the 2020 release stays beside the later vintage
    real, total = marts("select count(*) filter (where not d.synthetic), count(*) from marts.fct_observation f "
                        "join marts.dim_snapshot d using (snapshot_id)")[0]
    assert real / total >= 0.95
    marts_ = [t for (t,) in marts("select table_name from information_schema.tables where table_schema = 'marts' "
                                  "and table_type = 'BASE TABLE'")]
    for mart in marts_:
        cols = [c for (c,) in marts("select column_name from information_schema.columns where table_schema = 'marts' "
                                    "and table_name = %s", mart)]
        if "source_name" in cols:
            n = marts(f"select count(*) from marts.{mart} where source_name not like '%%synthetic%%'")[0][0]
        else:
            n = marts(f"select count(*) from marts.{mart}")[0][0]
        assert n > 0, mart
