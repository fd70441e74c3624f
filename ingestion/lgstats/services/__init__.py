"""The services that run the pipeline and show its output: the Airflow stack (with the DAG builder, the in-process
runner and the trigger), Superset, Redis, alerts, the docs site. Stand on lgstats.pipeline and lgstats.core."""
