"""The source registry: one YAML file per source in ``ingestion/sources/``.

Adding a dataset from a supported source is configuration: a new entry here and its GX suite.
"""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lgstats.settings import PROJECT_DIR, SEEDS_DIR

REGISTRY_DIR = PROJECT_DIR / "ingestion" / "sources"


class RegistryError(ValueError):
    """A registry file that does not say what lgstats can do: the message names the file, dataset and key."""


class HttpPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_seconds: float = 60        # per connection attempt and per read
    max_total_seconds: float = 600     # the whole fetch, waits for Retry-After included
    retries: int = 6
    backoff_factor: float = 0.5
    max_bytes: int = 100_000_000       # one response body; a larger one is refused, never held whole
    task_timeout_minutes: float = 60   # execution_timeout of each Airflow task of the source


class Series(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    indicators: list[str] = Field(default_factory=list)
    unit: str | None = None            # the source's own code or a code of the unit list (lgstats/units.py)
    city_level: bool = False
    definition: str | None = None      # the source's own definition, where its data do not carry one
    method: str | None = None          # the source's method note, where it has one

    @property
    def goals(self) -> list[str]:
        return [i.split(".")[0] for i in self.indicators]

    @property
    def targets(self) -> list[str]:
        return [".".join(i.split(".")[:2]) for i in self.indicators]


class ConnectorKeys(BaseModel):
    """Base of each connector's ``DatasetSpec``: the keys only that connector reads; any other is refused."""

    model_config = ConfigDict(extra="forbid")


class Dataset(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None
    kind: str | None = None
    endpoint: str = ""  # UN SDG, World Bank: path template; SDMX and PXWeb build theirs from `flow`/`table`
    suite: str
    raw_table: str
    page_size: int = 1000
    series: list[Series] = Field(default_factory=list)
    areas: list[str] = Field(default_factory=list)
    areas_from_seed: str | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    # A dataset whose rows reach marts.fct_observation through a hand-written staging model names it here;
    # without it, an SDMX or PXWeb dataset's rows become observations from this entry alone
    # (dbt/models/intermediate/int_registry_observations.sql; docs/sources.md).
    staging_model: str | None = None

    def area_codes(self) -> list[str]:
        """Area codes as the API wants them: unpadded strings."""
        codes = list(self.areas)
        if self.areas_from_seed:
            with open(SEEDS_DIR / f"{self.areas_from_seed}.csv", newline="", encoding="utf-8") as fh:
                codes += [row["m49_code"] for row in csv.DictReader(fh)]
        return [str(int(c)) if c.isdigit() else c for c in codes]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str
    connector: str
    owner: str
    base_url: str
    licence: str
    licence_url: str | None = None
    expected_refresh_days: int
    http: HttpPolicy = Field(default_factory=HttpPolicy)
    auth: dict[str, str] | None = None  # {header, env, register}: an API key from the environment
    # sources whose rows this source's rows refer to (PSA's provinces are PSGC areas of the registers):
    # `lgstats run --source` ingests them too, so a build on a fresh warehouse has what its tests check
    needs: list[str] = []
    datasets: list[Dataset]

    @property
    def base_url_env(self) -> str:
        return f"LGSTATS_{self.name.upper()}_BASE_URL"

    def effective_base_url(self) -> str:
        return (os.environ.get(self.base_url_env) or self.base_url).rstrip("/")

    def dataset(self, name: str) -> Dataset:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(f"source {self.name!r} has no dataset {name!r}; known: {[d.name for d in self.datasets]}")


def _problem(exc: ValidationError) -> str:
    return "; ".join(("unknown key" if e["type"] == "extra_forbidden" else e["msg"].lower())
                     + f" {'.'.join(map(str, e['loc']))!r}" for e in exc.errors())


def check_dataset_keys(path: Path, src: Source, ds: Dataset) -> None:
    """A dataset's connector-specific keys (its connector's ``DatasetSpec``): an unknown or misspelt key is
    refused here, at load, instead of being silently ignored."""
    from lgstats import connectors

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
    from lgstats import units

    declared = [(f"series {s.code!r}", s.unit) for s in ds.series if s.unit]
    if (ds.model_extra or {}).get("unit"):
        declared.append(("the dataset", ds.model_extra["unit"]))
    for where, unit in declared:
        if units.unit_code(src.name, unit) is None:
            raise RegistryError(f"{path}: dataset {ds.name!r}, {where}: unknown unit {unit!r}; {units.fix(src.name)}")


def registry_dir() -> Path:
    """``ingestion/sources``, or ``$LGSTATS_REGISTRY_DIR`` (a copy with extra entries, e.g. in tests)."""
    return Path(os.environ.get("LGSTATS_REGISTRY_DIR") or REGISTRY_DIR)


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
    """``names`` and every source they need (transitively), each needed source before the first that needs it."""
    out: list[str] = []

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise RegistryError(f"sources need each other in a circle: {' → '.join([*chain, name])}")
        if name in out:
            return
        for needed in known[name].needs if name in known else []:
            add(needed, (*chain, name))
        out.append(name)

    for name in names:
        add(name, ())
    return out


def source(name: str) -> Source:
    known = sources()
    if name not in known:
        raise KeyError(f"unknown source {name!r}; the registry in {registry_dir()} has {sorted(known)}")
    return known[name]
