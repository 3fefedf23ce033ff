"""The structure rules of docs/architecture.md that import-linter cannot see.

* No module reads or writes another module's private names: an attribute
  ``obj._name`` (``obj`` not ``self``/``cls``) is allowed only in the module that
  defines ``_name`` (a ``self._name`` assignment, a ``__slots__`` entry, a private
  method, class or module global of its own); ``from x import _name`` is never allowed
  across modules.  Tests are held to the same rule, with no names of their own but
  those of the helper classes they define.
* Every public module, class, function and method has a docstring.
* The import-linter contracts of pyproject.toml hold (the layers, sans-I/O protocol).

The private-name check is by name, not by type: a name defined in both modules
passes unnoticed, a false negative the reviewer catches; it never reports a
legitimate access.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fastsio"
TESTS = ROOT / "tests"
BENCHMARKS = ROOT / "benchmarks"

# private names of the standard library and of third-party objects that are their
# documented API (namedtuple methods, os._exit after fork, sys._getframe)
ALLOWED = frozenset(("_replace", "_asdict", "_fields", "_make", "_exit", "_getframe"))


def _is_private(name: str) -> bool:
    """Return whether ``name`` is private (one leading underscore, not a dunder)."""
    return name.startswith("_") and not name.startswith("__")


def defined_private_names(tree: ast.Module) -> set[str]:
    """Return the private names a module defines for itself."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _is_private(node.name):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and _is_private(node.attr):
                names.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and _is_private(target.id):
                    names.add(target.id)
                if isinstance(target, ast.Name) and target.id == "__slots__" and node.value is not None:
                    for elt in getattr(node.value, "elts", ()):
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str) and _is_private(elt.value):
                            names.add(elt.value)
    return names


def foreign_private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Return ``file:line name`` for each private name of another module that ``path`` uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = defined_private_names(tree) | ALLOWED
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fastsio"):
            for alias in node.names:
                if _is_private(alias.name) and not _is_module(node.module or "", alias.name):
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {alias.name}")
        elif isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                continue
            found.append(f"{path.relative_to(root)}:{node.lineno} uses .{node.attr}")
    return found


def _is_module(package: str, name: str) -> bool:
    """Return whether ``from package import name`` imports a module (``from fastsio import _ids``)."""
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _python_files(*folders: Path) -> list[Path]:
    """Return the tracked-looking Python files under ``folders`` (no build or node_modules output)."""
    files = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if parts & {"node_modules", "build", "results", "__pycache__"}:
                continue
            files.append(path)
    return files


def test_no_module_touches_another_modules_private_names() -> None:
    """Verify no package module uses a private name that another module defines."""
    offenders = [use for path in _python_files(PACKAGE) for use in foreign_private_uses(path)]
    assert offenders == []


def test_no_test_touches_private_state() -> None:
    """Verify the tests (and the benchmark suite) use public or test-facing names only."""
    offenders = [use for path in _python_files(TESTS, BENCHMARKS) for use in foreign_private_uses(path)]
    assert offenders == []


def test_the_checker_sees_a_foreign_private_access(tmp_path: Path) -> None:
    """Verify the checker flags ``other._x`` and ``from fastsio.x import _y``, and not ``self._x``."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from fastsio.socket import _hidden\n"
        "class A:\n"
        "    def __init__(self):\n"
        "        self._mine = 1\n"
        "    def f(self, other):\n"
        "        return self._mine + other._mine + other._theirs\n",
        encoding="utf-8",
    )
    uses = [line.split(" ", 1)[1] for line in foreign_private_uses(sample, tmp_path)]
    assert uses == ["imports _hidden", "uses ._theirs"]


def undocumented(path: Path) -> list[str]:
    """Return the public modules, classes, functions and methods of ``path`` without a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [] if ast.get_docstring(tree) else [f"{path.relative_to(ROOT)}: module"]

    def has_doc(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        if ast.get_docstring(node):
            return True
        # a class may build its docstring: ``__doc__ = ...`` in its body
        return any(
            isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__doc__" for t in n.targets)
            for n in node.body
        )

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
                continue
            setter = any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list)
            if not setter and not has_doc(node):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {prefix}{node.name}")
            if isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    """Verify every public module, class, function and method of the package has a docstring."""
    assert [name for path in _python_files(PACKAGE) for name in undocumented(path)] == []


def test_import_linter_contracts_hold() -> None:
    """Verify the import-linter contracts of pyproject.toml (layers, sans-I/O protocol) are kept."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is not installed (it is in the test extra)")
    proc = subprocess.run([exe, str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_test_module_names_are_unique() -> None:
    """Verify no two test (or helper) modules share a basename: the test directories
    are not packages, so pytest imports each module by its basename, and a second one
    of the same name stops the whole collection ("import file mismatch")."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(tests.rglob("*.py")):
        if "node_modules" in path.parts or path.name in ("__init__.py", "conftest.py"):
            continue
        if path.name in seen:
            clashes.append((seen[path.name].relative_to(tests), path.relative_to(tests)))
        seen.setdefault(path.name, path)
    assert not clashes, clashes
