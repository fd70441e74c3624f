"""The UN SDG parser keeps the API's real types and quirks (sources.md §1.4-1.5)."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lgstats.pipeline.connectors import un_sdg
from lgstats.pipeline.snapshots import SnapshotWriter
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "samples"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_float_text_parses_to_the_same_number(x):
    num, qualifier = un_sdg.parse_value(repr(x))
    assert qualifier is None
    assert Decimal(num) == Decimal(repr(x))


@given(st.sampled_from("<>"), st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_censored_values_have_no_number_but_keep_the_qualifier(sign, d):
    assert un_sdg.parse_value(f"{sign}{d}") == (None, sign)


@given(st.text())
def test_parse_value_never_raises_and_only_returns_numeric_text(text):
    num, qualifier = un_sdg.parse_value(text)
    if num is not None:
        assert math.isfinite(float(num))
        assert qualifier is None


@pytest.mark.parametrize("raw", ["N", "NaN", "nan", "Infinity", "", "  ", "..", "1,5", None])
def test_non_numbers_become_null(raw):
    assert un_sdg.parse_value(raw)[0] is None


@pytest.mark.parametrize("raw,expected", [(2000.0, 2000), (2000, 2000), ("2019.0", 2019), ("x", None), (None, None)])
def test_year_from_float_time_period_start(raw, expected):
    assert un_sdg.parse_year(raw) == expected


@pytest.mark.parametrize("raw,expected", [("4", "004"), ("36", "036"), ("156", "156"), ("902", "902"),
                                          ("99044", "99044"), (12, "012")])
def test_area_codes_are_zero_padded_to_three_only_when_short(raw, expected):
    assert un_sdg.pad_area(raw) == expected


def _snapshot_of(tmp_path, *pages: bytes):
    with SnapshotWriter(tmp_path, "un_sdg", "series_data", "2026-01-01") as w:
        for i, body in enumerate(pages, start=1):
            w.add(f"P__page-{i:04d}.json", body, url="http://x", series="P", page=i,
                  total_elements=json.loads(body)["totalElements"])
        return w.commit(licence="test", synthetic=False)


def test_recorded_2018_page_parses_with_units_taken_from_dimensions(tmp_path):
    snap = _snapshot_of(tmp_path, (SAMPLES / "sdg_series_data_page_2018_resourcewatch.json").read_bytes())
    [row] = list(un_sdg.parse(snap))
    assert row["series_code"] == "DC_TOF_WASHL"
    assert row["geo_area_code"] == "4" and row["area_code"] == "004"
    assert row["year"] == 2000 and row["time_period_start"] == "2000"
    assert row["value_text"] == "4.2785" and row["value_num"] == "4.2785"
    assert row["units"] == "CON_USD"  # a dimension in this release, an attribute in others
    assert row["unit_multiplier"] == "MILLION"
    assert json.loads(row["goal"]) == ["6"]


def test_recorded_2019_observation_keeps_float_year_and_string_value(tmp_path):
    obs = json.loads((SAMPLES / "sdg_series_data_observation_2019_unstats.json").read_text())
    page = {"size": 1, "totalElements": 1, "totalPages": 1, "pageNumber": 1, "data": [obs]}
    [row] = list(un_sdg.parse(_snapshot_of(tmp_path, json.dumps(page).encode())))
    assert row["time_period_start"] == "2000.0" and row["year"] == 2000
    assert row["area_code"] == "012"
    assert row["reporting_type"] == "G"
    assert json.loads(row["dimensions"]) == {"Sex": "BOTHSEX", "Migratory status": "_T", "Reporting Type": "G"}


def test_recorded_empty_page_yields_no_rows(tmp_path):
    snap = _snapshot_of(tmp_path, (SAMPLES / "sdg_series_data_empty_page_2018_resourcewatch.json").read_bytes())
    assert list(un_sdg.parse(snap)) == []
    assert un_sdg.expected_rows(snap) == 0


def test_counters_sent_as_strings_are_accepted(tmp_path):
    page = {"size": "1", "totalElements": "1", "totalPages": "1", "pageNumber": "1",
            "data": [{"series": "S", "geoAreaCode": "4", "timePeriodStart": 2001.0, "value": "<5"}]}
    [row] = list(un_sdg.parse(_snapshot_of(tmp_path, json.dumps(page).encode())))
    assert (row["value_num"], row["value_qualifier"], row["value_text"]) == (None, "<", "<5")


@pytest.mark.parametrize("body,fragment", [
    (b'{"totalElements": 1, "totalPages": 1, "data": [', "not valid JSON"),
    (b'{"total": 1, "rows": []}', "lacks"),
    (b'[1, 2]', "expected a JSON object"),
    (b'{"totalElements": "many", "totalPages": 1, "data": []}', "not integers"),
])
def test_broken_pages_raise_a_clear_error_naming_the_file(tmp_path, body, fragment):
    with SnapshotWriter(tmp_path, "un_sdg", "series_data", "2026-01-01") as w:
        w.add("S__page-0001.json", body, url="http://x")
        snap = w.commit(licence="test")
    with pytest.raises(un_sdg.PageError) as err:
        list(un_sdg.parse(snap))
    assert fragment in str(err.value)
    assert "S__page-0001.json" in str(err.value)


_maybe_text = st.none() | st.text(max_size=8)
_json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3), max_leaves=6)
_observation = st.fixed_dictionaries({}, optional={
    "series": _maybe_text | st.integers(), "seriesDescription": _maybe_text, "goal": _json_value,
    "target": _json_value, "indicator": _json_value, "geoAreaCode": _maybe_text | st.integers(0, 99999),
    "geoAreaName": _maybe_text, "timePeriodStart": st.none() | st.floats(1990, 2030) | st.integers(1990, 2030)
    | st.text(max_size=6), "value": _maybe_text | st.floats(allow_nan=False, allow_infinity=False),
    "valueType": _maybe_text,
    "time_detail": _maybe_text, "source": _maybe_text, "footnotes": _json_value,
    "attributes": st.none() | st.dictionaries(st.sampled_from(["Nature", "Units", "UnitMultiplier", "Other"]),
                                              _maybe_text | st.integers()),
    "dimensions": st.none() | st.dictionaries(st.sampled_from(["Units", "Reporting Type", "Sex", "Cities"]),
                                              _maybe_text),
    "upperBound": _maybe_text, "lowerBound": _maybe_text, "basePeriod": _maybe_text | st.integers()})


def _as_json(row: tuple) -> list:
    """jsonb columns compared as JSON values (the typed decoder keeps the page's bytes, spacing included)."""
    jsonb = {i for i, (_, t) in enumerate(un_sdg.SERIES_DATA_COLUMNS) if t == "jsonb"}
    return [json.loads(v) if i in jsonb else v for i, v in enumerate(row)]


@given(st.lists(_observation, max_size=4), st.sampled_from([None, 1]))
def test_the_typed_decoder_gives_the_general_decoders_rows_or_leaves_the_page_to_it(observations, indent):
    """The loader's fast path (typed msgspec decode) must never change a row: on any page it either gives
    exactly the general decoder's tuples, or refuses the page (which then takes the general decoder)."""
    import tempfile
    from pathlib import Path

    import msgspec

    body = json.dumps({"totalElements": len(observations), "totalPages": 1, "data": observations},
                      indent=indent).encode()
    with tempfile.TemporaryDirectory() as tmp:
        snap = _snapshot_of(Path(tmp), body)
        general = list(un_sdg._general_page(snap, snap.origin["files"][0]["file"], body))
        try:
            typed = un_sdg._typed_page(snap.id, snap.origin["files"][0]["file"], body)
        except msgspec.DecodeError:
            typed = None
        assert [_as_json(r) for r in un_sdg._series_data_rows(snap)] == [_as_json(r) for r in general]
    if typed is not None:
        assert [_as_json(r) for r in typed] == [_as_json(r) for r in general]
    if all(isinstance(o.get("geoAreaCode", ""), str | None) and isinstance(o.get("value", ""), str | None)
           and isinstance(o.get("series", ""), str | None) and isinstance(o.get("basePeriod", ""), str | None)
           and all(isinstance(v, str | None) for v in (o.get("attributes") or {}).values())
           for o in observations):
        assert typed is not None, "a page in the usual shape must take the fast path"
