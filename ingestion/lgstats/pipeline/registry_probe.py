"""One registry dataset must not fail every mart: before the intermediate layer, each registry dataset's
observation SELECT runs on its own (dbt macro ``probe_registry_datasets``). A dataset whose SELECT fails is
recorded in ``ops.registry_build_failures`` and left out of this build; the others build and publish, and
:func:`report` fails the run at its end naming each left-out dataset with PostgreSQL's message (issue 24)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lgstats.core import warehouse
from lgstats.core.settings import warehouse_env
from lgstats.pipeline import transforms


class DatasetsLeftOut(RuntimeError):
    """Some registry datasets could not build and were left out; everything else was published."""


PARTIAL_PARSE = "partial_parse.msgpack"


def probe() -> list[dict]:
    """Run the probe (one dbt invocation) and return the datasets it left out. dbt's partial-parse file of the
    previous probe in this home is reused (a full parse costs 3 s; the repository's own was written for another
    warehouse, which dbt refuses), and replaced whole when the probe succeeds."""
    from lgstats.core.settings import get_settings

    env = {**os.environ, **warehouse_env()}
    kept = get_settings().home / "cache" / "dbt-probe" / PARTIAL_PARSE
    with tempfile.TemporaryDirectory(prefix="lgstats-probe-") as target:
        if kept.exists():
            shutil.copyfile(kept, Path(target) / PARTIAL_PARSE)
        proc = subprocess.run([transforms._bin("dbt"), "run-operation", "probe_registry_datasets", "--project-dir",
                               str(transforms.DBT_DIR), "--profiles-dir", str(transforms.DBT_DIR), "--target-path",
                               target, "--quiet"], env=env, capture_output=True, text=True)
        written = Path(target) / PARTIAL_PARSE
        if proc.returncode == 0 and written.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            fd, staged = tempfile.mkstemp(dir=kept.parent, suffix=".partial")
            os.close(fd)
            shutil.copyfile(written, staged)
            os.replace(staged, kept)  # whole or not at all, whoever else probes in this home
    if proc.returncode != 0:
        raise RuntimeError(f"the registry probe (dbt run-operation probe_registry_datasets) failed:\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    return left_out()


def left_out() -> list[dict]:
    with warehouse.connect() as conn:
        rows = conn.execute("select source, dataset, error from ops.registry_build_failures "
                            "order by source, dataset").fetchall()
    return [{"dataset": f"{s}/{d}", "error": e} for s, d, e in rows]


def report() -> None:
    """Fail (after the marts and docs are published) when the probe left a dataset out, naming it."""
    failures = left_out()
    if failures:
        listed = "; ".join(f"{f['dataset']}: {f['error']}" for f in failures)
        raise DatasetsLeftOut(
            f"{len(failures)} registry dataset(s) could not build and were left out of this build: {listed}. "
            "Every other dataset's marts were published. Fix: correct the registry entry (registry/sources/) "
            "or the raw data it reads, and run again.")
