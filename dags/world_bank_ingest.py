"""Airflow DAG: World Bank WDI → raw.world_bank__indicators (see ingestion/sources/world_bank.yml)."""

from lgstats.services.dag_factory import build_ingest_dag

dag = build_ingest_dag("world_bank")
