"""The pipeline: the registry, connectors, snapshots, validation, loading, gates, member submissions, the dbt
project and what is made from declarations. Stands on lgstats.core; lgstats.services runs it."""
