"""Architecture rules (issue 12): pages stay thin (item 5); service functions are keyword-only and no
module re-exports a name it imports (item 1)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGE_LINES = 180  # "about 150 lines at most": forms go to kpialign/ui/, charts to kpialign/charts.py
PAGES = sorted((ROOT / "pages").glob("*.py"))


def test_the_pages_folder_is_found():
    assert len(PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_is_longer_than_180_lines(page):
    n = len(page.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_PAGE_LINES, (
        f"{page.name} has {n} lines: move its forms and dialogs into kpialign/ui/ and its charts into "
        "kpialign/charts.py"
    )


# ----------------------------------------------------------------------------- issue 12, item 1
#
# Service functions take the session and everything else by keyword, and a name is imported from
# the module that defines it: no module hands on a name it only imports.

PACKAGE = ROOT / "kpialign"
CALLERS = [
    p
    for top in ("kpialign", "pages", "tests", "bench", "scripts", "migrations")
    for p in sorted((ROOT / top).rglob("*.py"))
    if "__pycache__" not in p.parts
] + [ROOT / "app.py"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's own statements, looking into if/try/with blocks but not into functions or classes."""
    for node in body:
        yield node
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, ast.If | ast.Try | ast.With) and block in node._fields:
                yield from _top_level(getattr(node, block))
        for handler in getattr(node, "handlers", []):
            yield from _top_level(handler.body)


@dataclass
class _Module:
    defined: set[str]
    imported: set[str]
    all_names: list[str]
    redundant_aliases: list[str]


def _read_module(path: Path) -> _Module:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = _Module(set(), set(), [], [])
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            mod.defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                mod.defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
                if isinstance(target, ast.Name) and target.id == "__all__" and isinstance(node.value, ast.List):
                    mod.all_names = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                mod.imported.add(bound)
                if alias.asname is not None and alias.asname == alias.name.rsplit(".", 1)[-1]:
                    mod.redundant_aliases.append(alias.name)
    mod.imported -= mod.defined
    return mod


MODULES = {_module_name(p): _read_module(p) for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _is_module(dotted: str) -> bool:
    return dotted in MODULES


def _reexported_uses(path: Path) -> list[str]:
    """``from m import name`` and ``m.name`` where ``m`` is a kpialign module that only imports ``name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    module_aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif alias.name in MODULES[node.module].imported:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and node.attr in MODULES[module_aliases[node.value.id]].imported
        ):
            found.append(f"{node.lineno}: {module_aliases[node.value.id]}.{node.attr}")
    return found


def test_the_package_and_its_callers_are_found():
    assert {"kpialign.services.strategy", "kpialign.scorecard.build", "kpialign.core.periods"} <= set(MODULES)
    assert len(CALLERS) > 100


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=lambda p: p.name)
def test_every_public_service_function_takes_its_arguments_by_keyword(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    positional = [
        f"{node.name}({', '.join(a.arg for a in node.args.posonlyargs + node.args.args) or '*' + node.args.vararg.arg})"
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and (node.args.posonlyargs or node.args.args or node.args.vararg)
    ]
    assert not positional, f"write these as def f(*, session, ...): {positional}"


def test_no_module_lists_an_imported_name_in_its_all():
    borrowed = {
        name: [n for n in mod.all_names if n not in mod.defined] for name, mod in MODULES.items() if mod.all_names
    }
    assert not {k: v for k, v in borrowed.items() if v}, "import these names from the module that defines them"


def test_no_module_marks_an_import_as_a_re_export():
    marked = {name: mod.redundant_aliases for name, mod in MODULES.items() if mod.redundant_aliases}
    assert not marked, "`import x as x` re-exports x: callers should import it from where it is defined"


def test_nobody_imports_a_name_from_a_module_that_only_imports_it():
    uses = {str(p.relative_to(ROOT)): found for p in CALLERS if (found := _reexported_uses(p))}
    assert not uses, f"import these names from the module that defines them: {uses}"


def test_the_re_export_check_sees_a_borrowed_name(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from kpialign.services import strategy\n"
        "from kpialign.services.strategy import Session\n"
        "x = strategy.pd.DataFrame()\n",
        encoding="utf-8",
    )
    assert _reexported_uses(caller) == [
        "2: from kpialign.services.strategy import Session",
        "3: kpialign.services.strategy.pd",
    ]
