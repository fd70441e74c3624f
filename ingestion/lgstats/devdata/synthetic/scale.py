"""Synthetic UN SDG replay data at benchmark scale (1M, 10M observations), for ``make bench``.

Same page format, quirks and sidecar as the small replay (``lgstats.devdata.synthetic.un_sdg``), but the rows are
city-level observations of the registry's city series for every country of the area seed, spread over
thousands of invented local governments (``Cities`` = ``LG<M49>00001`` …, each under one country) and the
years 2000-2023. The country-level series keep their small replay pages, so every mart has rows. The output is
a whole replay folder: the other sources are linked from ``data/replay`` so that an
``lgstats run`` of every source works against it. Pages are built and written one at a time, so memory
stays flat whatever the scale. Everything is labelled synthetic; none of it is a statistic.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import msgspec

from lgstats.core.settings import PROJECT_DIR
from lgstats.devdata.synthetic import RECORDED_AT, synthetic_origin, write_replay
from lgstats.devdata.synthetic.un_sdg import CODELISTS, _obs
from lgstats.pipeline.registry import SEEDS_DIR, Dataset, Source, source
from lgstats.pipeline.snapshots import recorded_files

YEARS = tuple(range(2000, 2024))
PAGE_SIZE = 1000


def countries() -> list[tuple[str, str]]:
    with open(SEEDS_DIR / "ref_m49_areas.csv", newline="", encoding="utf-8") as fh:
        return [(r["m49_code"], r["area_name"]) for r in csv.DictReader(fh) if r["area_level"] == "country"]


def split(rows: int, parts: int) -> list[int]:
    """``rows`` spread over ``parts`` series as evenly as possible (the first ones take the remainder)."""
    return [rows // parts + (1 if i < rows % parts else 0) for i in range(parts)]


def _value(series_code: str, i: int) -> str:
    """A deterministic value in the series' plausible range (no randomness: reruns are byte-identical)."""
    if series_code == "EN_LND_CNSPOP":
        return f"{0.4 + (i * 7919 % 2100) / 1000:.3f}"
    return f"{5 + (i * 7919 % 9000) / 100:.2f}"


def observation(series, areas: list[tuple[str, str]], i: int) -> dict:
    """Observation ``i`` of a series: years vary fastest, then countries, then local governments, so every
    (series, area, year, city) key is unique. A city's code includes its country's (``LG004`` + number): one
    code under several countries is a misfiling the warehouse holds out (int_un_sdg_city_filings)."""
    year = YEARS[i % len(YEARS)]
    code, name = areas[(i // len(YEARS)) % len(areas)]
    lg = i // (len(YEARS) * len(areas)) + 1
    return _obs(series, code, name, year, _value(series.code, i),
                dims={"Cities": f"LG{code}{lg:05d}", "Reporting Type": "N"})


def pages(src: Source, dataset: Dataset, rows: int, page_size: int = PAGE_SIZE) -> Iterator[tuple]:
    """(file name, body, url, sidecar extra) for every page, as ``write_replay`` takes them."""
    areas = countries()
    area_codes = dataset.area_codes()
    encoder = msgspec.json.Encoder()
    cities = city_series(dataset)
    for series, total in zip(cities, split(rows, len(cities)), strict=True):
        n_pages = max(1, -(-total // page_size))
        for page in range(1, n_pages + 1):
            start = (page - 1) * page_size
            data = [observation(series, areas, i) for i in range(start, min(total, start + page_size))]
            for obs in data:
                obs["seriesCount"] = str(total)
            body = encoder.encode({"size": page_size, "totalElements": total, "totalPages": n_pages,
                                   "pageNumber": page, **CODELISTS, "data": data})
            query = urlencode([("seriesCode", series.code), *[("areaCode", a) for a in area_codes],
                               ("page", page), ("pageSize", page_size)])
            yield (f"{series.code}__page-{page:05d}.json", body, f"{src.base_url}/{dataset.endpoint}?{query}",
                   {"series": series.code, "page": page, "total_elements": total, "rows": len(data)})


def city_series(dataset: Dataset) -> list:
    return [s for s in dataset.series if s.city_level]


def local_governments(rows: int, dataset: Dataset) -> int:
    """How many distinct (country, local government) pairs ``rows`` observations cover: each run of
    ``len(YEARS)`` consecutive observations of a series is one pair."""
    return -(-split(rows, len(city_series(dataset)))[0] // len(YEARS))


def write(out: Path, rows: int, page_size: int = PAGE_SIZE, base: Path | None = None) -> Path:
    """A complete replay folder at ``out``: UN SDG city series at ``rows`` observations, everything else as
    in ``base``."""
    base = base or PROJECT_DIR / "data" / "replay"
    src = source("un_sdg")
    dataset = src.dataset("series_data")
    out.mkdir(parents=True, exist_ok=True)
    for entry in base.iterdir():  # the other sources and UN SDG lists, unchanged
        if entry.is_dir() and entry.name != "un_sdg" and not (out / entry.name).exists():
            (out / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
    for entry in (base / "un_sdg").iterdir():
        if entry.is_dir() and entry.name != dataset.name:
            shutil.rmtree(out / "un_sdg" / entry.name, ignore_errors=True)
            shutil.copytree(entry, out / "un_sdg" / entry.name)
    origin = synthetic_origin(
        src.title, src.base_url, dataset.endpoint, "lgstats.devdata.synthetic.scale", recorded_at=RECORDED_AT,
        scale={"observations": rows, "local_governments": local_governments(rows, dataset),
               "years": [YEARS[0], YEARS[-1]], "page_size": page_size})
    city = {s.code for s in city_series(dataset)}
    small = ((name, body, url, extra) for name, body, url, _, extra in recorded_files(base / "un_sdg" / dataset.name)
             if extra.get("series") not in city)
    return write_replay(out / "un_sdg" / dataset.name, itertools.chain(small, pages(src, dataset, rows, page_size)),
                        **origin)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="observations in UN SDG Series/Data")
    parser.add_argument("--out", type=Path, required=True, help="replay folder to write (LGSTATS_REPLAY_DIR)")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    args = parser.parse_args(argv)
    print(write(args.out, args.rows, args.page_size))


if __name__ == "__main__":
    main()
