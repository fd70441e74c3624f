"""The un_sdg__series_data GX suite passes the replay data and fails each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgstats.pipeline import registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.connectors import un_sdg
from lgstats.pipeline.snapshots import Snapshot
from lgstats.pipeline.validation import run_suite


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LGSTATS_HOME", str(tmp_path_factory.mktemp("home")))
    path = pipeline.fetch("un_sdg", "series_data", "2026-11-28", "replay")
    snap = Snapshot.open(Path(path))
    src = registry.source("un_sdg")
    ds = src.dataset("series_data")
    frame = un_sdg.validation_frame(un_sdg.parse(snap))
    yield frame, un_sdg.suite_parameters(src, ds, snap)
    mp.undo()


def test_replay_snapshot_passes(good):
    frame, params = good
    outcome = run_suite(frame, "un_sdg__series_data", params)
    assert outcome.success, [f.describe() for f in outcome.failures]
    assert outcome.evaluated >= 10


def _mutate(frame, **changes):
    bad = frame.copy()
    for column, value in changes.items():
        bad.loc[bad.index[0], column] = value
    return bad


@pytest.mark.parametrize("changes,expectation,column", [
    ({"year": 1066}, "expect_column_values_to_be_between", "year"),
    ({"series_code": "SG_NOT_ASKED"}, "expect_column_values_to_be_in_set", "series_code"),
    ({"geo_area_code": "AFG"}, "expect_column_values_to_match_regex", "geo_area_code"),
    ({"value_text": None}, "expect_column_values_to_not_be_null", "value_text"),
])
def test_bad_rows_fail_and_are_named_by_file_and_row(good, changes, expectation, column):
    frame, params = good
    outcome = run_suite(_mutate(frame, **changes), "un_sdg__series_data", params)
    assert not outcome.success
    [failure] = [f for f in outcome.failures if f.expectation == expectation and f.column == column]
    assert failure.unexpected_count == 1
    assert failure.examples[0]["source_file"] == frame.iloc[0]["source_file"]
    assert failure.examples[0]["row_number"] == frame.iloc[0]["row_number"]


def test_a_percentage_out_of_range_fails(good):
    frame, params = good
    idx = frame.index[frame["units"] == "PERCENT"][0]
    bad = frame.copy()
    bad.loc[idx, "value_float"] = 140.0
    outcome = run_suite(bad, "un_sdg__series_data", params)
    assert [f.column for f in outcome.failures] == ["value_float"]


def test_missing_rows_fail_the_row_count(good):
    frame, params = good
    outcome = run_suite(frame.iloc[1:], "un_sdg__series_data", params)
    assert [f.expectation for f in outcome.failures] == ["expect_table_row_count_to_equal"]


def test_duplicated_observation_fails_the_natural_key(good):
    frame, params = good
    import pandas as pd

    doubled = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    outcome = run_suite(doubled, "un_sdg__series_data", {**params, "expected_rows": len(doubled)})
    assert [f.expectation for f in outcome.failures] == ["expect_compound_columns_to_be_unique"]


def _list_frame(dataset: str):
    src = registry.source("un_sdg")
    ds = src.dataset(dataset)
    snap = Snapshot.open(Path(pipeline.fetch("un_sdg", dataset, "2026-11-28", "replay")))
    return un_sdg.validation_frame(un_sdg.parse(snap, ds), ds), un_sdg.suite_parameters(src, ds, snap), ds.suite


def test_series_list_passes_and_fails_when_a_registry_series_disappears(good):
    frame, params, suite = _list_frame("series_list")
    assert run_suite(frame, suite, params).success
    outcome = run_suite(frame[frame.series_code != "SG_GEN_LOCGELS"], suite, params)
    assert [f.expectation for f in outcome.failures] == ["expect_column_distinct_values_to_contain_set"]


def test_geoarea_list_passes_and_fails_on_a_duplicated_code(good):
    import pandas as pd

    frame, params, suite = _list_frame("geoarea_list")
    assert run_suite(frame, suite, params).success
    outcome = run_suite(pd.concat([frame, frame.iloc[[5]]], ignore_index=True), suite, params)
    assert [f.expectation for f in outcome.failures] == ["expect_column_values_to_be_unique"]
