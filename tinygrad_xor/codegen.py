"""The code a traced graph becomes: the numpy backend, and what every backend shares.

`generate_numpy` writes the numpy backend: one line per operation, the eager engine's own
NumPy functions in the same order. A `Writer` holds a generated function's names and
namespace, a `Program` one traced signature's source and the functions made from it. The
python, vector and numba backends write one line per element (``codegen_elements.py``,
``compiler_numba.py``); the trace and the compiled function that runs these programs are in
``compiler.py``. Imports the core only.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

import numpy as np

from .core.primitive import Primitive
from .core.value import Value, walk

__all__ = ["Program", "Writer", "generate_numpy"]


def unflatten(tree: Any, leaves: Any) -> Any:
    it = iter(leaves)

    def build(t: Any) -> Any:
        if t is None:
            return next(it)
        if t[0] is dict:
            return {k: build(s) for k, s in zip(t[1], t[2])}
        return t[0](build(s) for s in t[1])

    return build(tree)


def unflattener(tree: Any) -> Callable[[Any], Any]:
    """``lambda leaves: unflatten(tree, leaves)``, written out for a tree of plain tuples and
    lists (a compiled function's results, rebuilt at every call): ``(v[0], [v[1], v[2]])``."""
    count = 0

    def expr(t: Any) -> str | None:
        nonlocal count
        if t is None:
            count += 1
            return f"v[{count - 1}]"
        if t[0] not in (tuple, list):
            return None
        parts = [expr(s) for s in t[1]]
        if any(p is None for p in parts):
            return None
        inner = ", ".join(parts)  # type: ignore[arg-type]
        return f"[{inner}]" if t[0] is list else f"({inner}{',' if len(parts) == 1 else ''})"

    text = expr(tree)
    if text is None:  # a dict or another kind of sequence: the general way
        return lambda leaves: unflatten(tree, leaves)
    return eval(f"lambda v: {text}")  # type: ignore[no-any-return]  # noqa: S307


# -- code generation -----------------------------------------------------------------------------


def _norm(out: Any) -> Any:
    """A forward's result as the engine keeps it (see engine._node): a float or a float array."""
    if type(out) is float:
        return out
    out = np.asarray(out)
    if out.ndim == 0:
        return float(out)
    return out if out.dtype.kind == "f" else out.astype(np.float64)


INFIX = {"add": "+", "sub": "-", "mul": "*"}
#: Identities: a transform's link to its argument, a node that passes no gradient. Their
#: results are never written in place, so the operand's name stands for them.
_ALIASES = ("argument", "stop_gradient")


def stem_of(label: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label).strip("_")


class Writer:
    """The generated function's text and the names it uses."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_norm": _norm, "np": np}
        self.lines: list[str] = []
        self.ids: dict[int, str] = {}  # id(object in namespace) -> name
        self.counts: dict[str, int] = {}

    def fresh(self, stem: str) -> str:
        if not stem.isidentifier() or keyword.iskeyword(stem):
            stem = "".join(c if c.isalnum() or c == "_" else "_" for c in stem) or "v"
            if keyword.iskeyword(stem) or stem[0].isdigit():
                stem = "_" + stem
        n = self.counts.get(stem, 0)
        self.counts[stem] = n + 1
        return f"{stem}_{n}" if stem[-1].isdigit() else f"{stem}{n}"

    def bind(self, obj: Any, stem: str) -> str:
        """A name in the namespace for ``obj`` (a function, a constant), one per object."""
        name = self.ids.get(id(obj))
        if name is None:
            name = stem if stem not in self.namespace and stem not in ("const", "c") and \
                stem.isidentifier() and not keyword.iskeyword(stem) else self.fresh(stem)
            self.namespace[name] = obj
            self.ids[id(obj)] = name
        return name

    def param(self, value: Any, stem: str) -> str:
        if value is None or type(value) in (bool, int, float, str):
            return repr(value)
        if type(value) is tuple and all(type(x) in (int, bool, type(None)) for x in value):
            return repr(value)
        return self.bind(value, stem)


class _Array:
    """A captured array seen as a Value is: its numbers in ``_data``, compared at each call."""

    __slots__ = ("_data",)

    def __init__(self, data: np.ndarray) -> None:
        self._data = data


def source_of(node: Value, lifted: dict[int, np.ndarray]) -> Any:
    """What to compare at each call for a constant: the array it was lifted from, if any."""
    original = lifted.get(id(node))
    return node if original is None else _Array(original)


class Program:
    """One traced signature: the generated function and what it read at trace time.

    ``run(*data)`` and ``loop(n, *data)`` take and return the arguments' and results' data
    (floats and arrays, flat), whatever the backend keeps inside."""

    def __init__(self, source: str, run: Callable[..., Any], loop: Callable[..., Any],
                 out_tree: Any, captured: list[tuple[Value, Any, Any]], backend: str) -> None:
        self.source = source
        self.run = run
        self.loop = loop
        self.out_tree = out_tree
        self.unflatten = unflattener(out_tree)
        self.captured = captured
        self.backend = backend

    def stale(self) -> bool:
        """True when a Value read as a constant has changed since the trace (its data
        replaced by other numbers, or changed in place: compared byte for byte)."""
        for v, data, saved in self.captured:
            now = v._data
            if type(now) is float:
                if now is not data and now != saved and not (now != now and saved != saved):
                    return True
            elif type(saved) is float or now.shape != data.shape or now.tobytes() != saved:
                return True
        return False


def generate_numpy(name: str, inputs: list[Value], outputs: list[Any],
              lifted: dict[int, np.ndarray]) -> tuple[str, Any, list]:
    """The source of one function over the graph from ``inputs`` to ``outputs``."""
    w = Writer()
    index = {id(v): i for i, v in enumerate(inputs)}
    args = [f"x{i}" for i in range(len(inputs))]
    roots = [o for o in outputs if isinstance(o, Value)]
    order = walk(*roots) if roots else []
    names: dict[int, str] = {}
    captured: list[tuple[Value, Any, Any]] = []
    owner: dict[int, Value] = {}  # an alias (see _ALIASES) -> the Value whose name it has
    uses: dict[int, int] = {}
    for node in order:
        for p in node.parents:
            uses[id(p)] = uses.get(id(p), 0) + 1
    for o in roots:
        uses[id(o)] = uses.get(id(o), 0) + 1
    body: list[str] = []
    for node in order:
        if node._op is None:
            if id(node) in index:
                names[id(node)] = args[index[id(node)]]
            else:  # a constant: read now
                data = node._data
                source = source_of(node, lifted)
                if type(data) is float:
                    names[id(node)] = repr(data) if np.isfinite(data) else w.bind(data, "c")
                    captured.append((source, data, data))
                else:
                    copy = data.copy()
                    names[id(node)] = w.bind(copy, stem_of(node.label) or "const")
                    captured.append((source, source._data, source._data.tobytes()))
            continue
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
        operands = [names[id(p)] for p in node.parents]
        if prim.name in _ALIASES:  # the identity: the operand's name stands for it
            names[id(node)] = operands[0]
            root = owner.get(id(node.parents[0]), node.parents[0])
            owner[id(node)] = root
            uses[id(root)] += uses.get(id(node), 0) - 1
            continue
        params = node._params or {}
        target = w.fresh(prim.name)
        names[id(node)] = target
        floats = all(type(p._data) is float for p in node.parents)
        if prim.name == "mask":
            fn = params["fn"]
            call = w.bind(fn, getattr(fn, "__name__", "mask"))
            rest = {k: v for k, v in params.items() if k != "fn"}
            raw = fn(*[p._data for p in node.parents], **rest)
            expr = call_text(w, call, operands, rest)
        elif floats and prim.name in INFIX and prim.scalar is not None:
            expr = f"{operands[0]} {INFIX[prim.name]} {operands[1]}"
            raw = 0.0
        else:
            fn = prim.scalar if floats and prim.scalar is not None else prim.forward
            raw = fn(*[p._data for p in node.parents], **params)
            call = w.bind(fn, prim.name if fn is prim.forward else prim.name + "_scalar")
            expr = call_text(w, call, operands, params)
        ok = type(raw) is float or (type(raw) is np.ndarray and raw.ndim and
                                    raw.dtype.kind == "f")
        body.append(f"    {target} = {expr if ok else f'_norm({expr})'}")
        dead = []
        for p in node.parents:
            p = owner.get(id(p), p)
            uses[id(p)] -= 1
            if uses[id(p)] == 0 and p._op is not None and type(p._data) is np.ndarray:
                dead.append(names[id(p)])
        if dead:
            body.append(f"    del {', '.join(dead)}")
    results = []
    for o in outputs:
        if isinstance(o, Value):
            results.append(names[id(o)])
        else:
            results.append(w.param(o, "out"))
    head = f"def {name}({', '.join(args)}):"
    ret = f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})"
    source = "\n".join([head, *body, ret]) + "\n"
    return source, w.namespace, captured


def call_text(w: Writer, fn: str, operands: list[str], params: dict[str, Any]) -> str:
    kw = [f"{k}={w.param(v, k)}" for k, v in params.items()]
    return f"{fn}({', '.join(operands + kw)})"
