"""Connectors: one module per protocol (un_sdg, world_bank, sdmx, pxweb, register). Each is a
:class:`Connector`; ``get`` checks it is one, so a connector missing a step fails when it is looked up, by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import import_module
from typing import Any, Protocol, cast, runtime_checkable

from lgstats.registry_model import Dataset, Source
from lgstats.snapshots import Snapshot, SnapshotWriter


@runtime_checkable
class Connector(Protocol):
    """What every connector module offers for a registry dataset."""

    def fetch(self, source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
        """Live requests into a snapshot writer; returns fields for the sidecar."""

    def parse(self, snapshot: Snapshot, dataset: Dataset) -> Iterator[dict]:
        """Rows for the raw table, as dicts, streamed (validation and tests read these)."""

    def rows(self, snapshot: Snapshot, dataset: Dataset) -> Iterable:
        """What the load streams to COPY: ``parse`` itself, or tuples in column order where that is faster."""

    def columns(self, dataset: Dataset) -> list[tuple[str, str]]:
        """The raw table's columns, in COPY order."""

    def validation_frame(self, rows: Iterable[dict], dataset: Dataset | None = None) -> Any:
        """The parsed rows as the DataFrame the dataset's GX suite reads."""

    def suite_parameters(self, source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
        """The ``$PARAMETER`` values of the dataset's suite."""


def get(name: str) -> Connector:
    module = import_module(f"lgstats.connectors.{name}")
    if not isinstance(module, Connector):
        missing = [m for m in ("fetch", "parse", "rows", "columns", "validation_frame", "suite_parameters")
                   if not callable(getattr(module, m, None))]
        raise TypeError(f"lgstats.connectors.{name} is not a connector: it lacks {missing}")
    return cast(Connector, module)
