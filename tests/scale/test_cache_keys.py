"""Every ``st.cache_data`` read in the portal is keyed by the data version (so replicas see writes).

Streamlit leaves arguments whose name starts with ``_`` out of the cache key. A cached read that
takes ``_version`` is therefore keyed by nothing that changes on a write: it serves stale data
until its ttl, in this replica and in every other. Functions that read the database must take a
``version`` argument (callers pass ``ui.data.version()``); functions that are keyed otherwise by
design (a closed wave never changes) say so with a ``fingerprint``/``wave_id`` argument.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("pages/*.py"), *ROOT.glob("kpialign/ui/*.py")])


def _cache_data_functions(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            if ast.unparse(target) in {"st.cache_data", "streamlit.cache_data"}:
                found.append(node)
    return found


def _reads_database(fn: ast.FunctionDef) -> bool:
    src = ast.unparse(fn)
    return "reading()" in src or "read_session" in src or "session" in src


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cached_reads_are_keyed_by_the_data_version(path: Path) -> None:
    problems = []
    for fn in _cache_data_functions(path):
        names = [a.arg for a in fn.args.args + fn.args.kwonlyargs]
        if "_version" in names:
            problems.append(f"{fn.name}(_version): '_' arguments are not hashed; name it 'version'")
        elif _reads_database(fn) and "version" not in names and not {"fingerprint", "wave_id"} & set(names):
            problems.append(f"{fn.name}: reads the database but takes no 'version' argument")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)
