"""The layers of the package: core < library < XOR study < CLI; each module imports only below.

The test reads every module of tinygrad_xor with `ast` (no module is imported): plain and
`from` imports, relative ones, and those inside functions, plus `importlib.import_module`
with a literal name; imports under ``if TYPE_CHECKING:`` do not run and are not counted. A
module that imports one of a higher layer fails the test, unless the pair is one of the
commented EXCEPTIONS below; a module that is not placed in a layer fails it too, so a new
module has to be given one. Inside the core, each module imports only those before it in
CORE_ORDER, so the core reads bottom up; and no import of the package closes a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinygrad_xor"

CORE, LIBRARY, STUDY, CLI = 0, 1, 2, 3
NAMES = {CORE: "core", LIBRARY: "library", STUDY: "study", CLI: "CLI"}

#: The modules of tinygrad_xor.core, bottom up: each imports only modules before it.
CORE_ORDER = ["kernels", "checks", "mode", "value", "primitive", "ops", "operators", "backward",
              "autograd", "functional"]
CORE_PACKAGE = "tinygrad_xor.core"  # it and every module under it

#: Every module outside the core and the study, by layer. A module listed here need not exist.
LAYERS = {
    # the package's __init__ re-exports the core and the library's front; `autograd` is the
    # public path of core.autograd
    **dict.fromkeys(["", "autograd", "codegen", "codegen_elements", "compiler", "compiler_numba",
                     "nn", "losses", "optim", "train", "gradcheck", "testing", "_operations",
                     "viz"],
                    LIBRARY),
    **dict.fromkeys(["cli", "__main__"], CLI),
}
STUDY_PACKAGE = "tinygrad_xor.xor"  # it and every module under it

#: (importer, imported) pairs allowed to go upwards, each with its reason. None now: the one
#: there was (Value.draw importing viz) became viz attaching Value.draw.
EXCEPTIONS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    """The dotted name of a module file of the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int | None:
    """The layer of a module of tinygrad_xor, or None if it is in no layer."""
    if name == STUDY_PACKAGE or name.startswith(STUDY_PACKAGE + "."):
        return STUDY
    if name == CORE_PACKAGE:
        return CORE
    if name.startswith(CORE_PACKAGE + "."):
        return CORE if name.rpartition(".")[2] in CORE_ORDER else None
    if name == "tinygrad_xor":
        return LAYERS[""]
    prefix, _, rest = name.partition(".")
    if prefix != "tinygrad_xor" or "." in rest:
        return None
    return LAYERS.get(rest)


def is_module(name: str) -> bool:
    """True for a module or package of tinygrad_xor that exists, or is placed in LAYERS."""
    path = ROOT.joinpath(*name.split("."))
    listed = (name.startswith("tinygrad_xor.") and name.partition(".")[2] in LAYERS
              or name.startswith(CORE_PACKAGE + ".") and name.rpartition(".")[2] in CORE_ORDER)
    return listed or path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(source: str, name: str, *, is_package: bool) -> list[tuple[str, int]]:
    """(imported tinygrad_xor module, line) for every import in `source`, anywhere in it.

    `from X import y` counts as an import of X.y when X.y is a module (a submodule imported by
    name), else as an import of X.
    """
    package = name if is_package else name.rpartition(".")[0]
    found = []
    tree = ast.parse(source)
    unrun = {id(n) for block in ast.walk(tree) if _type_checking_only(block)
             for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in unrun:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if is_module(sub) else base, node.lineno))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) == "import_module")):
            found.append((node.args[0].value, node.lineno))
    return [(target, line) for target, line in found
            if target == "tinygrad_xor" or target.startswith("tinygrad_xor.")]


