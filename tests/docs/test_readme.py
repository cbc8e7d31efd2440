"""The README: short, its one DAG snippet the example DAG's code between markers, its links alive."""

from __future__ import annotations

import re

from tests.docs.docs_site import ROOT, between_markers

README = ROOT / "README.md"
QUICK_START = ROOT / "dags_examples" / "example_s3_direct_tagging_mapped.py"


def _quick_start_block() -> str:
    section = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_is_under_200_lines() -> None:
    assert len(README.read_text().splitlines()) < 200


def test_readme_quick_start_is_the_example_code_between_markers() -> None:
    """README is plain GitHub Markdown and cannot include files: the snippet is checked instead."""
    assert _quick_start_block() == between_markers(QUICK_START, "quick_start")


def test_readme_has_exactly_one_python_snippet() -> None:
    assert README.read_text().count("```python") == 1


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []


def test_readme_names_the_commands_and_tested_versions() -> None:
    text = README.read_text()
    for needle in ("make demo", "make test", "make test-airflow2", "3.3.2", "2.11.2", "[testing]", "awscrt"):
        assert needle in text, needle
