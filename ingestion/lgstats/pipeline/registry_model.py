"""What a registry entry may say: the models of one YAML file of ``ingestion/sources/``.

Below the connectors (each connector's ``DatasetSpec`` extends ``ConnectorKeys`` or ``ObservationKeys``); reading
and checking the files is ``lgstats.pipeline.registry``'s job, above them.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lgstats.core.settings import SEEDS_DIR, Settings


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
    unit: str | None = None            # the source's own code or a code of the unit list (lgstats/pipeline/units.py)
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


class Disaggregation(BaseModel):
    """A dimension whose codes break a series down: ``total`` is the series' own total (``_T`` in the marts);
    every other code is a part, ``<DIMENSION>=<code>``, never to be added to the total."""

    model_config = ConfigDict(extra="forbid")
    dimension: str
    total: str


class ObservationKeys(ConnectorKeys):
    """How an SDMX or PXWeb dataset's rows become observations, from its entry alone (one route to the marts:
    dbt/macros/registry_observations.sql). Every name is one of the dataset's own dimensions."""

    area: str | None = None                 # a fixed M49 code for every row, e.g. "036"
    area_scheme: str | None = None          # iso3 or m49: the codes of the area dimension
    series_prefix: str | None = None        # default '<source>.'
    # a composite series code: these dimensions' codes joined by '.' after the prefix (E1 in % of GDP is not E1
    # in % of general government); default the measure dimension alone
    series_dimensions: list[str] = []
    # the series name from the data's own labels, each {DIMENSION} its label (its code where unlabelled)
    series_label: str | None = None
    disaggregation: Disaggregation | None = None

    def dimension_names(self) -> list[str]:
        """The dataset's dimensions, which the keys above may name."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _names_are_dimensions(self):
        named = list(self.series_dimensions) + re.findall(r"{([^{}]+)}", self.series_label or "")
        if self.disaggregation:
            named.append(self.disaggregation.dimension)
        if unknown := [n for n in named if n not in self.dimension_names()]:
            raise ValueError(f"series_dimensions, series_label or disaggregation names {unknown}, which are not "
                             f"dimensions of the dataset {self.dimension_names()}")
        return self


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
    # when its ingest DAG runs (a cron expression or an Airflow preset; LGSTATS_SCHEDULES=off: only when
    # triggered), and how often Airflow retries each of its tasks (unset: LGSTATS_TASK_RETRIES)
    schedule: str = "@monthly"
    task_retries: int | None = None
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
        return (Settings.named_variable(self.base_url_env) or self.base_url).rstrip("/")

    def dataset(self, name: str) -> Dataset:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(f"source {self.name!r} has no dataset {name!r}; known: {[d.name for d in self.datasets]}")
