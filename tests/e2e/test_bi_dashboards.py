"""`lgstats bi`: Superset over the marts of one clean replay run, checked through its REST API and, as a person
sees it, in headless Chromium (Debian's chromium and chromedriver, which `make test` installs when missing).
One Superset and one browser for the whole module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lgstats.core.settings import PROJECT_DIR
from tests.browser import wait_for
from tests.conftest import free_port
from tests.secrets_scan import assert_home_keeps_its_secrets

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("clean_replay")]  # with the run it reads

LGSTATS = str(Path(sys.executable).with_name("lgstats"))


def _lgstats(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([LGSTATS, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_DIR)


@pytest.fixture(scope="module")
def superset(clean_replay):
    assert clean_replay.proc.returncode == 0, clean_replay.proc.stdout[-3000:]
    env = {**os.environ, **clean_replay.env, "LGSTATS_BI_PORT": str(free_port())}
    with CommandLines() as seen:  # every process's argv while Superset is set up (review N7: `ps` shows argv)
        first = _lgstats(env, "bi", "start")
    home = Path(env["LGSTATS_HOME"])
    try:
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        yield {"env": env, "home": home, "first": first, "url": f"http://127.0.0.1:{env['LGSTATS_BI_PORT']}",
               "credentials": json.loads((home / "bi" / "credentials.json").read_text()), "argv": seen.lines}
    finally:
        _lgstats(env, "bi", "stop", timeout=120)


@pytest.fixture(scope="module")
def api(superset):
    from lgstats.services.bi import Client

    return Client(superset["url"], superset["credentials"])


class CommandLines:
    """Polls /proc for every process's command line while the block runs (what `ps` shows any user)."""

    def __init__(self) -> None:
        self.lines: set[str] = set()
        self._stop = threading.Event()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    self.lines.add(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.05)

    def __enter__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_the_admin_password_never_appears_in_a_command_line(superset):
    creds = superset["credentials"]
    admins = [line for line in superset["argv"] if "create-admin" in line]
    assert admins, "the poll should have seen `superset fab create-admin` run"
    assert not [line for line in superset["argv"] if creds["password"] in line]


def test_no_secret_leaves_its_0600_file_after_the_run_and_bi_start(superset):
    """The BI password is neither in Superset's `dbs` nor `logs` tables (review N6): it comes from the
    environment through SQLALCHEMY_CUSTOM_PASSWORD_STORE; every other secret stays in its 0600 file."""
    hits = assert_home_keeps_its_secrets(superset["home"], expect=("bi/secret_key", "credentials.json:password"))
    assert hits["LGSTATS_BI_PASSWORD"] == []  # given in the environment: in no file at all
    import sqlite3

    with sqlite3.connect(superset["home"] / "bi" / "superset.db") as db:
        assert db.execute("select count(*) from dbs where password is not null").fetchone() == (0,)
        assert db.execute("select count(*) from logs").fetchone()[0] > 0  # the imports were logged, without it


