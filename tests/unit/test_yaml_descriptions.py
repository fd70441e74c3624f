"""Issue 25, defect 2: an inline YAML mapping `{name: x, description: a, b}` reads as description "a" and a
stray key "b": every column and template description must arrive whole, so no mapping may carry a key that is
not one of the known ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lgstats.core.settings import PROJECT_DIR

COLUMN_KEYS = {"name", "data_type", "description", "constraints", "data_tests", "tests", "quote", "meta", "config",
               "tags", "type", "required", "values", "min", "max", "pattern"}
FILES = sorted([*(PROJECT_DIR / "dbt" / "models").rglob("_*.yml"), *(PROJECT_DIR / "dbt" / "seeds").rglob("_*.yml"),
                PROJECT_DIR / "ingestion" / "submissions" / "templates.yml"])


def columns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "columns" and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            yield from columns(value)
    elif isinstance(node, list):
        for item in node:
            yield from columns(item)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(Path(p).relative_to(PROJECT_DIR)))
def test_no_description_is_cut_at_a_comma(path):
    found = list(columns(yaml.safe_load(path.read_text(encoding="utf-8"))))
    stray = [(c.get("name"), sorted(set(c) - COLUMN_KEYS)) for c in found if set(c) - COLUMN_KEYS]
    assert stray == [], f"{path}: quote these descriptions (a comma ends an inline value): {stray}"
