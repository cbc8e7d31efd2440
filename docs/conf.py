"""Sphinx configuration of the documentation site: MyST Markdown pages, autodoc for the API reference.

Build with ``make docs`` (``sphinx-build -W --keep-going``: any warning fails the build).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# autodoc imports Airflow; without an AIRFLOW_HOME of its own that would create ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="s3bt-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_s3_batch_tagging import __version__  # noqa: E402

project = "airflow-s3-batch-tagging"
author = "airflow-s3-batch-tagging developers"
copyright = "the airflow-s3-batch-tagging developers"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Anchors for headings down to ###, so pages can link to a section: [text](batch-path.md#iam).
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Docstrings are Sphinx style (":param x:"); napoleon only reads the few Google-style sections.
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"airflow-s3-batch-tagging {__version__}"

PACKAGE = "airflow_s3_batch_tagging"
BOTO3_DOCS = "https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services"
# The Amazon provider's docstrings name boto3 calls as :external+boto3:py:meth:`S3.Client.x`, which it
# resolves through intersphinx and boto3's inventory. This site builds offline: a client method
# becomes a plain link to its boto3 page, anything else plain code.
BOTO3_ROLE = re.compile(r":external\+boto3:py:\w+:`(?:[^`<]*<)?(?P<target>[^`>]+)>?`")


def boto3_links(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Rewrite boto3 intersphinx references in a docstring before it is parsed."""

    def link(match: re.Match[str]) -> str:
        target = match["target"].strip()
        service, _, method = target.partition(".Client.")
        if method and "." not in service:
            return f"`{target} <{BOTO3_DOCS}/{service.lower()}/client/{method}.html>`__"
        return f"``{target}``"

    lines[:] = [BOTO3_ROLE.sub(link, line) for line in lines]


def full_signature(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, return_annotation: str
) -> tuple[str, str] | None:
    """Show a class's whole keyword-only signature, defaults included.

    The operators take the parameters they share from a base class of this package through
    ``**kwargs``; autodoc would show only the subclass's own few. Walk the package's classes in the
    MRO and list every keyword-only parameter once, as the code declares it.
    """
    if what != "class" or not getattr(obj, "__module__", "").startswith(PACKAGE):
        return None
    parameters: dict[str, inspect.Parameter] = {}
    for cls in obj.__mro__:
        if not cls.__module__.startswith(PACKAGE):
            break
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        own = list(inspect.signature(init).parameters.values())[1:]
        if not own or own[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            break  # the base's parameters do not reach this class through **kwargs
        for parameter in own:
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                parameters.setdefault(parameter.name, parameter.replace(annotation=inspect.Parameter.empty))
    if not parameters:
        return None
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return str(inspect.Signature([*parameters.values(), kwargs])), return_annotation


def setup(app: Sphinx) -> None:
    app.connect("autodoc-process-docstring", boto3_links)
    app.connect("autodoc-process-signature", full_signature)
