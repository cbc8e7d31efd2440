"""Helpers of the documentation tests: the docs folder, its pages and their ``literalinclude`` blocks."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKER = re.compile(r"#\s*\[(START|END)\s+([\w.-]+)\]")
LITERALINCLUDE = re.compile(r"^(`{3,}|:{3,})\{literalinclude\}\s+(\S+)\s*\n(.*?)^\1\s*$", re.M | re.S)
OPTION = re.compile(r"^:([\w-]+):\s*(.*?)\s*$", re.M)


@dataclass(frozen=True)
class Include:
    """One ``literalinclude`` of a docs page."""

    page: Path
    target: Path
    options: dict[str, str]


def pages() -> list[Path]:
    """Every MyST page of the site (not the changelog fragments the lead folds in)."""
    return sorted(path for path in DOCS.glob("*.md"))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def literalincludes(page: Path) -> list[Include]:
    found = []
    for match in LITERALINCLUDE.finditer(page.read_text()):
        options = {name: _unquote(value) for name, value in OPTION.findall(match[3])}
        found.append(Include(page, (page.parent / match[2]).resolve(), options))
    return found


def markers(path: Path) -> list[tuple[str, str, int]]:
    """``(START|END, name, line number)`` of every ``# [START name]`` / ``# [END name]`` comment."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            found.append((match[1], match[2], number))
    return found


def between_markers(path: Path, name: str) -> str:
    """The text between ``[START name]`` and ``[END name]``, as literalinclude cuts it."""
    text = path.read_text()
    start = text.index(f"[START {name}]")
    start = text.index("\n", start) + 1
    end = text.rindex("\n", 0, text.index(f"[END {name}]")) + 1
    return text[start:end]


def read_inventory(path: Path) -> dict[str, set[str]]:
    """Sphinx's ``objects.inv`` (version 2) read directly: role -> object names."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):  # "# Sphinx inventory version 2", project, version, compression note
        header_end = raw.index(b"\n", header_end) + 1
    assert raw.startswith(b"# Sphinx inventory version 2"), raw[:40]
    entries: dict[str, set[str]] = {}
    line = re.compile(r"(?x)(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)")
    for text in zlib.decompress(raw[header_end:]).decode().splitlines():
        match = line.match(text.rstrip())
        if match:
            entries.setdefault(match[2], set()).add(match[1])
    return entries
