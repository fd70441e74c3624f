"""One static page per indicator of the newest exported release (``lgstats docs``, ``site/indicators/``): what it
is (definition, unit, sources, licences), what it covers (areas × years) with a small inline SVG chart, the release
it shows with links to that release's CSV and Parquet of the indicator, and how to cite it. No script, no font and
no image is fetched: the pages work offline."""

from __future__ import annotations

import html
import os
import shutil
from collections import defaultdict
from pathlib import Path

import psycopg
from psycopg import sql

from lgstats.core.settings import Settings, get_settings
from lgstats.pipeline import release_exports, releases

CHART_AREAS = 5  # lines per chart: the areas with the most years of data
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
STYLE = ("body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem;text-align:left}"
         "blockquote{background:#f5f5f5;margin:0;padding:.6rem 1rem}figure{margin:1rem 0}")


def _indicators(conn: psycopg.Connection, schema: str) -> list[dict]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(sql.SQL("""
        select i.*, c.areas, c.years, c.observations, c.min_year, c.max_year
        from {dim} as i
        join (select series_code, count(distinct area_code) as areas, count(distinct year) as years,
                     count(*) as observations, min(year) as min_year, max(year) as max_year
              from {fct} group by series_code) as c using (series_code)
        order by i.series_code""").format(dim=sql.Identifier(schema, "dim_indicator"),
                                          fct=sql.Identifier(schema, releases.FACT))).fetchall()


def _chart_points(conn: psycopg.Connection, schema: str) -> dict[str, dict]:
    """Per indicator: its headline breakdown (the total where there is one) and, for the areas with the most
    years, the yearly mean of its values (daily and monthly series become yearly lines)."""
    rows = conn.execute(sql.SQL("""
        with breakdowns as (
            select series_code, disaggregation,
                   row_number() over (partition by series_code
                                      order by (disaggregation = '_T') desc, count(*) desc, disaggregation) as rank
            from {fct} where value is not null and year is not null group by series_code, disaggregation),
        yearly as (
            select f.series_code, f.area_code, f.year, avg(f.value) as value, b.disaggregation
            from {fct} as f join breakdowns as b
              on b.series_code = f.series_code and b.disaggregation = f.disaggregation and b.rank = 1
            where f.value is not null and f.year is not null group by 1, 2, 3, 5),
        ranked as (
            select series_code, area_code,
                   row_number() over (partition by series_code order by count(*) desc, area_code) as rank
            from yearly group by series_code, area_code)
        select y.series_code, y.disaggregation, y.area_code, coalesce(a.area_name, y.area_code), y.year, y.value
        from yearly as y join ranked as r using (series_code, area_code)
        left join {area} as a on a.area_code = y.area_code
        where r.rank <= {n} order by y.series_code, r.rank, y.year""").format(
        fct=sql.Identifier(schema, releases.FACT), area=sql.Identifier(schema, "dim_area"),
        n=sql.Literal(CHART_AREAS))).fetchall()
    out: dict[str, dict] = defaultdict(lambda: {"breakdown": None, "lines": {}})
    for code, breakdown, area, name, year, value in rows:
        out[code]["breakdown"] = breakdown
        out[code]["lines"].setdefault((area, name), []).append((year, float(value)))
    return out


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def chart_svg(title: str, lines: dict[tuple[str, str], list[tuple[int, float]]]) -> str:
    """A small line chart (years across, values up), drawn as SVG in the page."""
    if not lines:
        return "<p>No numeric values to draw (the indicator holds text values only).</p>"
    w, h, left, right, top, bottom = 560, 240, 70, 150, 20, 30
    points = [p for pts in lines.values() for p in pts]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    y0, y1 = (y0 - 1, y1 + 1) if y0 == y1 else (y0, y1)
    x1 = x1 if x1 > x0 else x0 + 1

    def xy(year: int, value: float) -> str:
        x = left + (year - x0) / (x1 - x0) * (w - left - right)
        y = top + (1 - (value - y0) / (y1 - y0)) * (h - top - bottom)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" class="indicator-chart"><title>{html.escape(title)}</title>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{_fmt(y1)}</text>',
             f'<text x="{left - 6}" y="{h - bottom}" text-anchor="end" font-size="11">{_fmt(y0)}</text>',
             f'<text x="{left}" y="{h - 10}" font-size="11">{x0}</text>',
             f'<text x="{w - right}" y="{h - 10}" text-anchor="end" font-size="11">{x1}</text>']
    for i, ((_code, name), pts) in enumerate(lines.items()):
        colour = COLOURS[i % len(COLOURS)]
        coords = " ".join(xy(year, value) for year, value in pts)
        if len(pts) == 1:
            cx, cy = coords.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        parts.append(f'<text x="{w - right + 8}" y="{top + 12 + 16 * i}" font-size="11" fill="{colour}">'
                     f'{html.escape(name[:22])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _link(text: str, url: str | None) -> str:
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'
    return html.escape(text)


def page(s: Settings, release: dict, ind: dict, chart: dict, downloads: dict[str, str]) -> str:
    e = html.escape
    code = ind["series_code"]
    title = ind["series_name"] or code
    cite = release_exports.citation(s, release, f"{title} ({code})")
    unit = f"{ind['unit_label'] or ''} (<code>{e(ind['unit'] or '')}</code>)"
    breakdown = chart["breakdown"]
    lines = chart["lines"]
    coverage = (f"{ind['areas']:,} areas × {ind['years']:,} years"
                + (f" ({ind['min_year']}–{ind['max_year']})" if ind["min_year"] is not None else "")
                + f", {ind['observations']:,} observations")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)} · lgstats release {e(release['release_id'])}</title>
