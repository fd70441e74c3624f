"""The dbt project as the commands use it: where it is, its manifest (rebuilt by `dbt parse` when an input is newer,
after the files made from other declarations are written), and the tools beside this interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lgstats.core.settings import PROJECT_DIR

DBT_DIR = PROJECT_DIR / "dbt"
MANIFEST = DBT_DIR / "target" / "manifest.json"


def _inputs_newer_than(target: Path) -> bool:
    if not target.exists():
        return True
    built = target.stat().st_mtime
    watched = [DBT_DIR / "dbt_project.yml", DBT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        watched += [p for p in (DBT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in watched if p.exists())


def ensure_manifest(force: bool = False) -> Path:
    """Cosmos renders from ``dbt/target/manifest.json``: rebuild it with ``dbt parse`` when stale (after writing
    the property files made from other declarations: lgstats.pipeline.generated_files)."""
    from lgstats.pipeline import generated_files

    generated_files.write()
    if force or _inputs_newer_than(MANIFEST):
        # parsed into a target of its own, then put in place with one rename: a process reading the manifest
        # meanwhile (a DAG file, another command) sees the old one or the new one, never half of one
        work = MANIFEST.parent / f".parse-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        partial = MANIFEST.parent / "partial_parse.msgpack"  # dbt's partial parsing: only what changed is read again
        if partial.exists():
            shutil.copy2(partial, work / partial.name)
        try:
            env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
            proc = subprocess.run([_bin("dbt"), "parse", "--project-dir", str(DBT_DIR), "--profiles-dir",
                                   str(DBT_DIR), "--target-path", str(work), "--quiet"],
                                  env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
            if (work / partial.name).exists():
                os.replace(work / partial.name, partial)
            os.replace(work / "manifest.json", MANIFEST)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return MANIFEST


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name
