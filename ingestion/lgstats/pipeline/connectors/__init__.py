"""Connectors: one module per protocol (un_sdg, world_bank, sdmx, pxweb, register). Each is a
:class:`Connector`; ``get`` checks it is one, so a connector missing a step fails when it is looked up, by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any, Protocol, cast, runtime_checkable

from lgstats.pipeline.registry_model import Dataset, Source
from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter


@runtime_checkable
class Connector(Protocol):
    """What every connector module offers for a registry dataset: what fetch, validate and load call.
    Validate also reads, where a connector has them, ``DERIVED_COLUMNS``, ``CATEGORICAL`` and ``finish_frame``;
    the connectors' ``parse`` (rows as dicts) is what their ``rows`` and their tests use."""

    def fetch(self, source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
        """Live requests into a snapshot writer; returns fields for the sidecar."""

    def rows(self, snapshot: Snapshot, dataset: Dataset) -> Iterable:
        """What validate stages and load streams to COPY (the one parse): dicts, or tuples in column order."""

    def columns(self, dataset: Dataset) -> list[tuple[str, str]]:
        """The raw table's columns, in COPY order."""

    def suite_parameters(self, source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
        """The ``$PARAMETER`` values of the dataset's suite."""


def get(name: str) -> Connector:
    module = import_module(f"lgstats.pipeline.connectors.{name}")
    if not isinstance(module, Connector):
        missing = [m for m in ("fetch", "rows", "columns", "suite_parameters")
                   if not callable(getattr(module, m, None))]
        raise TypeError(f"lgstats.pipeline.connectors.{name} is not a connector: it lacks {missing}")
    return cast(Connector, module)
