"""Stale references: every file, module, object and section that the code and docs name exists.

Docstrings and docs outlive the files they point to (a module split in two, a test moved into a
subfolder, a design note that never was in this repository). This lint reads every Python file of
the package, the benchmarks, the tests and the scripts, the README and the docs, and checks:

- a path with a folder (``core/acquire/step.py``, ``docs/engines.md``) whose first folder is one
  of this repository's exists, relative to the repository, the package, ``alges_napari/core`` or
  the naming file's folder; paths in other trees (``semseg/1_75.png``, ``OUT/results.csv``,
  napari's own sources) are examples of data or of someone else's code and are not checked;
- a bare Python file name (``strategies.py``) is the name of a file in the repository, or one
  of :data:`ELSEWHERE` (files that are not ours, each with the reason);
- a dotted name under ``alges_napari.`` imports and resolves attribute by attribute;
- a section named as ``<file>.md, "Title"`` or linked as ``<file>.md#anchor`` is a heading
  there;
- the design note that lives outside this repository is never named: a reader of the repository
  cannot open it (docs/method.md holds what the code relies on).
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_NOTE = "DESIGN" + ".md"  # spelt apart so that this file does not name it itself

#: Python files named in the docs that are not this repository's, and why.
ELSEWHERE = {
    "rank_on_slurm.py": "a user's own job script in the SLURM example",
}

SUFFIXES = "py|md|yaml|toml|sh|txt|csv|jsonl|json|png"
PATH = re.compile(rf"(?<![\w./-])((?:[\w.-]+/)+[\w.-]+\.(?:{SUFFIXES}))(?![\w/])")
BARE_PY = re.compile(r"(?<![\w./-])([A-Za-z_]\w*\.py)(?![\w/])")
DOTTED = re.compile(r"(?<![\w.])(alges_napari(?:\.\w+)+)")
SECTION = re.compile(r"([\w./-]+\.md), \"([^\"]+)\"")
ANCHOR = re.compile(r"\]\(([\w./-]*\.md)#([\w-]+)\)")


def _sources() -> list[Path]:
    files = [p for d in ("alges_napari", "benchmarks", "tests", "scripts")
             for p in sorted((ROOT / d).rglob("*.py"))]
    files += [ROOT / "README.md", ROOT / "napari.yaml", ROOT / "pyproject.toml"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def _repo_names() -> tuple[set[str], set[str]]:
    """(first-level folder names worth checking, every file name in the repository)."""
    skip = {".git", ".venv", "__pycache__", ".ci", "node_modules"}
    folders, names = set(), set()
    for _, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        folders.update(dirs)
        names.update(files)
    return folders, names


def _slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _headings(md: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in md.read_text().splitlines()
            if line.startswith("#")]


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def _stale(path: Path, folders: set[str], names: set[str], text: str | None = None) -> list[str]:
    """What ``path`` (or ``text``, read as if it were ``path``) names that does not exist."""
    found = []
    where = path.relative_to(ROOT)
    for n, line in enumerate((path.read_text() if text is None else text).splitlines(), 1):
        at = f"{where}:{n}"
        if OUTSIDE_NOTE in line:
            found.append(f"{at}: names {OUTSIDE_NOTE}, which is not in this repository")
        for m in PATH.finditer(line):
            ref = m.group(1)
            if ref.split("/")[0] not in folders or "://" in line[max(0, m.start() - 8):m.start()]:
                continue
            bases = (ROOT, ROOT / "alges_napari", ROOT / "alges_napari" / "core", path.parent)
            if not any((b / ref).exists() for b in bases):
                found.append(f"{at}: {ref} does not exist")
        for m in BARE_PY.finditer(line):
            ref = m.group(1)
            if ref not in names and ref not in ELSEWHERE:
                found.append(f"{at}: no file {ref} in the repository")
        for m in DOTTED.finditer(line):
            ref = m.group(1)
            if not _resolves(ref):
                found.append(f"{at}: {ref} does not resolve")
        for m in SECTION.finditer(line):
            md, title = m.groups()
            target = next((b / md for b in (ROOT, path.parent) if (b / md).is_file()), None)
            if target is not None and title not in _headings(target):
                found.append(f"{at}: {md} has no section {title!r}")
        for m in ANCHOR.finditer(line):
            md, anchor = m.groups()
            target = (path.parent / md) if md else path
            if target.is_file() and anchor not in {_slug(h) for h in _headings(target)}:
                found.append(f"{at}: {md or where.name}#{anchor} is no heading there")
    return found


def test_every_named_file_module_and_section_exists() -> None:
    folders, names = _repo_names()
    folders -= {"data", "labels", "images", "masks"}  # also the folders of users' data trees
    here = Path(__file__).resolve()  # its own examples of stale references are meant
    stale = [s for f in _sources() if f != here for s in _stale(f, folders, names)]
    assert not stale, "stale references:\n" + "\n".join(stale)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("see ``core/acquire/nowhere.py``", "core/acquire/nowhere.py does not exist"),
        ("the strategies (``select_old.py``)", "no file select_old.py"),
        (":func:`alges_napari.core.acquire.step.no_such_function`", "does not resolve"),
        ('(docs/method.md, "No such section")', "has no section 'No such section'"),
        ("[x](method.md#no-such-anchor)", "#no-such-anchor is no heading"),
        ("as " + OUTSIDE_NOTE + " section 3 says", "not in this repository"),
    ],
)
def test_the_lint_catches_each_kind(line, expected) -> None:
    folders, names = _repo_names()
    found = _stale(ROOT / "docs" / "probe.md", folders, names, text=line)
    assert any(expected in s for s in found), found


def test_what_exists_passes() -> None:
    folders, names = _repo_names()
    text = ("``core/acquire/step.py``, docs/engines.md, ``strategies.py``, rank_on_slurm.py, "
            ":class:`~alges_napari.core.acquire.strategies.Strategy`, "
            '(docs/method.md, "Data facts"), [m](method.md#data-facts), semseg/1_75.png, '
            "OUT/results.csv, https://example.org/tests/nowhere.py")
    assert _stale(ROOT / "docs" / "probe.md", folders, names, text=text) == []
