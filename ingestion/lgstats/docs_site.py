"""``lgstats docs``: one static folder with the dbt docs (lineage graph included) and the GX Data Docs of
the latest snapshot of every dataset, behind an index page. ``warehouse_build`` refreshes it."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from pathlib import Path

from lgstats import connectors, registry
from lgstats.runtime import DBT_DIR, _bin
from lgstats.settings import export_warehouse_env, get_settings
from lgstats.snapshots import Snapshot, partition_path


def _latest_partition(root: Path, source: str, dataset: str) -> Path | None:
    folder = partition_path(root, source, dataset, "x").parent
    parts = sorted(p for p in folder.glob("dt=*") if (p / "_origin.json").exists()) if folder.exists() else []
    return parts[-1] if parts else None


def build_dbt_docs(site: Path) -> Path:
    target = site / "dbt"
    env = {**os.environ, **export_warehouse_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    proc = subprocess.run([_bin("dbt"), "docs", "generate", "--static", "--project-dir", str(DBT_DIR),
                           "--profiles-dir", str(DBT_DIR), "--target-path", str(target), "--quiet"],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return target / "static_index.html"


def build_data_docs(site: Path, work: Path) -> tuple[Path, list[str]]:
    """Validate the latest snapshot of each dataset in a file-backed GX context and render its Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from lgstats.validation import load_suite_definition, quiet_gx

    quiet_gx()
    shutil.rmtree(work, ignore_errors=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(work))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = ctx.data_sources.add_pandas("snapshots")
    s = get_settings()
    done, suites = [], {}
    for src in registry.sources().values():
        mod = connectors.get(src.connector)
        for ds in src.datasets:
            path = _latest_partition(s.snapshots, src.name, ds.name)
            if path is None:
                continue
            snap = Snapshot.open(path)
            frame = mod.validation_frame(mod.parse(snap, ds), ds)
            name = f"{src.name}__{ds.name}"
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("latest")
            if ds.suite not in suites:  # generic suites (sdmx__observations) serve several datasets
                suites[ds.suite] = ctx.suites.add(gx.ExpectationSuite(
                    name=ds.suite, expectations=load_suite_definition(ds.suite)["expectations"]))
            suite = suites[ds.suite]
            vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
            cp = ctx.checkpoints.add(gx.Checkpoint(name=f"{name}_docs", validation_definitions=[vd],
                                                   actions=[UpdateDataDocsAction(name="docs")]))
            cp.run(batch_parameters={"dataframe": frame},
                   expectation_parameters=mod.suite_parameters(src, ds, snap))
            done.append(f"{snap.id}")
    ctx.build_data_docs()
    local = work / "gx" / "uncommitted" / "data_docs" / "local_site"
    dest = site / "gx"
    shutil.rmtree(dest, ignore_errors=True)
    if local.exists():
        shutil.copytree(local, dest)
    return dest / "index.html", done


def build(site: Path | None = None) -> Path:
    s = get_settings()
    site = site or s.home / "site"
    site.mkdir(parents=True, exist_ok=True)
    dbt_index = build_dbt_docs(site)
    gx_index, validated = build_data_docs(site, s.home / "site-build" / "gx")
    items = "".join(f"<li><code>{html.escape(v)}</code></li>" for v in validated) or "<li>no snapshot yet</li>"
    (site / "index.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lgstats documentation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;line-height:1.5}}</style></head>
<body><h1>lgstats documentation</h1>
<ul>
<li><a href="dbt/{dbt_index.name}">dbt docs</a>: every model and column, tests, exposures and the lineage graph</li>
<li><a href="gx/index.html">Great Expectations Data Docs</a>: the latest validation of each dataset</li>
</ul>
<h2>Snapshots validated for these Data Docs</h2><ul>{items}</ul>
<p>Analysts: see <code>docs/analyst-guide.md</code>. Operators: <code>docs/operations.md</code>.</p>
</body></html>
""", encoding="utf-8")
    return site / "index.html"
