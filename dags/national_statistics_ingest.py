"""Airflow DAGs for the national statistics sources and the registers of local governments: one ingest DAG
per SDMX, PXWeb or register source in the registry (abs_ingest, oecd_ingest, psa_ingest, stats_nz_ingest,
registers_ingest today).

A new source of any of these kinds is one YAML file in ``ingestion/sources/``: its DAG appears here, with no code
change. Each DAG is fetch → validate → load → check per dataset, and updates one Asset per raw table.
"""

from lgstats.pipeline import registry
from lgstats.services.dag_factory import GENERIC_CONNECTORS, build_ingest_dag

for _name, _source in registry.sources().items():
    if _source.connector in GENERIC_CONNECTORS:
        globals()[f"{_name}_ingest"] = build_ingest_dag(_name)
