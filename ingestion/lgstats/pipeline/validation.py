"""Great Expectations gate: the dataset's suite (``expectations/<suite>.json``) runs on the parsed snapshot.

A failure raises :class:`ValidationFailed` (which fails the Airflow task) with a message naming the
snapshot file, the row and the failed expectation, and writes a readable report next to the JSON result.
GX is imported inside the functions: it costs seconds and must never load at DAG parse time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgstats.core.settings import PROJECT_DIR

SUITES_DIR = PROJECT_DIR / "expectations"
GX_RESULT = "gx_result.json"  # beside validation.md: what the Data Docs render
log = logging.getLogger(__name__)


class ValidationFailed(RuntimeError):
    def __init__(self, message: str, outcome: ValidationOutcome | None = None):
        super().__init__(message)
        self.outcome = outcome


@dataclass
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[dict[str, Any]] = field(default_factory=list)
    observed: Any = None
    fix: str | None = None  # the suite's ``meta.fix`` for this expectation

    def describe(self) -> str:
        where = f" on column '{self.column}'" if self.column else ""
        text = f"{self.expectation}{where} failed"
        if self.unexpected_count is not None:
            text += f": {self.unexpected_count} unexpected row(s)"
        if self.observed is not None and self.unexpected_count is None:
            text += f" (observed {self.observed})"
        for ex in self.examples[:3]:
            text += f"\n      - file {ex.get('source_file')} row {ex.get('row_number')}: value {ex.get('value')!r}"
        if self.fix:
            text += f"\n      fix: {self.fix}"
        return text


@dataclass
class ValidationOutcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[Failure]
    report_path: Path | None = None
    gx_result: dict | None = None  # GX's own result, stored so the Data Docs render it without validating again

    def message(self, snapshot_id: str, snapshot_path: Path) -> str:
        lines = [f"validation failed for snapshot {snapshot_id} with suite '{self.suite}':"]
        lines += [f"  - {f.describe()}" for f in self.failures]
        if self.report_path:
            lines.append(f"  report: {self.report_path}")
        lines.append(f"  Nothing from it was loaded; the rejected snapshot is kept for inspection in {snapshot_path}.")
        return "\n".join(lines)


def plain(value: Any) -> Any:
    """A value from a frame as JSON can hold it: numpy scalars as Python, NaN and NA (missing) as None."""
    value = value.item() if hasattr(value, "item") else value
    try:
        import pandas as pd

        if not isinstance(value, (list, dict)) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def json_safe(value: Any) -> Any:
    """Failures as strict JSON (PostgreSQL's jsonb refuses NaN and Infinity): non-finite numbers become None."""
    import math

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return plain(value) if hasattr(value, "item") else value


def load_suite_definition(name: str) -> dict:
    path = SUITES_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no GX suite {name!r}: expected {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def suite_columns(name: str, available: list[str]) -> list[str]:
    """The columns of ``available`` that the suite reads (``column``, ``column_list``, a ``row_condition``),
    plus the row locators used to name bad rows."""
    import re

    used = {"source_file", "row_number"}
    for e in load_suite_definition(name)["expectations"]:
        kw = e.get("kwargs", {})
        used.update(c for c in [kw.get("column"), kw.get("column_A"), kw.get("column_B")] if c)
        used.update(kw.get("column_list") or [])
        used.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", kw.get("row_condition") or ""))
    return [c for c in available if c in used]


def lean_frame(rows, keep: list[str], shared: set[str]):
    """A DataFrame of only the ``keep`` columns of dict rows, built column by column. Values of the ``shared``
    columns (few distinct values: codes, units, file names) are stored once and referenced, so a 10M-row
    snapshot fits in about a gigabyte instead of tens."""
    import pandas as pd

    data: dict[str, list] = {c: [] for c in keep}
    cached = [(data[c].append, c, {}) for c in keep if c in shared]
    plain = [(data[c].append, c) for c in keep if c not in shared]
    for r in rows:
        for append, c, seen in cached:
            v = r[c]
            append(seen.setdefault(v, v))
        for append, c in plain:
            append(r[c])
    return pd.DataFrame(data, columns=keep)


def quiet_gx() -> None:
    """GX logs every registered function at INFO under Airflow's logging; its progress bars flood logs."""
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)


def validate_frame(df, suite_name: str, expectations: list[dict], parameters: dict[str, Any] | None,
                   index_cols: list[str]):
    """Run expectations on a pandas DataFrame in an ephemeral GX context; unexpected rows are reported by
    ``index_cols``. Returns GX's validation result."""
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("frame").add_dataframe_asset("rows")
    batch_def = asset.add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch_def, suite=suite))
    return vd.run(batch_parameters={"dataframe": df}, expectation_parameters=parameters or {},
                  result_format={"result_format": "COMPLETE", "unexpected_index_column_names": index_cols,
                                 "partial_unexpected_count": 20})


def run_suite(df, suite_name: str, parameters: dict[str, Any]) -> ValidationOutcome:
    """Validate a parsed snapshot with the named suite from ``expectations/``."""
    index_cols = [c for c in ("source_file", "row_number") if c in df.columns]
    result = validate_frame(df, suite_name, load_suite_definition(suite_name)["expectations"], parameters,
                            index_cols)
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        res = r.result or {}
        column = cfg.kwargs.get("column")
        examples = []
        for item in (res.get("unexpected_index_list") or [])[:10]:
            if isinstance(item, dict):
                row = plain(item.get("row_number"))
                examples.append({"source_file": plain(item.get("source_file")),
                                 "row_number": int(row) if isinstance(row, (int, float)) else row,
                                 "value": plain(item.get(column)) if column else None})
        if not examples and res.get("partial_unexpected_list"):
            examples = [{"value": plain(v)} for v in res["partial_unexpected_list"][:10]]
        exc_info = r.exception_info or {}
        observed = res.get("observed_value")
        if exc_info.get("raised_exception"):
            observed = exc_info.get("exception_message")
        failures.append(Failure(cfg.type, column, res.get("unexpected_count"), examples, observed,
                                (cfg.meta or {}).get("fix")))
    return ValidationOutcome(suite_name, bool(result.success), len(result.results), failures,
                             gx_result=result.to_json_dict())


def write_report(outcome: ValidationOutcome, directory: Path, snapshot_id: str, raw: dict | None = None) -> Path:
    """A markdown report a person can read, plus the machine-readable JSON next to it."""
    directory.mkdir(parents=True, exist_ok=True)
    status = "PASSED" if outcome.success else "FAILED"
    lines = [f"# Validation {status}: {snapshot_id}", "", f"Suite: `{outcome.suite}` "
             f"({outcome.evaluated} expectations, {len(outcome.failures)} failed)", ""]
    for f in outcome.failures:
        lines.append(f"- {f.describe()}")
    if outcome.failures:
        lines += ["", "Fix: correct the source (or the replay file) and re-run; the failed snapshot stays in the "
                  "snapshot store for inspection and nothing from it reached `raw`."]
    report = directory / "validation.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = {"snapshot_id": snapshot_id, "suite": outcome.suite, "success": outcome.success,
               "evaluated": outcome.evaluated,
               "failures": [f.__dict__ for f in outcome.failures], **(raw or {})}
    (directory / "validation.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    if outcome.gx_result is not None:
        (directory / GX_RESULT).write_text(json.dumps(outcome.gx_result, default=str), encoding="utf-8")
    outcome.report_path = report
    return report
