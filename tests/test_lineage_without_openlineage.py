"""Without the OpenLineage provider (and its client), the package imports and tags as before.

The test venv has the provider (the ``openlineage`` extra is part of ``testing``), so a child
Python hides it: an import hook makes ``openlineage`` and ``airflow.providers.openlineage`` fail to
import, and their distributions (entry points, provider metadata) are left out of
``importlib.metadata``, as where they are not installed. The child imports every module of the package and
runs the direct and batch operators on the local stand-in, hook-level lineage calls included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHILD = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    from types import SimpleNamespace

    class HideOpenLineage:
        def find_spec(self, name, path=None, target=None):
            if name == "openlineage" or name.startswith(("openlineage.", "airflow.providers.openlineage")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, HideOpenLineage())

    # Nor are their distributions (entry points, provider metadata) there.
    import importlib.metadata as std_metadata
    import importlib_metadata

    def without_openlineage(distributions):
        def listed(*args, **kwargs):
            return [d for d in distributions(*args, **kwargs) if "openlineage" not in (d.name or "").lower()]
        return listed

    for module in (std_metadata, importlib_metadata):
        module.distributions = without_openlineage(module.distributions)

    import airflow_s3_batch_tagging
    modules = [
        info.name
        for info in pkgutil.walk_packages(airflow_s3_batch_tagging.__path__, "airflow_s3_batch_tagging.")
        if ".testing" not in info.name and not info.name.endswith(".crt")
    ]
    for name in modules:
        importlib.import_module(name)

    from airflow_s3_batch_tagging.lineage import S3TaggingRunFacet
    from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
    from airflow_s3_batch_tagging.operators.s3_object_tagging import S3PutObjectTaggingOperator

    bucket, role_arn = sys.argv[1], sys.argv[2]
    ti = SimpleNamespace(dag_id="d", run_id=bucket, task_id="t", map_index=-1, try_number=1, start_date=None,
                         xcom_push=lambda *a, **k: None)
    direct = S3PutObjectTaggingOperator(task_id="t", objects=[f"s3://{bucket}/a/1"], tags={"k": "v"},
                                        undo_log=f"s3://{bucket}/undo/").execute({"ti": ti})
    batch = S3BatchPutObjectTaggingOperator(task_id="t", objects=[f"s3://{bucket}/a/2"], tags={"k": "w"},
                                            role_arn=role_arn, manifest_location=f"s3://{bucket}/m/",
                                            waiter_delay=0).execute({"ti": ti})
    print(json.dumps({
        "modules": len(modules),
        "openlineage_loaded": sorted(m for m in sys.modules if "openlineage" in m),
        "facet_base": S3TaggingRunFacet.__mro__[1].__name__,
        "direct": [direct["changed"], direct["failed"]],
        "batch": [batch["status"], batch["tasks_succeeded"]],
    }))
    """
)


@pytest.mark.usefixtures("aws_default_conn")
def test_operators_run_without_the_openlineage_provider(local_aws: Any, s3_bucket: str) -> None:
    s3 = local_aws.client("s3")
    for key in ("a/1", "a/2"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, s3_bucket, local_aws.role_arn],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["openlineage_loaded"] == []
    assert outcome["facet_base"] == "object"
    assert outcome["modules"] > 20
    assert outcome["direct"] == [1, 0]
    assert outcome["batch"] == ["Complete", 1]
    tags = {key: s3.get_object_tagging(Bucket=s3_bucket, Key=key)["TagSet"] for key in ("a/1", "a/2")}
    assert tags == {"a/1": [{"Key": "k", "Value": "v"}], "a/2": [{"Key": "k", "Value": "w"}]}
