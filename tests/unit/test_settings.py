"""One settings object (issue 26): no module but lgstats/core/settings.py reads an ``LGSTATS_*`` variable, and
docs/operations.md lists every variable as the class declares it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lgstats.core import settings
from lgstats.core.settings import PROJECT_DIR, Settings

CODE = [*sorted((PROJECT_DIR / "ingestion" / "lgstats").rglob("*.py")), *sorted((PROJECT_DIR / "dags").rglob("*.py"))]
READERS = {("os", "getenv"), ("environ", "get"), ("environ", "pop"), ("environ", "setdefault")}


def _constants(tree: ast.Module) -> dict[str, str]:
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for t in node.targets if isinstance(t, ast.Name)}


def _key_may_be_lgstats(key: ast.expr, constants: dict[str, str]) -> bool:
    """True unless the key is provably another program's variable (AIRFLOW__…, GX_…, AIRFLOW_CONN_…)."""
    if isinstance(key, ast.Name) and key.id in constants:
        key = ast.Constant(constants[key.id])
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value.startswith("LGSTATS_")
    if isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
        head = str(key.values[0].value)
        return head.startswith("LGSTATS_") or not head.rstrip("_")
    return True  # computed: cannot be told apart


def environment_reads(source: str) -> list[int]:
    """Lines that read the environment with a key that is, or may be, an LGSTATS_* variable."""
    tree = ast.parse(source)
    constants, lines = _constants(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            owner = node.func.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (owner_name, node.func.attr) in READERS and _key_may_be_lgstats(node.args[0], constants):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "environ" and isinstance(node.ctx, ast.Load) \
                and _key_may_be_lgstats(node.slice, constants):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("source,found", [
    ('import os\nx = os.environ.get("LGSTATS_HOME")\n', [2]),
    ('import os\nx = os.environ["LGSTATS_MODE"]\n', [2]),
    ('import os\nNAME = "LGSTATS_X"\nx = os.getenv(NAME)\n', [3]),
    ('import os\nx = os.environ.get(f"LGSTATS_{name}_PASSWORD")\n', [2]),
    ('import os\nx = os.environ.get(key)\n', [2]),
    ('import os\nx = os.environ.get("AIRFLOW__CORE__PARALLELISM", "4")\nenv = {**os.environ}\n', []),
])
def test_the_check_finds_every_kind_of_read(source, found):
    assert environment_reads(source) == found


def test_no_module_but_settings_reads_an_lgstats_variable():
    offenders = {str(p.relative_to(PROJECT_DIR)): lines for p in CODE if p.name != "settings.py"
                 and (lines := environment_reads(p.read_text(encoding="utf-8")))}
    assert offenders == {}, f"read these through lgstats.core.settings.Settings instead: {offenders}"


def test_operations_guide_lists_every_variable_from_the_class():
    page = (PROJECT_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    table = settings.variables_markdown()
    assert table in page, "docs/operations.md: paste the output of `lgstats settings --markdown` under 'Settings'"
    assert all(f"`LGSTATS_{name.upper()}`" in table for name in Settings.model_fields)


def test_settings_come_from_lgstats_variables(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path))
    monkeypatch.setenv("LGSTATS_TASK_RETRIES", "5")
    monkeypatch.setenv("LGSTATS_WAREHOUSE_URL", "")  # empty is unset, as in a compose file's `VAR=`
    monkeypatch.setenv("LGSTATS_SCHEDULES", "off")
    s = Settings()
    assert (s.home, s.task_retries, s.warehouse_url, s.schedules_on) == (tmp_path, 5, None, False)
    monkeypatch.setenv("LGSTATS_TASK_RETRIES", "many")
    with pytest.raises(ValueError, match="task_retries"):
        Settings()
