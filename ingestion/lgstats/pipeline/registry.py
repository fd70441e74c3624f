"""The source registry: one YAML file per source in ``ingestion/sources/``, read and checked.

Adding a dataset from a supported source is configuration: a new entry here and its GX suite. The models of an
entry are ``lgstats.pipeline.registry_model``; this module reads the files and checks each dataset against its
connector's keys and the unit list.
"""

from __future__ import annotations

import graphlib
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from lgstats.core.settings import REGISTRY_DIR, SEEDS_DIR  # noqa: F401 - REGISTRY_DIR: the default, for tests
from lgstats.pipeline import connectors
from lgstats.pipeline.registry_model import (  # noqa: F401 - the registry's vocabulary, for its readers
    ConnectorKeys,
    Dataset,
    Disaggregation,
    HttpPolicy,
    ObservationKeys,
    RegistryError,
    Series,
    Source,
)


def _problem(exc: ValidationError) -> str:
    def one(e: dict) -> str:
        if e["type"] == "value_error":  # a rule across keys: its message names what is wrong, as written
            return e["msg"].removeprefix("Value error, ")
        return ("unknown key" if e["type"] == "extra_forbidden" else e["msg"].lower()) + \
            f" {'.'.join(map(str, e['loc']))!r}"
    return "; ".join(one(e) for e in exc.errors())


def check_dataset_keys(path: Path, src: Source, ds: Dataset) -> None:
    """A dataset's connector-specific keys (its connector's ``DatasetSpec``): an unknown or misspelt key is
    refused here, at load, instead of being silently ignored."""
    spec = getattr(connectors.get(src.connector), "DatasetSpec", None)
    extra = dict(ds.model_extra or {})
    if spec is None:
        if extra:
            raise RegistryError(f"{path}: dataset {ds.name!r} has unknown key(s) {sorted(extra)}; connector "
                                f"{src.connector!r} takes only {sorted(Dataset.model_fields)}")
        return
    try:
        spec.model_validate(extra)
    except ValidationError as exc:
        raise RegistryError(
            f"{path}: dataset {ds.name!r} (connector {src.connector!r}): {_problem(exc)}. Keys are "
            f"{sorted(set(Dataset.model_fields) | set(spec.model_fields))}; check the spelling") from None


@cache
def _load(path: Path) -> Source:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    try:
        src = Source.model_validate(raw)
    except ValidationError as exc:
        raise RegistryError(f"{path}: {_problem(exc)}. Check the spelling against docs/sources.md") from None
    for ds in src.datasets:
        check_dataset_keys(path, src, ds)
        check_units(path, src, ds)
    return src


def check_units(path: Path, src: Source, ds: Dataset) -> None:
    """A unit the entry declares (per series, or the dataset's ``unit``) must be one the unit list maps for
    this source: an unknown one would reach the marts unmapped."""
    from lgstats.pipeline import units

    declared = [(f"series {s.code!r}", s.unit) for s in ds.series if s.unit]
    if (ds.model_extra or {}).get("unit"):
        declared.append(("the dataset", ds.model_extra["unit"]))
    for where, unit in declared:
        if units.unit_code(src.name, unit) is None:
            raise RegistryError(f"{path}: dataset {ds.name!r}, {where}: unknown unit {unit!r}; {units.fix(src.name)}")


def registry_dir() -> Path:
    """``ingestion/sources``, or ``$LGSTATS_REGISTRY_DIR`` (a copy with extra entries, e.g. in tests)."""
    from lgstats.core.settings import get_settings

    return get_settings().registry_dir


def sources(directory: Path | None = None) -> dict[str, Source]:
    out, files = {}, {}
    for path in sorted((directory or registry_dir()).glob("*.yml")):
        src = _load(path)
        out[src.name], files[src.name] = src, path
    for name, src in out.items():
        if unknown := [n for n in src.needs if n not in out]:
            raise RegistryError(f"{files[name]}: needs {unknown}, which the registry does not have; "
                                f"sources: {sorted(out)}")
    return out


def with_needs(names: list[str], known: dict[str, Source]) -> list[str]:
    """``names`` and every source they need (transitively), each needed source before the first that needs it;
    the rest in the order given, as far as the needs allow (graphlib orders them, and finds circles)."""
    graph: dict[str, list[str]] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in graph:
            graph[name] = list(known[name].needs) if name in known else []
            todo += graph[name]
    first_asked = {n: i for i, n in enumerate(dict.fromkeys(names))}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise RegistryError(f"sources need each other in a circle: {' → '.join(reversed(exc.args[1]))}") from None
    out: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: first_asked.get(n, -1))
        out += ready
        sorter.done(*ready)
    return out


def source(name: str) -> Source:
    known = sources()
    if name not in known:
        raise KeyError(f"unknown source {name!r}; the registry in {registry_dir()} has {sorted(known)}")
    return known[name]
