"""Production mode end to end, with workers that share no disk: ``lgstats airflow --executor celery --workers 0``
(Redis, PostgreSQL metadata, snapshots, reports and task logs in an S3 object store) and ``lgstats worker``s on
simulated hosts (tests/simulated_hosts.py: a network namespace and a read-only file system but for an empty home
each). Real DAG runs triggered through the REST API (``lgstats trigger``), the Asset-triggered
``warehouse_build``, a worker killed mid-upload and another mid-load in one run, one webhook alert per failed
task, a member's file from the store's inbox, and the Airflow UI in headless Chromium. One stack for the whole
module, and two builds of the marts (each is minutes of Cosmos tasks): its marts are compared with those of
``lgstats run --mode replay`` on the same inputs, in another database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.services.airflow_stack import kill_session
from tests.browser import start_browser, wait_for
from tests.conftest import fct_rows, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow_stack")]

LGSTATS = str(Path(sys.executable).with_name("lgstats"))
SOURCES = ("un_sdg", "world_bank", "stats_nz")  # sources without `needs`: each alone equals its slice


def _lgstats(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([LGSTATS, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_DIR)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Three simulated hosts (tests/simulated_hosts.py): two workers from the start, and one that joins before
    the kill test; where `ip netns` is not permitted, three homes on this machine (the isolation checks skip,
    saying why)."""
    from tests.simulated_hosts import HomesHere, HostNetwork, reason_unavailable

    root = tmp_path_factory.mktemp("hosts")
    reason = reason_unavailable()
    with (HomesHere(root, 3, reason) if reason else HostNetwork(root, 3)) as net:
        yield net


def _isolated(hosts) -> None:
    if hosts.reason:
        pytest.skip(f"workers could not be put on simulated hosts: {hosts.reason}")


@pytest.fixture(scope="module")
def s3(hosts):
    from tests.s3_server import S3Server

    server = S3Server(hosts.service_host).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def host_warehouse(hosts):
    """A PostgreSQL of the stack's own that also listens on the service address (the session's server listens
    on loopback only), the way `lgstats warehouse start` runs it with LGSTATS_SERVICE_ADDRESS."""
    import shutil
    import tempfile

    from lgstats.core import warehouse
    from lgstats.core.settings import Settings
    from tests.conftest import _database_url

    home = Path(tempfile.mkdtemp(prefix="lgstats-stack-pg-"))
    s = Settings(home=home, warehouse_port=free_port(), warehouse_url=None, service_address=hosts.service_address)
    warehouse.start(s)
    try:
        yield _database_url(s.admin_pg.model_copy(update={"dbname": "postgres"}).url, "celery_stack")
    finally:
        warehouse.stop(s)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def webhook(hosts):
    """The alert destination: records every POST (on the service address: the workers send the alerts)."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    server = HTTPServer(host=hosts.service_host, port=free_port())
    received: list[dict] = []

    def hook(request):
        received.append(request.get_json())
        return Response("ok")

    server.expect_request("/hook", method="POST").respond_with_handler(hook)
    # the World Bank API as the failing test sees it: every call refused for good (not retried)
    server.expect_request(re.compile("^/wb/.*")).respond_with_data("gone", status=404)
    server.start()
    yield server, received
    server.stop()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fresh_database):
    """``lgstats run --mode replay`` of the same sources into its own database: what the stack must equal."""
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path_factory.mktemp("reference")),
           "LGSTATS_WAREHOUSE_URL": fresh_database()}
    args = [a for s in SOURCES for a in ("--source", s)]
    return env, subprocess.Popen([LGSTATS, "run", "--mode", "replay", *args], env=env, cwd=PROJECT_DIR,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def reference_rows(reference):
    env, proc = reference
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:]
    rows = {s: fct_rows(env["LGSTATS_WAREHOUSE_URL"], f"source_dataset like '{s}/%'") for s in SOURCES}
    rows["marts"] = mart_rows(env["LGSTATS_WAREHOUSE_URL"])
    return rows


def mart_rows(url: str) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, without what differs between two equal runs: load and retrieval times, and
    the path of a snapshot's sidecar (each run has its own home)."""
    import psycopg

    with psycopg.connect(url) as conn:
        columns = conn.execute("""
            select table_name, string_agg(quote_ident(column_name), ', ' order by ordinal_position)
            from information_schema.columns
            where table_schema = 'marts' and data_type not like 'timestamp%' and column_name <> 'sidecar_path'
            group by table_name""").fetchall()
        return {t: conn.execute(f"select {cols} from marts.{t} order by {cols}").fetchall() for t, cols in columns}


