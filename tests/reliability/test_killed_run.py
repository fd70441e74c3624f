"""``lgstats run`` killed with SIGKILL (the whole process group: the CLI and the DAG process it drives) in
the middle of the marts layer, then run again: ``marts.fct_observation`` equals that of a clean run.

The kill point is the first mart reported built, so some marts are new, the rest (fct_observation among
them, or just after it) are not: the state a power cut or the OOM killer leaves. A kill during ingestion
is covered by the SIGKILL-mid-COPY test next to this one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lgstats.settings import PROJECT_DIR
from tests.conftest import fct_rows

KILL_AT = "] marts."  # the progress line of the first finished mart task


def test_a_run_killed_mid_build_and_rerun_gives_the_fct_observation_of_a_clean_run(clean_replay, fresh_database,
                                                                                     tmp_path):
    assert clean_replay.fct, clean_replay.proc.stdout[-3000:]
    url = fresh_database()
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": url}
    cmd = [str(Path(sys.executable).with_name("lgstats")), "run", "--mode", "replay", "--source", "un_sdg"]
    proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    seen, killed = [], False
    for line in proc.stdout:
        seen.append(line)
        if KILL_AT in line:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=60)
    assert killed, "".join(seen[-40:])
    assert proc.returncode == -signal.SIGKILL

    rerun = subprocess.run(cmd, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-2000:]
    where = "source_dataset = 'un_sdg/series_data'"
    after = fct_rows(url, where)
    clean = [r for r in clean_replay.fct if r[-1] == "un_sdg/series_data"]
    assert after == clean and len(clean) > 1000
    ids = [r[0] for r in after]
    assert len(ids) == len(set(ids))  # no duplicate by natural key
