"""Code in the docs pages comes from files that run (the example DAGs, tested examples) by markers:
every marker is paired, and every marker a page names exists in the file it names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.docs.docs_site import DOCS, ROOT, literalincludes, markers, pages

EXAMPLES = ROOT / "dags_examples"


def _marked_files() -> list[Path]:
    """The example DAGs, and every file a page includes code from."""
    files = set(EXAMPLES.glob("*.py"))
    files.update(include.target for page in pages() for include in literalincludes(page))
    return sorted(path for path in files if path.suffix == ".py")


def test_the_docs_include_code_from_files_that_run() -> None:
    includes = [include for page in pages() for include in literalincludes(page)]
    python = [include for include in includes if include.target.suffix == ".py"]
    assert len(python) >= 10, "the pages lost their literalincludes"
    for include in python:
        assert include.target.is_relative_to(EXAMPLES) or include.target.is_relative_to(ROOT / "tests"), (
            include.page.name,
            include.target,
        )


@pytest.mark.parametrize("path", _marked_files(), ids=lambda path: path.name)
def test_every_start_marker_has_exactly_one_end_after_it(path: Path) -> None:
    found = markers(path)
    starts = Counter(name for kind, name, _ in found if kind == "START")
    ends = Counter(name for kind, name, _ in found if kind == "END")
    assert starts == ends, f"{path.name}: START {dict(starts)} but END {dict(ends)}"
    assert all(count == 1 for count in starts.values()), f"{path.name}: a marker is used twice: {starts}"
    lines = {(kind, name): number for kind, name, number in found}
    for name in starts:
        assert lines[("START", name)] < lines[("END", name)], f"{path.name}: [END {name}] before its START"


def test_every_literalinclude_names_an_existing_file_and_markers() -> None:
    problems = []
    for page in pages():
        for include in literalincludes(page):
            where = f"{page.name} -> {include.target.relative_to(ROOT)}"
            if not include.target.is_file():
                problems.append(f"{where}: no such file")
                continue
            text = include.target.read_text()
            for option in ("start-after", "end-before"):
                value = include.options.get(option)
                if value is not None and text.count(value) != 1:
                    problems.append(f"{where}: {option} {value!r} found {text.count(value)} times")
            if include.target.suffix == ".py":
                assert {"start-after", "end-before"} <= include.options.keys(), f"{where}: not cut by markers"
    assert problems == []


def test_a_renamed_marker_is_caught(tmp_path: Path) -> None:
    """The check above can disagree: a page naming a marker its file lost is reported."""
    (tmp_path / "code.py").write_text("# [START renamed]\nx = 1\n# [END renamed]\n")
    page = tmp_path / "page.md"
    page.write_text(
        '```{literalinclude} code.py\n:language: python\n:start-after: "[START old]"\n'
        ':end-before: "[END old]"\n```\n'
    )
    (include,) = literalincludes(page)
    assert include.options == {"language": "python", "start-after": "[START old]", "end-before": "[END old]"}
    assert include.options["start-after"] not in include.target.read_text()


def test_docs_folder_has_the_pages_the_issue_asks_for() -> None:
    names = {page.stem for page in pages()}
    assert {
        "direct-path",
        "batch-path",
        "choosing-a-path",
        "testing",
        "reliability",
        "changelog",
        "api",
    } <= names
    for page in pages():
        first = page.read_text().lstrip().splitlines()[0]
        assert first.startswith("# "), f"{page.name} does not start with a # Title"
    assert (DOCS / "conf.py").is_file()
