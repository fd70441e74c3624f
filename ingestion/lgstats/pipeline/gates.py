"""Publish gates: compare the freshly built intermediate layer with the published marts before the marts
are rebuilt. A failing gate stops ``warehouse_build`` ahead of the marts layer, so analysts keep the last
good marts. Rules live in ``expectations/publish_gates.yml``; golden values in ``golden_values.csv``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from lgstats.core.settings import PROJECT_DIR

CONFIG = PROJECT_DIR / "expectations" / "publish_gates.yml"
NEW = "intermediate.int_observations_unioned"
OLD = "marts.fct_observation"
KEY = "md5(concat_ws('|', series_code, area_code, year, period, disaggregation, reporting_type, unit))"


class GateFailed(RuntimeError):
    pass


@dataclass
class GateReport:
    passed: bool = True
    findings: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    info: list[str] = field(default_factory=list)  # noted, never a failure (synthetic rows replaced or dropped)

    def fail(self, message: str) -> None:
        self.passed = False
        self.findings.append(message)


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is not None


def changed_snapshots(conn: psycopg.Connection) -> list[str]:
    """Every snapshot of each source dataset that has something new since the last published build: what
    this build replaces in fct_observation, and so all the gates need to judge (ops.observation_snapshots)."""
    return [r[0] for r in conn.execute(
        "select snapshot_id from ops.observation_snapshots where dataset_changed order by 1").fetchall()]


def deleted_share(conn: psycopg.Connection, report: GateReport, max_share: float, min_rows: int,
                  changed: list[str]) -> None:
    """Rows of the published marts whose key is gone from the new build, per series, in the source datasets
    this build replaces (``changed``: their snapshots; the others are not rebuilt, so lose nothing). Only rows
    from real snapshots are judged: synthetic demo rows being replaced (by a first live run) or dropped is
    information, never a finding, so demo data can never block real data."""
    synthetic = "coalesce(s.synthetic, false)"
    if not _exists(conn, "marts.dim_snapshot"):
        synthetic = "false"
    join = "left join marts.dim_snapshot as s using (snapshot_id)" if synthetic != "false" else ""
    rows = conn.execute(f"""
        with old as (select o.series_code as series, {KEY} as k, {synthetic} as synthetic
                     from {OLD} as o {join}
                     where o.source_dataset in (select source_dataset from ops.observation_snapshots
                                                where dataset_changed)),
             new as (select distinct {KEY} as k from {NEW} where snapshot_id = any(%(changed)s))
        select old.series,
               count(*) filter (where not old.synthetic) as before,
               count(*) filter (where not old.synthetic and new.k is null) as gone,
               count(*) filter (where old.synthetic) as before_synthetic,
               count(*) filter (where old.synthetic and new.k is null) as gone_synthetic
        from old left join new on new.k = old.k
        group by old.series""", {"changed": changed}).fetchall()
    report.checked["series_compared"] = len(rows)
    for series, before, gone, before_syn, gone_syn in rows:
        if gone_syn:
            report.info.append(f"{series}: {gone_syn} of {before_syn} synthetic row(s) replaced or dropped")
        if not before:
            continue
        if gone == before:
            report.fail(f"vanished series: {series} had {before} rows in the marts and has none in this build")
        elif before >= min_rows and gone / before > max_share:
            report.fail(f"deleted rows: {series} lost {gone} of {before} rows ({gone / before:.0%} > "
                        f"{max_share:.0%} allowed)")


def golden_values(conn: psycopg.Connection, report: GateReport, path: Path, changed: list[str]) -> None:
    """Each golden value of a series this build replaces must still be there, within its tolerance (a
    series with nothing new was checked when it was published). One pass over the new build for all of
    them (a query per value re-reads the whole intermediate view each time: minutes at 10M rows)."""
    with open(path, newline="", encoding="utf-8") as fh:
        golden = list(csv.DictReader(fh))
    if not golden:
        report.checked["golden_values"] = 0
        return
    keys = [(g["series_code"], g["area_code"], int(g["year"]), g["disaggregation"]) for g in golden]
    series = sorted({k[0] for k in keys})  # the filter reaches the raw scans: only these series are read
    found = conn.execute(
        f"""with golden (series_code, area_code, year, disaggregation) as (
                select * from unnest(%s::text[], %s::text[], %s::int[], %s::text[]))
            select n.series_code, n.area_code, n.year, n.disaggregation, n.value
            from {NEW} as n join golden using (series_code, area_code, year, disaggregation)
            where n.series_code = any(%s) and n.snapshot_id = any(%s)""",
        [*[list(col) for col in zip(*keys, strict=True)], series, changed]).fetchall()
    values = {tuple(r[:4]): r[4] for r in found}
    synthetic = dict(conn.execute(
        f"select series_code, bool_or(source_name like '%%synthetic%%') from {NEW} where series_code = any(%s) "
        "and snapshot_id = any(%s) group by series_code", (series, changed)).fetchall())
    checked = 0
    for g, key in zip(golden, keys, strict=True):
        if g["series_code"] not in synthetic:
            continue
        if (g["applies_to"] == "synthetic") != synthetic[g["series_code"]]:
            continue  # golden values of the synthetic replay data say nothing about real data, and vice versa
        checked += 1
        where = f"{g['series_code']} {g['area_code']} {g['year']} {g['disaggregation']}"
        if key not in values:
            report.fail(f"golden value missing: {where} (expected {g['expected_value']})")
        elif values[key] is None or abs(float(values[key]) - float(g["expected_value"])) > float(g["tolerance"]):
            report.fail(f"golden value changed: {where} is {values[key]}, expected {g['expected_value']} "
                        f"± {g['tolerance']}")
    report.checked["golden_values"] = checked


def non_finite(conn: psycopg.Connection, report: GateReport, changed: list[str]) -> None:
    """No NaN or ±Infinity may reach the marts: PostgreSQL's numeric accepts them, no statistic is one.
    Only the rows this build replaces can bring one."""
    rows = conn.execute(f"""select source_dataset, series_code, count(*) from {NEW}
        where value in ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          and snapshot_id = any(%s) group by 1, 2""", (changed,)).fetchall()
    report.checked["non_finite_values"] = sum(n for *_, n in rows)
    for dataset, series, n in rows:
        report.fail(f"non-finite values: {n} row(s) of {series} from {dataset} are NaN or Infinity")


def run(conn: psycopg.Connection, config_path: Path = CONFIG) -> GateReport:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    report = GateReport()
    if not _exists(conn, NEW):
        report.fail(f"{NEW} does not exist: the intermediate layer was not built")
        return report
    changed = changed_snapshots(conn)
    report.checked["snapshots_replaced"] = len(changed)
    if _exists(conn, OLD):  # the very first build has nothing to compare with
        deleted_share(conn, report, float(config["max_deleted_share"]), int(config["min_previous_rows"]),
                      changed)
    golden_values(conn, report, config_path.parent / config["golden_values"], changed)
    non_finite(conn, report, changed)
    return report


def record(conn: psycopg.Connection, report: GateReport, mode: str) -> None:
    from lgstats.pipeline.schema import bootstrap

    bootstrap(conn)  # ops.publish_gates is declared with every ops table, in lgstats/pipeline/schema.py
    conn.execute("insert into ops.publish_gates (passed, mode, findings, checked, info) values (%s, %s, %s, %s, %s)",
                 (report.passed, mode, json.dumps(report.findings), json.dumps(report.checked),
                  json.dumps(report.info)))


def enforce(conn: psycopg.Connection) -> GateReport:
    """Run, record, and raise GateFailed unless LGSTATS_PUBLISH_GATES=warn."""
    from lgstats.core.settings import get_settings

    mode = get_settings().publish_gates
    report = run(conn)
    record(conn, report, mode)
    conn.commit()
    if not report.passed and mode != "warn":
        raise GateFailed("publish gates failed; the marts keep their previous rows:\n"
                         + "\n".join(f"  - {f}" for f in report.findings)
                         + "\n  If the change is intended, re-run with LGSTATS_PUBLISH_GATES=warn"
                         " (see docs/operations.md).")
    return report
