"""The GX Data Docs render the validation results stored when each snapshot was validated: building the docs
parses and validates nothing again (at 10M rows that second validation cost minutes)."""

from __future__ import annotations

import pytest

from lgstats.pipeline import connectors, validation
from lgstats.pipeline import steps as pipeline
from lgstats.services import docs_site


def test_data_docs_render_stored_results_without_validating_again(warehouse_url, tmp_path, monkeypatch):
    for dataset in ("series_list", "geoarea_list"):
        pipeline.validate(pipeline.fetch("un_sdg", dataset, "2026-11-29", "replay"))

    def forbidden(*args, **kwargs):
        raise AssertionError("the docs build must not parse or validate a snapshot")

    monkeypatch.setattr(validation, "validate_frame", forbidden)
    monkeypatch.setattr(connectors.get("un_sdg"), "parse", forbidden)
    index, shown = docs_site.build_data_docs(tmp_path / "site", tmp_path / "work")
    assert sorted(shown) == ["un_sdg/geoarea_list/dt=2026-11-29", "un_sdg/series_list/dt=2026-11-29"]
    text = index.read_text()
    assert "un_sdg__series_list" in text and "un_sdg__geoarea_list" in text
    pages = list((tmp_path / "site" / "gx" / "validations").rglob("*.html"))
    assert len(pages) == 2 and all("Succeeded" in p.read_text() or "success" in p.read_text().lower() for p in pages)


def test_a_dataset_without_a_stored_result_is_left_out_not_revalidated(warehouse_url, tmp_path, monkeypatch):
    pipeline.fetch("un_sdg", "series_list", "2026-11-29", "replay")  # fetched, never validated
    monkeypatch.setattr(validation, "validate_frame", pytest.fail)
    index, shown = docs_site.build_data_docs(tmp_path / "site", tmp_path / "work")
    assert shown == [] and index.exists()


def test_the_data_docs_index_lists_every_validation_without_scripts_or_network(warehouse_url, tmp_path):
    """Issue 25, defect 12: GX's index drew its table with scripts from CDNs, so offline it was blank. The index
    now opens with a plain list linking each validation page, with its outcome."""
    import re

    for dataset in ("series_list", "geoarea_list"):
        pipeline.validate(pipeline.fetch("un_sdg", dataset, "2026-11-29", "replay"))
    index, _ = docs_site.build_data_docs(tmp_path / "site", tmp_path / "work")
    page = index.read_text()
    section = re.search(r'<section id="lgstats-offline-list".*?</section>', page, flags=re.S).group(0)
    assert "<script" not in section and "http" not in section
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a>[^<]*<code>[^<]+</code>\): (passed|failed)</li>', section)
    assert sorted(name for _, name, _ in links) == ["un_sdg__geoarea_list", "un_sdg__series_list"]
    assert all((index.parent / href).is_file() and outcome == "passed" for href, _, outcome in links)
