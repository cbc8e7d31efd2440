"""What tests do differently on Airflow 2.11 and 3.x: load a DagBag, run a DAG, read a console link.

Imported by test modules and inside fixtures only: ``tests/conftest.py`` sets ``AIRFLOW_HOME`` before
Airflow is first imported.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

needs_runs_without_logical_date = pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS, reason="Airflow 2 gives every run a logical date; runs without one are 3.x only"
)


def dagbag(dag_folder: str, **kwargs: Any) -> Any:
    """A ``DagBag`` of ``dag_folder`` (``airflow.dag_processing.dagbag`` on 3.x, ``models`` on 2.x)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=dag_folder, **kwargs)


def run_dag(dag: Any, **kwargs: Any) -> Any:
    """``dag.test()`` on either Airflow; needs a migrated metadata DB (the ``airflow_db`` fixture).

    Airflow 3 runs only DAGs it finds serialized in a bundle, and a DAG defined inside a test is in
    none, so it is synced into the ``dags-folder`` bundle first. Airflow 2 runs the DAG object as it
    is, and calls the logical date ``execution_date``. Without ``logical_date`` each version picks
    its own default.
    """
    if not AIRFLOW_V_3_0_PLUS:
        # A second run of the same date replaces the first, and deleting a DagRun cascades into
        # dag_run_note, whose user_id refers to the FAB auth manager's ab_user table: a table the ORM
        # knows only once the FAB models are imported (the FAB auth manager does so when it loads).
        import airflow.providers.fab.auth_manager.models  # noqa: F401
        from airflow.exceptions import AirflowTaskTimeout
        from airflow.models.dagrun import DagRun

        if "logical_date" in kwargs:
            kwargs["execution_date"] = kwargs.pop("logical_date")
        try:
            return dag.test(**kwargs)
        except AirflowTaskTimeout:
            # Airflow 2's AirflowTaskTimeout is a BaseException: dag.test() marks the task instance
            # failed (as a worker would), then lets it through instead of finishing the run.
            return max(DagRun.find(dag_id=dag.dag_id), key=lambda run: run.execution_date)
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = dagbag(os.devnull, collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(**kwargs)


def console_link(run: Any, task: Any, link: Any) -> Any:
    """The URL the UI shows for ``link`` on ``task`` in ``run``.

    Airflow 3's task runner calls ``get_link`` when the task ends and stores the URL in XCom, where
    the API server reads it; Airflow 2's webserver calls ``get_link`` itself, which reads what the
    operator persisted.
    """
    ti = run.get_task_instance(task.task_id)
    if AIRFLOW_V_3_0_PLUS:
        return ti.xcom_pull(task_ids=task.task_id, key=link.xcom_key)
    return link.get_link(operator=task, ti_key=ti.key)
