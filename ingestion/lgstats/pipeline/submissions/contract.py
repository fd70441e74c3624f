"""The templates' data contract (``ingestion/submissions/templates.yml``) and the reference lists it checks
against (member codes, the official registers of local governments, M49 areas, ISO 3166-1 countries)."""

from __future__ import annotations

import csv
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel, Field

from lgstats.core.settings import PROJECT_DIR, SEEDS_DIR

TEMPLATES = PROJECT_DIR / "ingestion" / "submissions" / "templates.yml"


class Column(BaseModel):
    name: str
    type: str
    required: bool = False
    description: str = ""
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None


class Check(BaseModel):
    type: str
    a: str
    b: str
    message: str


class Template(BaseModel):
    name: str
    title: str
    period: list[str] = Field(default_factory=list)
    key: list[str]
    columns: list[Column]
    checks: list[Check] = Field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class Limits(BaseModel):
    max_bytes: int
    max_rows: int
    max_cell_chars: int
    max_zip_ratio: float
    max_unzipped_bytes: int
    year_min: int


@cache
def _load() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))


def limits() -> Limits:
    return Limits.model_validate(_load()["limits"])


def templates() -> dict[str, Template]:
    return {name: Template.model_validate({"name": name, **spec}) for name, spec in _load()["templates"].items()}


def template(name: str) -> Template:
    known = templates()
    if name not in known:
        raise KeyError(f"unknown template {name!r}; templates are: {', '.join(sorted(known))}")
    return known[name]


@cache
def members() -> dict[str, dict[str, str]]:
    with open(SEEDS_DIR / "ref_members.csv", newline="", encoding="utf-8") as fh:
        return {r["member_code"]: r for r in csv.DictReader(fh)}


@cache
def m49_codes() -> frozenset[str]:
    with open(SEEDS_DIR / "ref_m49_areas.csv", newline="", encoding="utf-8") as fh:
        return frozenset(r["m49_code"] for r in csv.DictReader(fh))


@cache
def iso3_codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.countries)


def register_areas(conn) -> dict[str, dict[str, Any]]:
    """Local governments of the official registers, as loaded in the warehouse (the latest snapshot of each
    register dataset): area_code → {name, country_iso3, official_code}. Empty when no register is loaded yet."""
    from psycopg import sql

    from lgstats.pipeline import registry

    out: dict[str, dict[str, Any]] = {}
    for src in registry.sources().values():
        if src.connector != "register":
            continue
        for ds in src.datasets:
            table = sql.Identifier("raw", ds.raw_table)
            if conn.execute("select to_regclass(%s)", (f"raw.{ds.raw_table}",)).fetchone()[0] is None:
                continue
            rows = conn.execute(sql.SQL(
                "select area_code, area_name, country_iso3, official_code from {} where counts_as_local_government "
                "and snapshot_id = (select snapshot_id from raw.snapshot_origins where source = %s and dataset = %s "
                "order by dt desc, loaded_at desc limit 1)").format(table), (src.name, ds.name)).fetchall()
            out.update({code: {"name": name, "country_iso3": iso3, "official_code": official}
                        for code, name, iso3, official in rows})
    return out
