"""A source's ``needs`` (the sources its rows refer to) are ingested with it, before it; a wrong one is refused."""

from __future__ import annotations

import shutil

import pytest

from lgstats.pipeline import registry


def test_psa_brings_the_registers_its_provinces_refer_to_and_others_come_alone():
    known = registry.sources()
    assert known["psa"].needs == ["registers"]
    assert registry.with_needs(["psa"], known) == ["registers", "psa"]
    assert registry.with_needs(["world_bank", "psa", "registers"], known) == ["world_bank", "registers", "psa"]
    assert registry.with_needs(["world_bank", "submissions"], known) == ["world_bank", "submissions"]


def _registry_with(tmp_path, name: str, needs: str):
    folder = tmp_path / "sources"
    shutil.copytree(registry.REGISTRY_DIR, folder)
    path = folder / f"{name}.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\ndatasets:", f"\nneeds: {needs}\ndatasets:", 1), encoding="utf-8")
    return folder, path


def test_a_need_the_registry_does_not_have_is_refused_naming_the_file(tmp_path):
    folder, path = _registry_with(tmp_path, "world_bank", "[world_bnk]")
    with pytest.raises(registry.RegistryError) as err:
        registry.sources(folder)
    assert str(path) in str(err.value) and "world_bnk" in str(err.value)


def test_sources_that_need_each_other_are_refused(tmp_path):
    folder, _ = _registry_with(tmp_path, "registers", "[psa]")
    with pytest.raises(registry.RegistryError, match="registers → psa → registers|psa → registers → psa"):
        registry.with_needs(["psa"], registry.sources(folder))
