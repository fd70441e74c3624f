"""Connectors: one module per protocol, each with ``fetch`` (live), ``parse`` and ``COLUMNS``."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType


def get(name: str) -> ModuleType:
    return import_module(f"lgstats.connectors.{name}")
