"""lgstats: a warehouse of regional local-government statistics.

The package holds everything the DAGs call: settings, the warehouse manager, the source
clients and parsers, the snapshot store, validation and loading. DAG files stay thin.
"""

__version__ = "0.1.0"
