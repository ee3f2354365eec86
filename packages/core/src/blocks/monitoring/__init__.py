"""Blocks' ``blocks.monitoring``: aggregation and evaluators live in the ``blocks-extensions`` plugin.

``from blocks.monitoring import aggregation`` gives :mod:`blocks.monitoring.aggregation`,
whose names are found through the plugin registries (:mod:`blocks.compat`).
"""