def test_first_start_prints_the_generated_admin_once_and_keeps_it_private(superset):
    creds = superset["credentials"]
    assert creds["password"] in superset["first"].stdout  # printed once, on first start
    assert oct((superset["home"] / "bi" / "credentials.json").stat().st_mode & 0o777) == "0o600"
    assert oct((superset["home"] / "bi" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_three_dashboards_and_every_chart_returns_rows(api):
    dashboards = api.list("dashboard")
    charts = api.list("chart")
    assert len(dashboards) >= 3 and len(charts) >= 6
    empty = {}
    for chart in charts:
        r = api.http.get(f"{api.url}/api/v1/chart/{chart['id']}/data/", timeout=120)
        assert r.status_code == 200, (chart["slice_name"], r.text[:500])
        result = r.json()["result"][0]
        if not result.get("rowcount"):
            empty[chart["slice_name"]] = result.get("error")
    assert empty == {}


def test_every_dashboard_shows_the_release_it_reads(api):
    """The Data release chart stands first on every dashboard; before any release it says the live marts."""
    chart = next(c for c in api.list("chart") if c["slice_name"] == "Data release")
    data = api.http.get(f"{api.url}/api/v1/chart/{chart['id']}/data/", timeout=120).json()["result"][0]["data"]
    assert [row["dashboards_read"] for row in data] == ["the live marts (no release published yet)"]
    for dashboard in api.list("dashboard"):
        names = [c["slice_name"] for c in api.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]]
        assert "Data release" in names, dashboard["dashboard_title"]


def test_every_chart_states_its_source_and_whether_rows_are_synthetic(api):
    for chart in api.list("chart"):
        description = api.get(f"/api/v1/chart/{chart['id']}")["result"]["description"]
        assert "Source: " in description and "Synthetic rows: " in description, chart["slice_name"]


def test_the_warehouse_is_connected_as_the_read_only_bi_role(api):
    uris = [api.get(f"/api/v1/database/{db['id']}/connection")["result"]["sqlalchemy_uri"]
            for db in api.list("database")]
    # the password is not in the URI nor in Superset's tables: it comes from Superset's environment
    assert any(u.split("://", 1)[1].startswith("lgstats_bi@") for u in uris), uris
    assert not any("postgres:" in u or "lgstats_pipeline" in u for u in uris)


def test_a_second_start_reuses_the_environment_and_reimports_idempotently(superset, api):
    """Re-import overwrites what drifted in the UI (the assets are the truth) and duplicates nothing."""
    before = (len(api.list("dashboard")), len(api.list("chart")), len(api.list("dataset")))
    chart = api.list("chart")[0]
    drift = api.http.put(f"{api.url}/api/v1/chart/{chart['id']}", json={"description": "edited by hand"}, timeout=60)
    assert drift.status_code == 200, drift.text[:500]
    again = _lgstats(superset["env"], "bi", "start")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "installed Superset" not in again.stdout and "password" not in again.stdout
    after = (len(api.list("dashboard")), len(api.list("chart")), len(api.list("dataset")))
    assert after == before
    assert "Source: " in api.get(f"/api/v1/chart/{chart['id']}")["result"]["description"]


def log_in(browser, url: str, credentials: dict) -> None:
    """Superset's login form, as a person fills it. The browser is the worker's shared one: its cookies for
    127.0.0.1 (any port) are cleared first, since a stale session cookie makes Superset refuse the form's CSRF
    token. A login page still showing after the wait is filled once more (a clean clone's run once stayed on
    /login under full load) before the test fails."""
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/login/")
    browser.delete_all_cookies()
    for attempt in (1, 2):
        browser.get(f"{url}/login/")
        wait_for(lambda: browser.find_element(By.ID, "username"), 60, "the login form")
        browser.find_element(By.ID, "username").clear()
        browser.find_element(By.ID, "username").send_keys(credentials["username"])
        browser.find_element(By.ID, "password").send_keys(credentials["password"] + "\n")
        try:
            wait_for(lambda: "/login" not in browser.current_url, 90, "login")
            return
        except AssertionError:
            if attempt == 2:
                raise AssertionError(f"still on {browser.current_url} after two logins; the page said: "
                                     f"{browser.find_element(By.TAG_NAME, 'body').text[:500]}") from None


def test_each_dashboard_renders_every_chart_with_data_in_chromium(superset, api, browser):
    from selenium.webdriver.common.by import By

    url = superset["url"]
    log_in(browser, url, superset["credentials"])
    shots = superset["home"] / "screenshots"
    shots.mkdir(exist_ok=True)
    for dashboard in api.list("dashboard"):
        detail = api.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
        browser.get(f"{url}/superset/dashboard/{dashboard['slug'] or dashboard['id']}/")
        expected = len(detail)

        def holders_present(expected=expected):
            found = browser.find_elements(By.CSS_SELECTOR, "[data-test='chart-grid-component']")
            return found if len(found) >= expected else None

        holders = wait_for(holders_present, 120, f"the {expected} charts of {dashboard['dashboard_title']}")

        def rendered(holders=holders):
            done = 0
            for h in holders:
                if h.find_elements(By.CSS_SELECTOR, ".loading, [data-test='loading-indicator']"):
                    return None
                if h.find_elements(By.CSS_SELECTOR, "canvas, svg, table tbody tr"):
                    done += 1
            return done == len(holders)

        wait_for(rendered, 120, f"every chart of {dashboard['dashboard_title']} to draw")
        errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-test='chart-grid-component']")
                  if e.find_elements(By.CSS_SELECTOR, ".alert-danger, [role='alert'], .ant-alert-error")]
        assert errors == [], (dashboard["dashboard_title"], errors)
        assert "No results were returned" not in browser.page_source
        shot = shots / f"{dashboard['slug']}.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000


def test_the_docs_site_renders_the_dbt_docs_and_the_data_docs(superset, browser):
    from selenium.webdriver.common.by import By

    site = superset["home"] / "site"
    browser.get((site / "index.html").as_uri())
    assert "lgstats documentation" in browser.title
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")}
    browser.get(links["dbt docs"])
    wait_for(lambda: "fct_observation" in browser.page_source, 60, "the dbt docs to list fct_observation")
    browser.save_screenshot(str(superset["home"] / "screenshots" / "dbt-docs.png"))
    browser.get(links["Great Expectations Data Docs"])
    wait_for(lambda: "un_sdg" in browser.page_source, 60, "the Data Docs to list a UN SDG validation")
    browser.save_screenshot(str(superset["home"] / "screenshots" / "gx-data-docs.png"))
    browser.get(links["Indicators"])  # before any release the page says how to make one
    wait_for(lambda: "No release has been published yet" in browser.page_source, 30, "the indicators page")


def test_stop_leaves_no_process_behind(superset):
    pid = int((superset["home"] / "bi" / "superset.pid").read_text())
    stopped = _lgstats(superset["env"], "bi", "stop", timeout=120)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not (superset["home"] / "bi" / "superset.pid").exists()
