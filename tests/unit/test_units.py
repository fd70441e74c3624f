"""Issue 25: one unit list. Each source's own unit codes map to it (dbt/seeds/map_source_units.csv), and a
registry entry may declare only a unit the list knows for its source."""

from __future__ import annotations

import shutil

import pytest

from lgstats.pipeline import registry, units


def test_every_mapping_points_into_the_list_and_cites_its_evidence():
    import csv

    with open(units.MAP_FILE, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["unit_code"] in units.unit_codes() and r["evidence"].strip() for r in rows)
    assert units.unit_code("psa", "%") == "PERCENT" and units.unit_code("oecd", "PT_B1GQ") == "PERCENT_OF_GDP"
    assert units.unit_code("un_sdg", "PERCENT") == "PERCENT"      # a code of the list is itself
    assert units.unit_code("world_bank", "%") is None             # a mapping holds for its own source only
    assert "%" in units.known("psa") and "%" not in units.known("un_sdg")


def test_every_unit_the_registry_declares_is_known_for_its_source():
    declared = [(s.name, x.unit) for s in registry.sources().values() for d in s.datasets for x in d.series if x.unit]
    assert declared and all(units.unit_code(src, unit) for src, unit in declared)


def test_a_declared_unit_the_list_does_not_know_is_refused_naming_file_series_and_unit(tmp_path):
    folder = tmp_path / "sources"
    shutil.copytree(registry.REGISTRY_DIR, folder)
    path = folder / "world_bank.yml"
    path.write_text(path.read_text().replace("unit: USD,", "unit: US_DOLLARS,"), encoding="utf-8")
    registry._load.cache_clear()
    try:
        with pytest.raises(registry.RegistryError) as refused:
            registry.sources(folder)
    finally:
        registry._load.cache_clear()
    message = str(refused.value)
    assert str(path) in message and "'NY.GDP.PCAP.CD'" in message and "'US_DOLLARS'" in message
    assert "map_source_units.csv" in message and "PERCENT" in message
