"""``lgstats docs``: one static folder with the dbt docs (lineage graph included), the GX Data Docs of
the latest snapshot of every dataset (rendered from the stored validation results) and a page per indicator of
the newest release (lgstats/services/indicator_pages.py), behind an index page.
``warehouse_build`` refreshes it once the marts are published."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from lgstats.core.settings import get_settings, warehouse_env
from lgstats.pipeline import registry
from lgstats.pipeline.snapshots import Snapshot, partition_path
from lgstats.pipeline.transforms import DBT_DIR, _bin
from lgstats.services import indicator_pages


def _latest_partition(root: Path, source: str, dataset: str) -> Path | None:
    folder = partition_path(root, source, dataset, "x").parent
    parts = sorted(p for p in folder.glob("dt=*") if (p / "_origin.json").exists()) if folder.exists() else []
    return parts[-1] if parts else None


def start_dbt_docs(site: Path) -> subprocess.Popen:
    """``dbt docs generate`` in its own process, so the Data Docs render meanwhile on the other core."""
    env = {**os.environ, **warehouse_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    return subprocess.Popen([_bin("dbt"), "docs", "generate", "--static", "--project-dir", str(DBT_DIR),
                             "--profiles-dir", str(DBT_DIR), "--target-path", str(site / "dbt"), "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_dbt_docs(site: Path, proc: subprocess.Popen) -> Path:
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed:\n{stdout[-3000:]}\n{stderr[-2000:]}")
    return site / "dbt" / "static_index.html"


def build_data_docs(site: Path, work: Path) -> tuple[Path, list[str]]:
    """Render the GX Data Docs from the validation results stored when each dataset's latest snapshot was
    validated (``reports/validation/<snapshot>/gx_result.json``): nothing is parsed or validated again, so the
    docs cost the same whatever the size of the data."""
    import json

    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from lgstats.pipeline.validation import GX_RESULT, load_suite_definition, quiet_gx

    quiet_gx()
    shutil.rmtree(work, ignore_errors=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(work))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    s = get_settings()
    from lgstats.pipeline.object_store import ObjectStore

    store = ObjectStore.from_settings(s)
    if store is not None:  # the reports every worker wrote, wherever it ran
        store.get_tree("reports/validation", s.reports / "validation")
    done, suites, schema, outcomes = [], set(), ExpectationSuiteValidationResultSchema(), {}
    for src in registry.sources().values():
        for ds in src.datasets:
            if store is not None:
                visible = store.visible(src.name, ds.name)
                snapshot_id = visible[-1] if visible else None
            else:
                path = _latest_partition(s.snapshots, src.name, ds.name)
                snapshot_id = Snapshot.open(path).id if path else None
            stored = s.reports / "validation" / snapshot_id / GX_RESULT if snapshot_id else None
            if stored is None or not stored.exists():
                continue
            if ds.suite not in suites:  # generic suites (sdmx__observations) serve several datasets
                ctx.suites.add(gx.ExpectationSuite(name=ds.suite,
                                                   expectations=load_suite_definition(ds.suite)["expectations"]))
                suites.add(ds.suite)
            result = schema.load(json.loads(stored.read_text(encoding="utf-8")))
            name = f"{src.name}__{ds.name}"
            run_time = datetime.fromtimestamp(stored.stat().st_mtime, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=ds.suite),
                                             run_id=RunIdentifier(run_name=name, run_time=run_time),
                                             batch_identifier=name)
            ctx.validation_results_store.set(key, result)
            done.append(snapshot_id)
            outcomes[name] = bool(result.success)
    ctx.build_data_docs()
    local = work / "gx" / "uncommitted" / "data_docs" / "local_site"
    dest = site / "gx"
    shutil.rmtree(dest, ignore_errors=True)
    if local.exists():
        shutil.copytree(local, dest)
        offline_index(dest, outcomes)
    return dest / "index.html", done


def offline_index(gx_site: Path, outcomes: dict[str, bool]) -> None:
    """GX's index draws its table with scripts from CDNs (jQuery, bootstrap-table), so offline, where the
    association's analysts often read it, it showed an empty page. Put a plain list of the validation pages,
    with their outcome, at the top of its body: readable with no network and no script."""
    import re

    pages = sorted((gx_site / "validations").rglob("*.html")) if (gx_site / "validations").exists() else []
    items = []
    for page in pages:
        outcome = {True: "passed", False: "failed"}.get(outcomes.get(page.stem), "outcome unknown")
        rel = page.relative_to(gx_site).as_posix()
        items.append(f'<li><a href="{html.escape(rel)}">{html.escape(page.stem)}</a> '
                     f'(suite <code>{html.escape(page.relative_to(gx_site / "validations").parts[0])}</code>): '
                     f'{outcome}</li>')
    section = ('<section id="lgstats-offline-list" style="margin:1rem 2rem;font-family:system-ui,sans-serif">'
               "<h2>Validation results</h2><p>The latest validation of each dataset (this list needs no network; "
               "the table below it loads its scripts from CDNs).</p><ul>"
               + ("".join(items) or "<li>no validation result yet</li>") + "</ul></section>")
    index = gx_site / "index.html"
    page = index.read_text(encoding="utf-8")
    body = re.search(r"<body[^>]*>", page)
    index.write_text(page[:body.end()] + section + page[body.end():] if body else section + page, encoding="utf-8")


def build(site: Path | None = None) -> Path:
    s = get_settings()
    site = site or s.home / "site"
    site.mkdir(parents=True, exist_ok=True)
    dbt_docs = start_dbt_docs(site)
    try:
        gx_index, validated = build_data_docs(site, s.home / "site-build" / "gx")
    except BaseException:
        dbt_docs.kill()
        dbt_docs.wait()
        raise
    dbt_index = finish_dbt_docs(site, dbt_docs)
    indicator_pages.build(site, s)
    items = "".join(f"<li><code>{html.escape(v)}</code></li>" for v in validated) or "<li>no snapshot yet</li>"
    (site / "index.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lgstats documentation</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;line-height:1.5}}</style></head>
<body><h1>lgstats documentation</h1>
<ul>
<li><a href="dbt/{dbt_index.name}">dbt docs</a>: every model and column, tests, exposures and the lineage graph</li>
<li><a href="gx/index.html">Great Expectations Data Docs</a>: the latest validation of each dataset</li>
<li><a href="indicators/index.html">Indicators</a>: one page per indicator of the newest release (definition,
sources, licence, coverage, chart, downloads, citation)</li>
</ul>
<h2>Snapshots whose stored validation these Data Docs show</h2><ul>{items}</ul>
<p>Analysts: see <code>docs/analyst-guide.md</code>. Operators: <code>docs/operations.md</code>.</p>
</body></html>
""", encoding="utf-8")
    _share(site, s)
    return site / "index.html"


def _share(site: Path, s) -> None:
    """With an object store, the built site goes there too (``<prefix>/site/``): it was built on whichever worker
    ran the build, and people read it from any host."""
    from lgstats.pipeline.object_store import ObjectStore

    store = ObjectStore.from_settings(s)
    if store is not None:
        store.put_tree(site, "site")