BUCKET = "lgstats-stack"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, host_warehouse, hosts, s3, webhook, reference):
    """`lgstats airflow --executor celery --workers 0` on this machine, with its snapshots, reports and task logs
    in the object store; its two workers are `lgstats worker` on the simulated hosts, each with an empty home
    and the stack's worker.env, as docs/operations.md says to add a worker on another machine."""
    from lgstats.core.settings import Settings
    from lgstats.pipeline.object_store import ObjectStore

    server, _ = webhook
    home = tmp_path_factory.mktemp("stack")
    port = free_port()
    store = {"LGSTATS_STORE_URL": f"s3://{BUCKET}/lgstats", "LGSTATS_STORE_ENDPOINT_URL": s3.url,
             "LGSTATS_STORE_KEY_ID": "testing", "LGSTATS_STORE_SECRET": "testing"}
    env = {**os.environ, **store, "LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_URL": host_warehouse,
           "LGSTATS_REDIS_PORT": str(free_port()), "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
           "LGSTATS_SCHEDULES": "off",  # triggered runs only: nothing may call the real sources
           "LGSTATS_TASK_RETRIES": "1", "LGSTATS_RETRY_DELAY_SECONDS": "2",
           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",  # a killed worker's task is seen in 20 s
           "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # the DAG files do not change under test
           "AIRFLOW_CONN_LGSTATS_ALERTS": server.url_for("/hook"),
           "LGSTATS_WORLD_BANK_BASE_URL": server.url_for("/wb")}
    if hosts.service_address:
        env["LGSTATS_SERVICE_ADDRESS"] = hosts.service_address
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    ObjectStore.from_settings(Settings(home=home, store_url=store["LGSTATS_STORE_URL"], store_endpoint_url=s3.url,
                                       store_key_id="testing", store_secret="testing")).fs.mkdir(BUCKET)
    proc = subprocess.Popen([LGSTATS, "airflow", "--executor", "celery", "--workers", "0", "--port", str(port)],
                            env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    workers: dict[str, subprocess.Popen] = {}
    try:
        wait_for(lambda: "Ctrl-C stops every component" in "".join(seen) or proc.poll() is not None, 240,
                 "the stack to come up")
        assert proc.poll() is None, "".join(seen)[-3000:]
        state = json.loads((home / "airflow" / "stack.json").read_text())
        on = {}
        for i, host in enumerate(hosts.hosts[:2], 1):
            name = f"simulated-host-{i}"
            workers[name] = _start_worker(host, name, home)
            on[name] = host
        wait_for(lambda: all("ready." in _worker_log(h) for h in on.values()) or
                 any(w.poll() is not None for w in workers.values()), 120, "the workers to be ready")
        assert all(w.poll() is None for w in workers.values()), {n: _worker_log(h)[-2000:] for n, h in on.items()}
        yield {"env": env, "home": home, "port": port, "proc": proc, "out": seen, "state": state,
               "url": state["url"], "workers": {n: w.pid for n, w in workers.items()}, "procs": workers,
               "hosts": on, "s3": s3, "service_host": hosts.service_host}
    finally:
        for w in workers.values():
            if w.poll() is None:
                kill_session(w.pid, signal.SIGTERM)
        for w in workers.values():
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_session(w.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)


def _start_worker(host, name: str, stack_home: Path) -> subprocess.Popen:
    """`lgstats worker` on ``host``: its worker.env is copied into the host's home, as an operator copies it."""
    import shutil

    env_file = host.home / "worker.env"
    shutil.copyfile(stack_home / "airflow" / "worker.env", env_file)
    env_file.chmod(0o600)
    log = open(host.home.parent / f"{host.home.name}-worker.log", "a")  # noqa: SIM115 - the worker's lifetime
    return host.popen([LGSTATS, "worker", "--env-file", str(env_file), "--name", name], host.env(),
                      stdout=log, stderr=subprocess.STDOUT, cwd=str(host.home))


def _worker_log(host) -> str:
    path = host.home.parent / f"{host.home.name}-worker.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _api(stack):
    from lgstats.core.settings import Settings
    from lgstats.services.trigger import AirflowAPI

    return AirflowAPI.login(Settings(home=stack["home"]))


def _trigger(stack, source: str, mode: str) -> dict:
    done = _lgstats(stack["env"], "trigger", source, "--mode", mode, "--wait", "--json", timeout=900)
    return _outcome(done.returncode, done.stdout, done.stderr)


def _outcome(code: int, stdout: str, stderr: str) -> dict:
    return {"code": code, "doc": json.loads(stdout) if stdout.strip() else None, "stderr": stderr[-3000:]}


def test_two_ingests_at_once_and_their_asset_triggered_builds_run_on_two_named_workers(stack, reference_rows):
    """`lgstats trigger un_sdg --mode replay --wait --json`, with world_bank triggered beside it: both loads at
    once and the builds queued behind them give the marts of a sequential `lgstats run`."""
    procs = {s: subprocess.Popen([LGSTATS, "trigger", s, "--mode", "replay", "--wait", "--json"], env=stack["env"],
                                 cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in ("un_sdg", "world_bank")}
    outs = {s: _outcome(p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for s, p in procs.items()}
    for source, out in outs.items():
        assert out["code"] == 0, out
        assert [r["dag_id"] for r in out["doc"]["runs"]][:2] == [f"{source}_ingest", "warehouse_build"], out["doc"]
        assert {r["state"] for r in out["doc"]["runs"]} == {"success"}
        assert all(r["run_id"].startswith("asset_triggered__") for r in out["doc"]["runs"][1:])
        assert all(t["state"] == "success" for r in out["doc"]["runs"] for t in r["tasks"])
    workers = set(stack["workers"])
    hosts = {t["hostname"] for out in outs.values() for r in out["doc"]["runs"] for t in r["tasks"]}
    assert len(workers) == 2 and hosts == workers, (hosts, workers)
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    for source in ("un_sdg", "world_bank"):
        assert reference_rows[source], f"the reference run has {source} rows"
        assert fct_rows(url, f"source_dataset like '{source}/%'") == reference_rows[source], source
    # what the workers shared went through the store: the snapshots are there, not in the stack's home
    store = _store(stack)
    assert store.visible("un_sdg", "series_data") and store.visible("world_bank", "indicators")
    assert not (stack["home"] / "snapshots").exists(), list((stack["home"] / "snapshots").rglob("*"))[:5]
    fetched_on = {t["hostname"] for out in outs.values() for r in out["doc"]["runs"] for t in r["tasks"]
                  if t["task_id"].startswith("load_")}
    for name in fetched_on:  # a host that loaded a dataset read its snapshot from the store into its own cache
        assert list((stack["hosts"][name].home / "cache" / "snapshots").rglob("_origin.json")), name


def _store(stack):
    from lgstats.core.settings import Settings
    from lgstats.pipeline.object_store import ObjectStore

    e = stack["env"]
    return ObjectStore.from_settings(Settings(home=stack["home"], store_url=e["LGSTATS_STORE_URL"],
                                              store_endpoint_url=e["LGSTATS_STORE_ENDPOINT_URL"],
                                              store_key_id="testing", store_secret="testing"))


def test_each_worker_host_can_write_only_its_home_and_reach_only_the_service_address(stack, hosts):
    """The simulated hosts share nothing: a write anywhere but the home fails, and this machine's loopback
    (where nothing is offered to them) is not theirs."""
    _isolated(hosts)
    probe = ("import os, socket, sys\n"
             "open(os.path.join(os.environ['LGSTATS_HOME'], 'probe'), 'w').write('ok')\n"
             "for path in (sys.argv[1], '/tmp/lgstats-probe', '/root/lgstats-probe'):\n"
             "    try:\n        open(path, 'w')\n        print('WROTE', path)\n"
             "    except OSError as exc:\n        print('refused', path, exc.errno)\n"
             "for host, port in ((sys.argv[2], int(sys.argv[3])), ('127.0.0.1', int(sys.argv[3]))):\n"
             "    try:\n        socket.create_connection((host, port), timeout=3).close()\n"
             "        print('reached', host)\n"
             "    except OSError:\n        print('unreachable', host)\n")
    api_port = str(stack["port"])
    for name, host in stack["hosts"].items():
        other = next(h for n, h in stack["hosts"].items() if n != name)
        done = host.run([sys.executable, "-c", probe, str(other.home / "intruder"), hosts.service_host, api_port],
                        host.env())
        assert done.returncode == 0, done.stdout
        assert "WROTE" not in done.stdout and done.stdout.count("refused") == 3, done.stdout
        assert f"reached {hosts.service_host}" in done.stdout and "unreachable 127.0.0.1" in done.stdout, done.stdout
        assert (host.home / "probe").read_text() == "ok"
        assert not (other.home / "intruder").exists()


def test_a_task_log_written_on_a_simulated_host_is_read_through_the_api_server(stack):
    """Remote logging: the worker's task log lands in the store (logs/), and the API server, which cannot reach
    the worker, serves it from there."""
    api = _api(stack)
    [run] = api.call("GET", "/dags/un_sdg_ingest/dagRuns", params={"order_by": "-run_after", "limit": 1})["dag_runs"]
    path = f"/dags/un_sdg_ingest/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances/load_series_data"
    ti = api.call("GET", path)
    assert ti["state"] == "success" and ti["hostname"] in stack["workers"], ti
    store = _store(stack)
    logs = [k for k in store.fs.glob(f"{store.root}/logs/dag_id=un_sdg_ingest/**") if "task_id=load_series_data" in k
            and store.fs.isfile(k)]
    assert logs, "no task log of load_series_data in the store"
    assert not list((stack["home"] / "airflow" / "logs").glob("dag_id=un_sdg_ingest/**/task_id=load_series_data/*"))
    body = api.call("GET", f"{path}/logs/{ti['try_number']}", params={"full_content": "true"})
    text = json.dumps(body)
    assert "Returned value was" in text and "raw.un_sdg__series_data" in text, text[:2000]


def test_the_airflow_ui_shows_every_dag_the_runs_and_a_task_log(stack):
    from selenium.webdriver.common.by import By

    api = _api(stack)
    assert api.call("GET", "/importErrors")["total_entries"] == 0
    dag_ids = sorted(d["dag_id"] for d in api.call("GET", "/dags", params={"limit": 100})["dags"])
    assert {"un_sdg_ingest", "warehouse_build", "world_bank_ingest", "submissions_ingest"} <= set(dag_ids)
    runs = api.call("GET", "/dags/un_sdg_ingest/dagRuns", params={"order_by": "-run_after", "limit": 1})["dag_runs"]
    assert runs, "no run of un_sdg_ingest: the first test of this module triggers it"
    run = runs[0]
    shots = stack["home"] / "screenshots"
    shots.mkdir(exist_ok=True)
    browser = start_browser()
    try:
        browser.get(stack["url"] + "/")
        wait_for(lambda: browser.find_element(By.NAME, "username"), 60, "the login form")
        browser.find_element(By.NAME, "username").send_keys("admin")
        password = json.loads((stack["home"] / "airflow" / "simple_auth_manager_passwords.json.generated")
                              .read_text())["admin"]
        browser.find_element(By.NAME, "password").send_keys(password + "\n")
        wait_for(lambda: "/auth/login" not in browser.current_url, 60, "the login")
        wait_for(lambda: "Failed Dags" in browser.find_element(By.TAG_NAME, "body").text, 60, "the home page")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Import Error" not in body, body[:2000]
        browser.save_screenshot(str(shots / "airflow-home.png"))

        browser.get(stack["url"] + "/dags")
        wait_for(lambda: all(d in browser.find_element(By.TAG_NAME, "body").text for d in dag_ids), 60,
                 f"every DAG listed ({dag_ids})")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert f"{len(dag_ids)} Dags" in body
        browser.save_screenshot(str(shots / "airflow-dags.png"))

        for dag_id in ("un_sdg_ingest", "warehouse_build"):
            browser.get(f"{stack['url']}/dags/{dag_id}/runs")
            wait_for(lambda: "success" in browser.find_element(By.TAG_NAME, "body").text.lower(), 60,
                     f"the runs of {dag_id}")
            browser.save_screenshot(str(shots / f"airflow-{dag_id}-runs.png"))

        browser.get(f"{stack['url']}/dags/un_sdg_ingest/runs/{quote(run['dag_run_id'], safe='')}/tasks/"
                    "load_series_data")
        wait_for(lambda: "Returned value was" in browser.find_element(By.TAG_NAME, "body").text, 90,
                 "the task log of load_series_data")
        assert "raw.un_sdg__series_data" in browser.find_element(By.TAG_NAME, "body").text
        browser.save_screenshot(str(shots / "airflow-task-log.png"))
    finally:
        browser.quit()
    assert all((shots / f).stat().st_size > 10_000 for f in ("airflow-home.png", "airflow-dags.png",
                                                             "airflow-task-log.png"))


def test_a_failing_task_sends_exactly_one_alert_naming_its_worker(stack, webhook):
    _, received = webhook
    before = len(received)
    out = _trigger(stack, "world_bank", "live")
    assert out["code"] == 1, out
    [run] = out["doc"]["runs"]  # failed: no build is triggered
    assert run["dag_id"] == "world_bank_ingest" and run["state"] == "failed"
    failed = [t for t in run["tasks"] if t["state"] == "failed"]
    assert [t["task_id"] for t in failed] == ["fetch_indicators"]
    wait_for(lambda: len(received) > before, 30, "the alert")
    time.sleep(5)  # a second alert (one per try, or per callback path) would arrive by now
    alerts = received[before:]
    assert len(alerts) == 1, alerts
    [alert] = alerts
    assert alert["dag_id"] == "world_bank_ingest" and alert["task_id"] == "fetch_indicators"
    assert alert["hostname"] in stack["workers"] and alert["hostname"] == failed[0]["hostname"]
    assert alert["try_number"] == 2  # retried once, alerted once


def test_workers_killed_mid_upload_and_mid_load_leave_nothing_partial_and_the_retries_give_the_marts(
        stack, hosts, reference_rows):
    """One stats_nz run, two deaths. A third host joins (as docs/operations.md adds a worker), so that two can
    die. The object store holds the PUT of the snapshot's sidecar: the fetching host is killed after its data
    files and before the sidecar (the held request is then dropped, as a server drops a request whose client is
    gone), and nothing is visible. The fetch's retry on another host uploads the snapshot whole; the load then
    waits on a lock the test holds and its host is killed with the load's transaction open. The load's retry on
    the last host completes the run, and the marts equal those of `lgstats run`."""
    import psycopg

    from lgstats.services.trigger import Follower

    joining = "simulated-host-3"
    stack["procs"][joining] = _start_worker(hosts.hosts[2], joining, stack["home"])
    stack["workers"][joining] = stack["procs"][joining].pid
    stack["hosts"][joining] = hosts.hosts[2]
    wait_for(lambda: "ready." in _worker_log(hosts.hosts[2]), 120, f"{joining} to be ready")
    api, store, s3 = _api(stack), _store(stack), stack["s3"]
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    assert store.visible("stats_nz", "agr_forestry") == []  # this stack has not fetched stats_nz yet
    blocker, watch = psycopg.connect(url), psycopg.connect(url, autocommit=True)
    blocker.execute("lock table raw.stats_nz__agr_forestry in share mode")  # the load's write will wait on it
    s3.hold(r"/snapshots/stats_nz/agr_forestry/dt=[^/]+/_origin\.json$")
    try:
        started = _lgstats(stack["env"], "trigger", "stats_nz", "--mode", "replay", "--json")
        assert started.returncode == 0, started.stderr
        run_id = json.loads(started.stdout)["runs"][0]["run_id"]
        assert s3.gate.arrived.wait(240), "the sidecar upload never came"
        ti = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/fetch_agr_forestry")
        uploader = ti["hostname"]
        assert ti["state"] == "running" and uploader in stack["workers"], ti
        partition = s3.gate.held[0].lstrip("/").rsplit("/", 1)[0]
        uploaded = store.fs.find(partition)
        assert uploaded and not any(k.endswith("_origin.json") for k in uploaded), uploaded
        kill_session(stack["workers"][uploader])  # the worker and its tasks, as if its host died
        stack["procs"][uploader].wait(timeout=30)
        s3.release(drop=True)
        assert store.visible("stats_nz", "agr_forestry") == []  # data files without a sidecar: invisible

        def load_blocked_mid_write():
            ti = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/load_agr_forestry")
            waiting = watch.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                                    "and query ilike '%raw.%stats_nz__agr_forestry%'").fetchone()[0]
            return ti if ti["state"] == "running" and ti.get("hostname") and waiting else None

        loader = wait_for(load_blocked_mid_write, 300, "the retried fetch, then the load blocked in its write")[
            "hostname"]
        fetch = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/fetch_agr_forestry")
        assert fetch["state"] == "success" and fetch["try_number"] == 2 and fetch["hostname"] != uploader, fetch
        [visible] = store.visible("stats_nz", "agr_forestry")  # the retry uploaded it whole
        assert store.fs.exists(f"{store.root}/snapshots/{visible}/_origin.json")
        assert loader != uploader
        kill_session(stack["workers"][loader])
        stack["procs"][loader].wait(timeout=30)
    finally:
        s3.release(drop=True)
        blocker.rollback()
        blocker.close()
        watch.close()
    [survivor] = [w for w in stack["workers"] if w not in (uploader, loader)]
    follower = Follower(api, lambda _m: None)
    wait_for(lambda: follower.poll("stats_nz_ingest", run_id)["state"] in ("success", "failed"), 300,
             "the ingest run to finish after the kills")
    ti = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}/taskInstances/load_agr_forestry")
    assert ti["state"] == "success" and ti["try_number"] == 2 and ti["hostname"] == survivor, ti
    assert follower.poll("stats_nz_ingest", run_id)["state"] == "success"
    wait_for(lambda: _build_done_after(api, run_id), 600, "the Asset-triggered build after the retried load")
    for source in SOURCES:  # the retried load and everything loaded before it
        assert fct_rows(url, f"source_dataset like '{source}/%'") == reference_rows[source], source
    assert reference_rows["stats_nz"]
    marts = mart_rows(url)  # every mart, now that the stack has loaded what the reference run did
    assert len(marts) >= 10 and sum(map(len, marts.values())) > 1000
    assert {t: rows for t, rows in marts.items() if rows != reference_rows["marts"].get(t)} == {}
    assert stack["proc"].poll() is None  # the stack kept running


def test_a_member_file_dropped_in_the_stores_inbox_is_processed_on_a_worker_host(stack):
    """After the marts were compared: the member's rows go into them too (the build this starts is the task
    the SIGTERM test finds running)."""
    import psycopg

    from lgstats.services.trigger import Follower

    store = _store(stack)
    sample = PROJECT_DIR / "data" / "replay" / "submissions" / "LGA-PH-01" / "lga_profile.csv"
    key = f"{store.root}/inbox/LGA-PH-01/lga_profile/lga_profile.csv"
    store.fs.put_file(str(sample), key)
    started = _lgstats(stack["env"], "trigger", "submissions", "--mode", "live", "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["runs"][0]["run_id"]
    api = _api(stack)
    follower = Follower(api, lambda _m: None)
    run = wait_for(lambda: (r := follower.poll("submissions_ingest", run_id))["state"] in ("success", "failed")
                   and r, 300, "the submissions run")
    assert run["state"] == "success", run
    task = api.call("GET", f"/dags/submissions_ingest/dagRuns/{run_id}/taskInstances/process_inbox")
    assert task["state"] == "success" and task["hostname"] in stack["workers"], task
    assert not store.fs.exists(key)  # it left the store's inbox ...
    processed = store.fs.glob(f"{store.root}/inbox/.processed/LGA-PH-01/lga_profile/*__lga_profile.csv")
    assert len(processed) == 1 and store.fs.cat_file(processed[0]) == sample.read_bytes()  # ... kept as received
    reports = store.fs.glob(f"{store.root}/reports/submissions/lga_profile/**/report.html")
    assert reports, "the member's report is not in the store"
    assert b"LGA-PH-01" in store.fs.cat_file(reports[0])
    with psycopg.connect(stack["env"]["LGSTATS_WAREHOUSE_URL"]) as conn:
        rows = conn.execute("select count(*) from raw.submissions__lga_profile where member_code = 'LGA-PH-01'"
                            ).fetchone()[0]
    assert rows > 0
    assert not (stack["home"] / "inbox").exists()  # the stack's own disk took no part


def _build_done_after(api, run_id: str) -> bool:
    from lgstats.services.trigger import BUILD_DAG, _builds_for, _events_of

    run = api.call("GET", f"/dags/stats_nz_ingest/dagRuns/{run_id}")
    builds, all_taken = _builds_for(api, _events_of(api, "stats_nz_ingest", run), run["start_date"], {})
    states = [api.call("GET", f"/dags/{BUILD_DAG}/dagRuns/{b}")["state"] for b in builds]
    assert "failed" not in states, builds
    return bool(builds) and all_taken and all(s == "success" for s in states)


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_the_stack_stops_on_sigterm_with_no_process_left_even_with_a_task_running(stack):
    """A task is running when the stack is stopped: the oecd load, which waits on a lock the test holds (or
    a task of the build the member's file started, whichever runs first on the one worker left)."""
    import psycopg

    proc = stack["proc"]
    url = stack["env"]["LGSTATS_WAREHOUSE_URL"]
    blocker = psycopg.connect(url)
    blocker.execute("lock table raw.oecd__sng_wofi_finance in share mode")  # its load waits: a task is running
    try:
        started = _lgstats(stack["env"], "trigger", "oecd", "--mode", "replay")
        assert started.returncode == 0, started.stderr

        def tree_with_a_task():
            sessions = {p.pid for p in psutil.Process(proc.pid).children()}  # each component leads its session
            sessions |= set(stack["workers"].values())  # and each worker on its host
            tree = [p for p in psutil.process_iter() if _sid(p.pid) in sessions]
            return tree if any(_is_task(p) for p in tree) else None

        tree = wait_for(tree_with_a_task, 240, "a task to run")
        _stop_and_check(stack, proc, tree)
    finally:
        blocker.rollback()
        blocker.close()


def _is_task(p) -> bool:
    try:
        return _alive(p) and " -- " in p.name() + " ".join(p.cmdline())
    except psutil.NoSuchProcess:
        return False


def _alive(p) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop_and_check(stack, proc, tree):
    assert len(tree) >= 6  # redis, the four core components, the surviving worker (and their children)
    assert any(_is_task(p) for p in tree), "a task process is running"
    listening = set()
    for p in [psutil.Process(proc.pid), *tree]:
        try:
            listening |= {c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    # Redis, API, PostgreSQL: loopback, and the service address the worker hosts reach (when there are such hosts)
    assert listening and listening <= {"127.0.0.1", "::1", stack["service_host"]}, listening
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    for worker in stack["procs"].values():  # the hosts' workers are stopped on their hosts, the same way
        kill_session(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        kill_session(worker.pid)
        worker.wait()
    time.sleep(1)
    left = [p for p in tree if _alive(p)]
    assert left == [], [(p.pid, p.name()) for p in left]
    assert "Airflow stopped" in "".join(stack["out"])
    assert not (stack["home"] / "airflow" / "stack.json").exists()
