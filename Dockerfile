# The lgstats image: Airflow 3 + dbt + GX + the lgstats package, from the locked dependencies.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    LGSTATS_PROJECT_DIR=/opt/lgstats \
    LGSTATS_HOME=/opt/lgstats/home \
    AIRFLOW_HOME=/opt/lgstats/home/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/lgstats/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False

RUN pip install --no-cache-dir "uv==0.13.9" \
 && useradd --create-home --uid 50000 --gid 0 airflow

WORKDIR /opt/lgstats
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
 && cd dbt && dbt parse --profiles-dir . --quiet \
 && mkdir -p /opt/lgstats/home && chown -R 50000:0 /opt/lgstats/home /opt/lgstats/dbt

USER 50000
# Every container checks its secrets first (empty, placeholder or short ones stop it), then runs airflow.
ENTRYPOINT ["python", "-m", "lgstats.core.secrets_check", "--exec", "airflow"]
CMD ["version"]
