"""Connectors: one module per protocol. Each offers, for a registry dataset:

- ``fetch(source, dataset, writer)``: live requests into a snapshot writer; returns sidecar fields;
- ``parse(snapshot, dataset)``: rows for the raw table, streamed;
- ``columns(dataset)``: the raw table's columns, in COPY order;
- optionally ``rows(snapshot, dataset)``: what the load streams instead of ``parse`` (tuples in COPY order);
- ``validation_frame(rows, dataset)`` and ``suite_parameters(source, dataset, snapshot)`` for the GX gate.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType


def get(name: str) -> ModuleType:
    return import_module(f"lgstats.connectors.{name}")
