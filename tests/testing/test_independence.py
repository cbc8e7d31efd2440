"""The stand-in is the oracle the product is tested against: it never imports the product's code.

If it reused the product's readers, writers or validators it could only ever agree with them. These
tests read every module of ``airflow_s3_batch_tagging.testing`` and import the package in a fresh
interpreter, so the rule cannot regress silently.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import airflow_s3_batch_tagging.testing as stand_in

PACKAGE = "airflow_s3_batch_tagging"
STAND_IN = f"{PACKAGE}.testing"
MODULES = sorted(Path(stand_in.__file__).parent.glob("*.py"))


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:  # relative: resolve against the stand-in package
                base = STAND_IN.split(".")[: len(STAND_IN.split(".")) - (node.level - 1)]
                names.append(".".join([*base, node.module] if node.module else base))
    return names


def test_the_stand_in_has_modules_to_check() -> None:
    expected = {"jobs.py", "runner.py", "s3control_emulator.py", "formats.py", "rules.py"}
    assert {path.name for path in MODULES} >= expected


def test_no_stand_in_module_imports_product_code() -> None:
    offenders = {
        path.name: [
            name
            for name in _imported_modules(path)
            if name == PACKAGE
            or (name.startswith(f"{PACKAGE}.") and not name.startswith(f"{STAND_IN}.") and name != STAND_IN)
        ]
        for path in MODULES
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_stand_in_module_names_a_product_module_in_text() -> None:
    # Catches importlib.import_module("airflow_s3_batch_tagging.manifest") and the like.
    for path in MODULES:
        text = path.read_text()
        mentions = [line for line in text.splitlines() if f"{PACKAGE}." in line and f"{STAND_IN}" not in line]
        assert mentions == [], f"{path.name} names product code: {mentions}"


def test_importing_the_stand_in_loads_no_product_module() -> None:
    code = (
        "import sys, airflow_s3_batch_tagging.testing, airflow_s3_batch_tagging.testing.pytest_plugin\n"
        f"print(sorted(m for m in sys.modules if m.startswith('{PACKAGE}.')"
        f" and not m.startswith('{STAND_IN}')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
