"""The benchmark app, once per implementation, each started as its own process with ``--port``."""
