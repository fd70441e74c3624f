"""Development data: the builders of the real replay folders and the labelled synthetic data of the benchmarks.
Stands on lgstats.pipeline and lgstats.core; nothing of the product imports it."""
