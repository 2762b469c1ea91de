"""The repository keeps the promises its README makes: a licence that matches pyproject, links that resolve."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "bench" / "README.md"]
# Paths in backticks that name files of the repository (not runtime files such as data/... or secrets.toml).
REPO_DIRS = ("app.py", "pages/", "kpialign/", "tests/", "bench/", "scripts/", "migrations/", "LICENSE")


def _markdown_links(text: str) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t and not t.startswith("#")]


def _backticked_paths(text: str) -> list[str]:
    found = []
    for token in re.findall(r"`([^`\s]+)`", text):
        if token.startswith(REPO_DIRS) and "*" not in token and "…" not in token and "{" not in token:
            found.append(token.rstrip(".,;:"))
    return found


def _layout_paths(text: str) -> list[str]:
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line and not line.startswith(" ")]


def test_the_licence_file_is_the_apache_licence_that_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    licence = (ROOT / "LICENSE").read_text()
    assert declared == "Apache-2.0"
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_repository_path_in_the_readme_exists(readme: Path) -> None:
    text = readme.read_text()
    targets = [(readme.parent / t.split("#")[0]) for t in _markdown_links(text)]
    targets += [ROOT / p for p in _backticked_paths(text)]
    if readme.name == "README.md" and readme.parent == ROOT:
        targets += [ROOT / p for p in _layout_paths(text)]
    assert targets, "the README names no files at all"
    missing = sorted({str(t.relative_to(ROOT)) for t in targets if not t.exists()})
    assert missing == []


def test_the_readme_links_the_licence_and_the_benchmarks() -> None:
    links = _markdown_links((ROOT / "README.md").read_text())
    assert "LICENSE" in links
    assert "bench/README.md" in links
