"""The benchmark's scale generator writes a replay folder that the real pipeline accepts, labelled synthetic,
with exactly the rows asked for spread over many local governments."""

from __future__ import annotations

import json
from pathlib import Path

from lgstats.devdata.synthetic import scale
from lgstats.pipeline import registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.connectors import un_sdg
from lgstats.pipeline.snapshots import Snapshot
from lgstats.pipeline.validation import run_suite


def test_scaled_replay_passes_the_real_suite(tmp_path, monkeypatch):
    rows = 12_007  # not a multiple of the page size nor of the four city series
    out = scale.write(tmp_path / "replay", rows, page_size=1000)
    origin = json.loads((out / "_origin.json").read_text())
    assert origin["synthetic"] is True and origin["licence"] == "synthetic"
    city = {s.code for s in registry.source("un_sdg").dataset("series_data").series if s.city_level}
    generated = sum(f["rows"] for f in origin["files"] if f["series"] in city)
    assert generated == rows
    assert (tmp_path / "replay" / "world_bank").is_symlink()  # every other source replays as usual

    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LGSTATS_REPLAY_DIR", str(tmp_path / "replay"))
    snap = Snapshot.open(Path(pipeline.fetch("un_sdg", "series_data", "2026-01-01", "replay")))
    src = registry.source("un_sdg")
    ds = src.dataset("series_data")
    frame = un_sdg.validation_frame(un_sdg.parse(snap, ds), ds)
    outcome = run_suite(frame, ds.suite, un_sdg.suite_parameters(src, ds, snap))
    assert outcome.success, [f.describe() for f in outcome.failures]
    cities = frame[frame.series_code.isin(city)]
    assert len(cities) == rows
    local_governments = cities[["geo_area_code", "dimensions"]].drop_duplicates()
    assert len(local_governments) == origin["scale"]["local_governments"] > len(scale.countries())
    # each city under one country, so the warehouse keeps them (a city filed under several is held out)
    city_codes = cities.dimensions.map(lambda d: (json.loads(d) if isinstance(d, str) else d)["Cities"])
    assert cities.assign(city=city_codes).groupby("city").geo_area_code.nunique().max() == 1


def test_generation_is_deterministic(tmp_path):
    a = scale.write(tmp_path / "a", 1_200, page_size=400)
    b = scale.write(tmp_path / "b", 1_200, page_size=400)
    md5 = [{f["file"]: f["md5"] for f in json.loads((d / "_origin.json").read_text())["files"]} for d in (a, b)]
    assert md5[0] == md5[1]