def _type_checking_only(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block (its body runs for type checkers only)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def all_imports() -> list[tuple[str, str, int]]:
    """(importer, imported, line) over every module of the package."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        for target, line in imports_of(path.read_text(encoding="utf-8"), name,
                                       is_package=path.name == "__init__.py"):
            edges.append((name, target, line))
    return edges


def test_every_module_is_in_a_layer():
    modules = [module_name(p) for p in sorted(PACKAGE.rglob("*.py"))]
    assert "tinygrad_xor.core.value" in modules and "tinygrad_xor.xor" in modules
    unplaced = [m for m in modules if layer_of(m) is None]
    assert not unplaced, f"give these modules a layer in tests/test_layers.py: {unplaced}"


def test_every_import_names_a_module_of_a_layer():
    unknown = [f"{m}:{line} imports {t}" for m, t, line in all_imports() if layer_of(t) is None]
    assert not unknown, unknown


def test_no_module_imports_one_above_it():
    upward = [f"{m} ({NAMES[layer_of(m)]}):{line} imports {t} ({NAMES[layer_of(t)]})"
              for m, t, line in all_imports()
              if layer_of(t) is not None and layer_of(m) is not None
              and layer_of(t) > layer_of(m) and (m, t) not in EXCEPTIONS]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_every_exception_is_still_needed():
    used = {(m, t) for m, t, _ in all_imports()}
    assert EXCEPTIONS <= used, f"no longer needed, remove them: {sorted(EXCEPTIONS - used)}"


def test_the_library_and_the_core_never_import_the_study():
    below = [f"{m}:{line} imports {t}" for m, t, line in all_imports()
             if layer_of(m) in (CORE, LIBRARY) and layer_of(t) == STUDY]
    assert not below, below


@pytest.mark.parametrize("source, name, is_package, expected", [
    ("from ..viz import draw_graph", "tinygrad_xor.core.value", False, ["tinygrad_xor.viz"]),
    ("def f():\n    from .. import nn\n", "tinygrad_xor.core.ops", False, ["tinygrad_xor.nn"]),
    ("from .value import Value", "tinygrad_xor.core.ops", False, ["tinygrad_xor.core.value"]),
    ("from . import ops as _ops", "tinygrad_xor.core.operators", False,
     ["tinygrad_xor.core.ops"]),
    ("if TYPE_CHECKING:\n    from .primitive import Primitive\n", "tinygrad_xor.core.value",
     False, []),
    ("from .core.value import Value", "tinygrad_xor", True, ["tinygrad_xor.core.value"]),
    ("from .. import losses, nn", "tinygrad_xor.xor.recipes", False,
     ["tinygrad_xor.losses", "tinygrad_xor.nn"]),
    ("from . import X, Y", "tinygrad_xor.xor.sweep", False, ["tinygrad_xor.xor"] * 2),
    ("from ..nn import MLP", "tinygrad_xor.xor", True, ["tinygrad_xor.nn"]),
    ("from .recipes import RECIPES", "tinygrad_xor.xor", True, ["tinygrad_xor.xor.recipes"]),
    ("import tinygrad_xor.viz as v\nimport numpy", "tinygrad_xor.nn", False,
     ["tinygrad_xor.viz"]),
    ("importlib.import_module('tinygrad_xor.xor.demo')", "tinygrad_xor.cli", False,
     ["tinygrad_xor.xor.demo"]),
])
def test_the_reader_finds_every_kind_of_import(source, name, is_package, expected):
    assert [t for t, _ in imports_of(source, name, is_package=is_package)] == expected


def test_an_upward_import_is_caught():
    # the check itself: a library module importing the study, and the core importing the CLI
    assert layer_of("tinygrad_xor.xor.blog") > layer_of("tinygrad_xor.viz")
    assert layer_of("tinygrad_xor.cli") > layer_of("tinygrad_xor.core.ops")
    assert layer_of("tinygrad_xor.new_module") is None
    assert layer_of("tinygrad_xor.core.new_module") is None


def test_the_core_reads_bottom_up():
    """Each core module imports only core modules before it in CORE_ORDER (so none imports
    one above it, and the core has no circle), and nothing outside the core."""
    rank = {f"{CORE_PACKAGE}.{name}": i for i, name in enumerate(CORE_ORDER)}
    bad = []
    for m, t, line in all_imports():
        if m in rank and (t not in rank or rank[t] >= rank[m]):
            bad.append(f"{m}:{line} imports {t}")
    assert not bad, "core imports out of order:\n" + "\n".join(bad)
    modules = {module_name(p) for p in (PACKAGE / "core").glob("*.py")} - {CORE_PACKAGE}
    assert modules == set(rank), f"CORE_ORDER and tinygrad_xor/core/ differ: {modules ^ set(rank)}"


def circles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """The import circles of a graph of (importer, imported) edges: one path per circle found
    by a depth-first walk (empty when the graph has none)."""
    graph: dict[str, list[str]] = {}
    for m, t in edges:
        graph.setdefault(m, []).append(t)
    state: dict[str, int] = {}  # 1: on the path, 2: done
    found = []
    for start in sorted(graph):
        stack = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = state.get(start) or 1
        if state[start] == 2:
            continue
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, iter(graph.get(nxt, ()))))
                path.append(nxt)
    return found


def test_no_import_closes_a_circle():
    # an import of a module's own package (``from . import X`` in a package's __init__) is
    # the package importing its part, not a circle
    edges = [(m, t) for m, t, _ in all_imports() if m != t and not m.startswith(t + ".")]
    assert not circles(edges), f"import circles: {circles(edges)}"


def test_the_circle_check_finds_a_circle():
    assert circles([("a", "b"), ("b", "c"), ("c", "a")]) == [["a", "b", "c", "a"]]
    assert circles([("a", "b"), ("b", "c"), ("a", "c")]) == []


def test_every_module_reads_in_one_sitting():
    """No module of the package over 600 lines: one over it is split by job."""
    long = {module_name(p): n for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, f"modules over 600 lines, split them: {long}"
