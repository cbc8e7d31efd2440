"""A real hook-lineage collector for one test, on Airflow 2.11 and 3.x.

Airflow hands out a no-op collector unless a hook lineage reader is registered (the OpenLineage
provider registers one only when a transport is configured). Tests swap in Airflow's own
``HookLineageCollector`` and read it back through the compat layer the hooks use, so they read what
was collected with the collector's own API (``collected_assets``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS


@contextmanager
def hook_lineage_collector() -> Iterator[Any]:
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.lineage import HookLineageCollector

        collector = HookLineageCollector()
        with mock.patch("airflow.sdk.lineage.get_hook_lineage_collector", return_value=collector):
            yield get_hook_lineage_collector()
        return
    from airflow.lineage import hook

    saved = hook._hook_lineage_collector
    hook._hook_lineage_collector = hook.HookLineageCollector()
    try:
        yield get_hook_lineage_collector()
    finally:
        hook._hook_lineage_collector = saved


def collected_uris(collector: Any) -> tuple[set[str], set[str]]:
    """The URIs of the assets ``collector`` holds: ``(inputs, outputs)``."""
    lineage = collector.collected_assets
    return {item.asset.uri for item in lineage.inputs}, {item.asset.uri for item in lineage.outputs}
