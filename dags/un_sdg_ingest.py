"""Airflow DAG: UN SDG Global Database → raw.un_sdg__series_data (see ingestion/sources/un_sdg.yml).

The words "airflow" and "dag" must appear in a DAG file for the DAG processor's safe mode to read it.
"""

from lgstats.services.dag_factory import build_ingest_dag

dag = build_ingest_dag("un_sdg")
