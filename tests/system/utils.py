"""The system test's harness, in the shapes of the Amazon provider's system tests
(``providers/amazon/tests/system/amazon/aws/utils`` and ``tests_common.test_utils``), which are not
installed here: an environment id per run, a context task that hands it to the DAG, the ``watcher``
that fails the run when any task failed, and ``get_test_run`` that turns the DAG into a pytest test.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from airflow.exceptions import AirflowException
from airflow.providers.common.compat.sdk import TriggerRule, task

from tests.system.target import system_test_target

if TYPE_CHECKING:
    from collections.abc import Callable

ENV_ID_ENVIRON_KEY = "SYSTEM_TESTS_ENV_ID"
ENV_ID_KEY = "ENV_ID"
TARGET_KEY = "TARGET"
AWS_CONN_ID = "aws_default"
DEFAULT_ENV_ID = f"env{uuid4().hex[:8]}"

log = logging.getLogger(__name__)


def set_env_id() -> str:
    """The run's environment id: ``SYSTEM_TESTS_ENV_ID`` when set, else a fresh ``env`` + 8 hex digits.

    It goes into every resource name (buckets, role, job description), so parallel runs never share
    one and teardown finds exactly what its run created. Lowercase letters and digits only, starting
    with a letter: bucket names allow nothing else.
    """
    env_id = os.environ.get(ENV_ID_ENVIRON_KEY) or DEFAULT_ENV_ID
    if not (env_id.isascii() and env_id.isalnum() and env_id[0].isalpha()):
        raise ValueError(
            f"Invalid {ENV_ID_ENVIRON_KEY}={env_id!r}: use letters and digits, starting with a letter."
        )
    env_id = env_id.lower()
    os.environ[ENV_ID_ENVIRON_KEY] = env_id
    return env_id


class SystemTestContextBuilder:
    """Builds the DAG's first task, which pushes the environment id and the target to XCom."""

    def __init__(self) -> None:
        self.env_id = set_env_id()

    def build(self) -> Callable[..., Any]:
        env_id = self.env_id

        @task
        def variable_fetcher(**context: Any) -> None:
            target = system_test_target()
            if target is None:
                raise AirflowException("The system test was not requested (see tests/system/target.py).")
            log.info("System test environment id %s, target %s", env_id, target)
            context["ti"].xcom_push(key=ENV_ID_KEY, value=env_id)
            context["ti"].xcom_push(key=TARGET_KEY, value=target)

        return variable_fetcher


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def watcher() -> None:
    """Fail the run when any task failed: teardown tasks run ALL_DONE and would otherwise hide it."""
    raise AirflowException("Failing task because one or more upstream tasks failed.")


def aws_client(service_name: str) -> Any:
    """A plain boto3 client from the ``aws_default`` connection (real account or stand-in alike)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type=service_name).get_conn()


def get_test_run(dag: Any, **test_kwargs: Any) -> Callable[..., None]:
    """Return a pytest test that runs ``dag`` with ``dag.test()`` and asserts the run succeeded.

    ``system_test_aws`` (tests/system/conftest.py) skips it unless a target is set and, for the
    stand-in, starts it and points ``aws_default`` at it; ``run_dag`` (tests/conftest.py) makes the
    DAG known to the metadata database first.
    """

    @pytest.mark.system
    def test_run(system_test_aws: str, run_dag: Callable[..., Any]) -> None:
        dag_run = run_dag(dag, **test_kwargs)
        states = sorted((ti.task_id, ti.map_index, str(ti.state)) for ti in dag_run.get_task_instances())
        summary = "\n".join(
            f"  {task_id}{f'[{index}]' if index >= 0 else ''}: {state}" for task_id, index, state in states
        )
        log.info("System test on %s, execution summary:\n%s", system_test_aws, summary)
        assert dag_run.state == "success", (
            f"The system test failed on {system_test_aws}; task states:\n{summary}\n"
            "See the failed tasks' logs above for the cause."
        )

    return test_run
