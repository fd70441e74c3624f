"""The name a task instance records as its ``hostname`` (Airflow's ``[core] hostname_callable``).

Several Celery workers on one machine would all report the machine's name, so a run could not show which
worker did what. ``lgstats airflow --executor celery`` gives each worker ``LGSTATS_WORKER_NAME``; anywhere
else (one worker per host or container, the scheduler, the API server) the host's own name is used, as
Airflow does by default.
"""

from __future__ import annotations

import socket


def hostname() -> str:
    from lgstats.core.settings import get_settings

    return get_settings().worker_name or socket.getfqdn()
