"""The dbt exposures name the real Superset dashboards (issue 26): every dashboard of bi/superset/assets has one
exposure whose URL is its slug and whose depends_on are the marts its charts read, and no exposure names a
dashboard that does not exist."""

from __future__ import annotations

import re

import pytest
import yaml

from lgstats import bi
from lgstats.settings import PROJECT_DIR

EXPOSURES = PROJECT_DIR / "dbt" / "models" / "marts" / "_marts__exposures.yml"


def test_every_superset_dashboard_is_an_exposure_with_the_marts_its_charts_read():
    exposures = yaml.safe_load(EXPOSURES.read_text(encoding="utf-8"))["exposures"]
    boards = [e for e in exposures if e["type"] == "dashboard"]
    found = {}
    for e in boards:
        slug = re.fullmatch(r"http://127\.0\.0\.1:8088/superset/dashboard/([a-z0-9-]+)/", e["url"])
        assert slug, f"{e['name']}: {e['url']} is not a dashboard of `lgstats bi` (127.0.0.1:8088)"
        found[slug.group(1)] = {"title": e["label"],
                                "marts": sorted(re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for d in e["depends_on"])}
    expected = {slug: {"title": d["title"], "marts": d["marts"]} for slug, d in bi.dashboard_marts().items()}
    assert found == expected


def test_charts_name_their_dataset_and_an_unknown_name_is_refused(tmp_path):
    chart = tmp_path / "c.yaml"
    chart.write_text("slice_name: x\nuuid: 00000000-0000-0000-0000-000000000000\ndataset: lga_profile\n")
    known = {bi._uuid("dataset", "lga_profile")}
    assert bi.chart_with_dataset_uuid(chart, known)["dataset_uuid"] == bi._uuid("dataset", "lga_profile")
    chart.write_text("slice_name: x\ndataset: lga_profiles\n")
    with pytest.raises(ValueError, match="lga_profiles") as refused:
        bi.chart_with_dataset_uuid(chart, known)
    assert str(chart) in str(refused.value)