<style>{STYLE}</style></head>
<body><p><a href="index.html">All indicators</a></p>
<h1 id="indicator-title">{e(title)}</h1>
<p><code id="series-code">{e(code)}</code> · release <strong id="release-id">{e(release['release_id'])}</strong>,
published {release['published_at']:%Y-%m-%d}</p>
<h2>Definition</h2><p id="definition">{e(ind['definition'] or 'No definition is held for this indicator.')}</p>
<table>
<tr><th>Unit</th><td>{unit}</td></tr>
<tr><th>Source</th><td id="source">{_link(ind['source_name'] or '-', ind['source_url'])}
    (source code <code>{e(ind['source_series_code'] or code)}</code>)</td></tr>
<tr><th>Licence</th><td id="licence">{_link(ind['licence'] or 'not stated', ind['licence_url'])}</td></tr>
<tr><th>Method note</th><td>{e(ind['method_note'] or 'none held')}</td></tr>
<tr><th>Coverage</th><td id="coverage">{coverage}</td></tr>
<tr><th>Snapshot</th><td><code>{e(ind['snapshot_id'] or '-')}</code></td></tr>
</table>
<h2>Chart</h2>
<figure>{chart_svg(f"{title}: yearly values of the areas with the most years", lines)}
<figcaption>Yearly {'mean ' if ind['observations'] > ind['areas'] * ind['years'] else ''}values, breakdown
<code>{e(breakdown or '-')}</code>, for the {len(lines)} area(s) with the most years of data.</figcaption></figure>
<h2>Download (release {e(release['release_id'])})</h2>
<ul id="downloads">
<li><a class="download" href="{e(downloads['csv'])}">{e(code)}.csv</a> (every observation of this indicator)</li>
<li><a class="download" href="{e(downloads['parquet'])}">{e(code)}.parquet</a> (the same, typed)</li>
<li><a href="{e(downloads['package'])}">datapackage.json</a> (every mart of the release, with sources and
licences)</li>
</ul>
<h2>Cite</h2><blockquote id="citation">{e(cite)}</blockquote>
<p>Data licence: {e(ind['licence'] or 'not stated')}. Attribute the source named above.</p>
</body></html>
"""


def build(site: Path, settings: Settings | None = None) -> Path:
    """Write ``site/indicators/`` for the newest exported release; returns its index page."""
    from lgstats.core import warehouse

    s = settings or get_settings()
    out = site / "indicators"
    out.mkdir(parents=True, exist_ok=True)
    from lgstats.pipeline import schema

    with warehouse.connect(s) as conn:
        schema.bootstrap(conn)
        rows = conn.execute("select release_id from ops.releases where exported_at is not null and dropped_at is "
                            "null order by published_at desc limit 1").fetchone()
        if rows is None:
            (out / "index.html").write_text(
                f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Indicators</title>"
                f"<style>{STYLE}</style></head><body><h1>Indicators</h1><p>No release has been published yet: "
                "run <code>lgstats release</code>, then <code>lgstats docs</code>.</p></body></html>\n",
                encoding="utf-8")
            return out / "index.html"
        release = releases.get(conn, rows[0])
        indicators = _indicators(conn, release["schema_name"])
        charts = _chart_points(conn, release["schema_name"])
        data = release_exports.indicator_files(conn, release, out / "data")
    for older in (out / "data").iterdir():  # the pages link to the newest release only (its files stay)
        if older != data:
            shutil.rmtree(older, ignore_errors=True)
    folder = Path(release["export_dir"])
    items = []
    for ind in indicators:
        stem = release_exports.file_stem(ind["series_code"])
        rel = {"csv": os.path.relpath(data / f"{stem}.csv", out),
               "parquet": os.path.relpath(data / f"{stem}.parquet", out),
               "package": os.path.relpath(folder / "datapackage.json", out)}
        chart = charts.get(ind["series_code"], {"breakdown": None, "lines": {}})
        (out / f"{stem}.html").write_text(page(s, release, ind, chart, rel), encoding="utf-8")
        items.append(f'<tr><td><a href="{html.escape(stem)}.html">{html.escape(ind["series_code"])}</a></td>'
                     f'<td>{html.escape(ind["series_name"] or "")}</td><td>{ind["areas"]:,}</td>'
                     f'<td>{ind["min_year"] or ""}–{ind["max_year"] or ""}</td></tr>')
    (out / "index.html").write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Indicators · lgstats release
{html.escape(release['release_id'])}</title><style>{STYLE}</style></head><body>
<p><a href="../index.html">Documentation</a></p>
<h1>Indicators of release {html.escape(release['release_id'])}</h1>
<p>{len(indicators)} indicators; each page gives the definition, sources, licence, coverage, a chart, downloads and
the citation. The release's files: <code>{html.escape(str(folder))}</code>; each indicator's alone:
<code>data/{html.escape(release['release_id'])}/</code> beside these pages.</p>
<table><tr><th>code</th><th>indicator</th><th>areas</th><th>years</th></tr>{''.join(items)}</table>
</body></html>
""", encoding="utf-8")
    return out / "index.html"
