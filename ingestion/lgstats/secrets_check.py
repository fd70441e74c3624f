"""Refuse to start a container with weak secrets: the image's entrypoint runs this before any Airflow command.

Every secret of the docker-compose deployment must be set, must not be a placeholder (``change-me``,
``admin``, ``password``…) and must be long enough; the Fernet key must be a real Fernet key. A container
with a weak secret exits at once, naming the variable and how to make a good one. ``--exec CMD…`` then
replaces this process with the command (the image's entrypoint: ``… --exec airflow``).
"""

from __future__ import annotations

import base64
import binascii
import os
import sys

# variable → minimum length; each must be present in the container's environment
REQUIRED = {
    "AIRFLOW__API_AUTH__JWT_SECRET": 32,
    "AIRFLOW_DB_PASSWORD": 16,
    "REDIS_PASSWORD": 16,
    "LGSTATS_PIPELINE_PASSWORD": 16,
}
# checked when the container has them (the init container alone holds the warehouse admin's password)
OPTIONAL = {"WAREHOUSE_ADMIN_PASSWORD": 16, "LGSTATS_BI_PASSWORD": 16, "LGSTATS_ANALYST_PASSWORD": 16}
PLACEHOLDERS = ("change-me", "changeme", "change_me", "password", "secret", "admin", "airflow", "example",
                "lgstats", "postgres", "redis", "default", "xxx", "todo")
MAKE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def problems(env: dict[str, str]) -> list[str]:
    found = []
    for name, minimum in {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in env}}.items():
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is empty or unset")
        elif value.strip().lower() in PLACEHOLDERS or value.strip().lower().startswith("change"):
            found.append(f"{name} is a placeholder ({value!r})")
        elif len(value) < minimum:
            found.append(f"{name} is {len(value)} characters long; at least {minimum} are required")
    fernet = env.get("AIRFLOW__CORE__FERNET_KEY", "")
    if not fernet:
        found.append("AIRFLOW__CORE__FERNET_KEY is empty: connections and variables would be stored unencrypted")
    else:
        try:
            if len(base64.urlsafe_b64decode(fernet.encode())) != 32:
                raise ValueError
        except (binascii.Error, ValueError):
            found.append("AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)")
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    found = problems(dict(os.environ))
    if found:
        print("lgstats: refusing to start with weak secrets:", file=sys.stderr)
        for p in found:
            print(f"  - {p}", file=sys.stderr)
        print(f"Fix: set them in .env (see .env.example). A strong value: {MAKE}; a Fernet key: python -c "
              "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'", file=sys.stderr)
        return 78  # EX_CONFIG
    if argv[:1] == ["--exec"] and len(argv) > 1:
        os.execvp(argv[1], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
