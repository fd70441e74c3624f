"""``lgstats run`` killed with SIGKILL (the whole process group: the CLI and the DAG process it drives),
first during ingestion, then after the single validate-and-load pass staged the rows, then in the middle of
the marts layer, then run to the end: ``marts.fct_observation`` equals that of a clean run, with no
duplicate key.

Kill points: right after the fetch of the observations (the snapshot is written, nothing validated or
loaded); as the load starts (the validate step has parsed the snapshot once and staged its rows in
``pending``, nothing is published); and after the first mart is reported built (some marts new, the rest,
fct_observation among them or just after it, not): the states a power cut or the OOM killer leaves. A kill
inside ``COPY`` is the SIGKILL-mid-COPY test next to this one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lgstats.core.settings import PROJECT_DIR
from tests.conftest import fct_rows

# progress lines, printed as each task starts: during the ingestion, after the single validate-and-load pass
# staged the rows (the load has just started to publish them), and in the middle of the marts layer
KILL_POINTS = ("] fetch_series_data", "] load_series_data", "] marts.")


def test_a_run_killed_in_ingestion_then_mid_build_and_rerun_equals_a_clean_run(clean_replay, fresh_database,
                                                                               tmp_path):
    assert clean_replay.fct, clean_replay.proc.stdout[-3000:]
    url = fresh_database()
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url}
    cmd = [str(Path(sys.executable).with_name("lgstats")), "run", "--mode", "replay", "--source", "un_sdg"]
    for kill_at in KILL_POINTS:
        proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        seen, killed = [], False
        for line in proc.stdout:
            seen.append(line)
            if kill_at in line:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
        proc.wait(timeout=60)
        assert killed, f"never reached {kill_at!r}:\n" + "".join(seen[-40:])
        assert proc.returncode == -signal.SIGKILL

    rerun = subprocess.run(cmd, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-2000:]
    where = "source_dataset = 'un_sdg/series_data'"
    after = fct_rows(url, where)
    clean = [r for r in clean_replay.fct if r[-1] == "un_sdg/series_data"]
    assert after == clean and len(clean) > 400  # the real replay: 499 observations
    ids = [r[0] for r in after]
    assert len(ids) == len(set(ids))  # no duplicate by natural key
