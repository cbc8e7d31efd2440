"""The documentation site builds without a warning, and its API reference documents every public
class of the modules the provider declares (``get_provider_info``) and of the testing entry points.

The build runs ``sphinx-build -W --keep-going`` in a temporary folder, as ``make docs`` does; the
objects it documented are read from the built ``objects.inv``, not from a hand list.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from airflow_s3_batch_tagging.get_provider_info import get_provider_info
from tests.docs.docs_site import DOCS, ROOT, read_inventory

pytest.importorskip("sphinx", reason="sphinx is not installed: `make install` installs the docs extra")
pytest.importorskip(
    "myst_parser", reason="myst-parser is not installed: `make install` installs the docs extra"
)
pytest.importorskip("furo", reason="furo is not installed: `make install` installs the docs extra")

TESTING_PACKAGE = "airflow_s3_batch_tagging.testing"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("docs-html")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path_factory.mktemp("docs-airflow-home"))}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    return {"out": out, "returncode": result.returncode, "stderr": result.stderr}


def test_sphinx_build_has_no_warnings(built_site: dict[str, Any]) -> None:
    warnings = [line for line in built_site["stderr"].splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == [], built_site["stderr"][-5000:]
    assert built_site["returncode"] == 0, built_site["stderr"][-5000:]


def _provider_modules() -> list[str]:
    info = get_provider_info()
    modules = []
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            modules.extend(entry["python-modules"])
    return modules


def _public_classes(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    return {
        f"{module_name}.{name}"
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module_name and not name.startswith("_")
    }


def _task_decorated(module_name: str) -> set[str]:
    """TaskFlow tasks the module defines (``@task`` objects keep the function in ``.function``)."""
    module = importlib.import_module(module_name)
    return {
        f"{module_name}.{name}"
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(getattr(value, "function", None))
        and value.function.__module__ == module_name
    }


def _pytest_fixtures() -> set[str]:
    (plugin,) = [
        ep for ep in entry_points(group="pytest11") if ep.value.startswith("airflow_s3_batch_tagging")
    ]
    module = importlib.import_module(plugin.value)
    # pytest 8.4+ wraps a fixture in a FixtureFunctionDefinition; older ones mark the function.
    return {
        f"{plugin.value}.{name}"
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (hasattr(value, "_fixture_function_marker") or hasattr(value, "_pytestfixturefunction"))
    }


def expected_objects() -> dict[str, set[str]]:
    classes: set[str] = set()
    functions: set[str] = set()
    for module in _provider_modules():
        classes |= _public_classes(module)
        functions |= _task_decorated(module)
    classes.update(get_provider_info()["extra-links"])
    testing = importlib.import_module(TESTING_PACKAGE)
    classes.update(f"{TESTING_PACKAGE}.{name}" for name in testing.__all__)
    functions |= _pytest_fixtures()
    return {"py:class": classes, "py:function": functions}


def test_the_expected_objects_are_found() -> None:
    """The discovery below is not empty or partial: it finds what the package is known to export."""
    expected = expected_objects()
    assert (
        "airflow_s3_batch_tagging.operators.s3_object_tagging.S3PutObjectTaggingOperator"
        in expected["py:class"]
    )
    assert "airflow_s3_batch_tagging.triggers.s3_batch_operations.S3BatchJobTrigger" in expected["py:class"]
    assert "airflow_s3_batch_tagging.testing.LocalAWS" in expected["py:class"]
    assert (
        "airflow_s3_batch_tagging.operators.s3_object_tagging.plan_tagging_batches" in expected["py:function"]
    )
    assert "airflow_s3_batch_tagging.testing.pytest_plugin.aws_faults" in expected["py:function"]
    assert len(expected["py:class"]) >= 12


def test_every_public_class_is_in_the_api_reference(built_site: dict[str, Any]) -> None:
    inventory = read_inventory(built_site["out"] / "objects.inv")
    for role, names in expected_objects().items():
        missing = sorted(names - inventory.get(role, set()))
        assert missing == [], f"not in the API reference ({role}): {missing}"


def test_how_to_guides_are_pages_of_the_site(built_site: dict[str, Any]) -> None:
    inventory = read_inventory(built_site["out"] / "objects.inv")
    (integration,) = get_provider_info()["integrations"]
    guides = integration["how-to-guide"]
    assert guides
    for guide in guides:
        assert guide.startswith("/docs/"), guide
        assert (ROOT / guide.lstrip("/")).is_file(), guide
        page = Path(guide).relative_to("/docs").with_suffix("").as_posix()
        assert page in inventory["std:doc"], f"{guide} is not in the built site (toctree?)"


def test_every_page_is_in_the_toctree(built_site: dict[str, Any]) -> None:
    inventory = read_inventory(built_site["out"] / "objects.inv")
    pages = {path.stem for path in DOCS.glob("*.md")}
    assert pages <= inventory["std:doc"]
    # Sphinx warns about a page outside every toctree, and -W makes that fail the build.
    assert "index" in inventory["std:doc"]
