"""The UN SDG client over real HTTP against a local server that replays recorded pages and injects faults."""

from __future__ import annotations

import json

import pytest

from lgstats.pipeline import registry
from lgstats.pipeline.connectors import un_sdg
from lgstats.pipeline.http import FetchError
from lgstats.pipeline.registry import HttpPolicy
from lgstats.pipeline.snapshots import SnapshotWriter, partition_path
from tests.conftest import REPLAY
from tests.sdg_server import Fault, SdgServer

REPLAY_DIR = REPLAY / "un_sdg" / "series_data"


@pytest.fixture
def sdg(httpserver, monkeypatch):
    server = SdgServer(REPLAY_DIR)
    monkeypatch.setenv("LGSTATS_UN_SDG_BASE_URL", server.install(httpserver))
    return server


def _source(series=("SG_GEN_LOCGELS", "EN_ATM_PM25"), **http):
    src = registry.source("un_sdg")
    ds = src.dataset("series_data")
    ds = ds.model_copy(update={"series": [s for s in ds.series if s.code in series], "page_size": 100})
    policy = HttpPolicy(**{"timeout_seconds": 2, "max_total_seconds": 60, "retries": 4, "backoff_factor": 0.05,
                           **http})
    return src.model_copy(update={"http": policy, "datasets": [ds]}), ds


def _fetch(tmp_path, src, ds):
    with SnapshotWriter(tmp_path, src.name, ds.name, "2026-11-28") as writer:
        origin = un_sdg.fetch(src, ds, writer)
        return writer.commit(licence=src.licence, **origin)


def _expected(server, series):
    return sum(len(json.loads(b)["data"]) for (s, _), b in server.pages.items() if s in series)


def test_fetches_every_page_with_repeated_query_keys(tmp_path, sdg, httpserver):
    src, ds = _source()
    snap = _fetch(tmp_path, src, ds)
    rows = list(un_sdg.parse(snap))
    assert len(rows) == _expected(sdg, {"SG_GEN_LOCGELS", "EN_ATM_PM25"}) == un_sdg.expected_rows(snap)
    first = httpserver.log[0][0]
    assert first.args.getlist("areaCode")[:3] == ["1", "142", "9"]  # repeated keys, unpadded codes
    assert first.args["pageSize"] == "100"
    assert all(f["url"].startswith(httpserver.url_for("/")) for f in snap.origin["files"])


@pytest.mark.parametrize("fault", [
    Fault("status", status=503), Fault("status", status=500), Fault("retry_after"),
    Fault("cut", page=2), Fault("bad_json", page=2), Fault("total_changes", page=2),
])
def test_recovers_from_each_fault_and_loads_every_row_once(tmp_path, sdg, fault):
    fault.series = "EN_ATM_PM25"
    sdg.faults.append(fault)
    src, ds = _source()
    snap = _fetch(tmp_path, src, ds)
    rows = list(un_sdg.parse(snap))
    keys = {(r["series_code"], r["geo_area_code"], r["year"], r["dimensions"]) for r in rows}
    assert len(rows) == len(keys) == _expected(sdg, {"SG_GEN_LOCGELS", "EN_ATM_PM25"})
    assert any(kind == fault.kind for _, _, kind in sdg.log), "the fault was never injected"


def test_a_slow_page_times_out_and_is_retried(tmp_path, sdg):
    sdg.faults.append(Fault("slow", series="SG_GEN_LOCGELS", page=1, seconds=2.5))
    src, ds = _source(series=("SG_GEN_LOCGELS",), timeout_seconds=1)
    snap = _fetch(tmp_path, src, ds)
    assert len(list(un_sdg.parse(snap))) == _expected(sdg, {"SG_GEN_LOCGELS"})
    assert [k for _, _, k in sdg.log][:2] == ["slow", "ok"]


def test_a_request_that_keeps_failing_names_itself_and_leaves_no_partition(tmp_path, sdg):
    sdg.faults.append(Fault("status", series="EN_ATM_PM25", page=2, status=503, times=100))
    src, ds = _source()
    with pytest.raises(FetchError) as err:
        _fetch(tmp_path, src, ds)
    assert "seriesCode=EN_ATM_PM25" in str(err.value) and "page=2" in str(err.value)
    assert "503" in str(err.value)
    assert not partition_path(tmp_path, src.name, ds.name, "2026-11-28").exists()


def test_a_client_error_is_not_retried(tmp_path, sdg):
    sdg.faults.append(Fault("status", series="SG_GEN_LOCGELS", status=400, times=100))
    src, ds = _source(series=("SG_GEN_LOCGELS",))
    with pytest.raises(FetchError, match="HTTP 400"):
        _fetch(tmp_path, src, ds)
    assert len(sdg.log) == 1


def test_total_time_is_bounded(tmp_path, sdg):
    sdg.faults.append(Fault("slow", seconds=1.5, times=100))
    src, ds = _source(series=("SG_GEN_LOCGELS",), timeout_seconds=1, max_total_seconds=3)
    with pytest.raises(FetchError, match="gave up|failed after"):
        _fetch(tmp_path, src, ds)


@pytest.mark.parametrize("dataset,first_key", [("series_list", "series_code"), ("geoarea_list", "geo_area_code")])
def test_list_endpoints_are_fetched_whole_and_parsed(tmp_path, sdg, dataset, first_key):
    src = registry.source("un_sdg")
    ds = src.dataset(dataset)
    sdg.faults.append(Fault("status", series=f"/{ds.endpoint}", status=502))
    src = src.model_copy(update={"http": HttpPolicy(timeout_seconds=2, max_total_seconds=30, retries=3,
                                                    backoff_factor=0.05)})
    snap = _fetch(tmp_path, src, ds)
    rows = list(un_sdg.parse(snap, ds))
    assert len(rows) == snap.origin["files"][0]["rows"] > 0
    assert all(r[first_key] for r in rows)
    assert [k for p, _, k in sdg.log if p == f"/{ds.endpoint}"] == ["status", "ok"]


def test_a_list_that_is_not_an_array_is_refused(tmp_path, httpserver, monkeypatch):
    httpserver.expect_request("/v1/sdg/Series/List").respond_with_json({"message": "moved"})
    monkeypatch.setenv("LGSTATS_UN_SDG_BASE_URL", httpserver.url_for("/").rstrip("/"))
    src = registry.source("un_sdg")
    src = src.model_copy(update={"http": HttpPolicy(timeout_seconds=2, max_total_seconds=5, retries=1,
                                                    backoff_factor=0.01)})
    with pytest.raises(FetchError, match="expected a JSON array"):
        _fetch(tmp_path, src, src.dataset("series_list"))
