"""`jit`: a function traced once into one program of straight-line Python, run without graphs.

``jit(f)`` calls ``f`` once per signature (the shapes and dtypes of its array arguments, the
values of its static arguments) on fresh leaf Values, with every gradient built as a graph
(`autograd.grad` and the transforms take ``create_graph=True`` while tracing), so the
forward pass, the backward pass and any higher-order part are one graph of primitives. It
then writes one Python function over that graph: one line per operation, named after it, in
topological order, each intermediate released after its last use, and runs that function on
later calls: no Value is built again.

Nothing that depends on the data is frozen. The rules read the data through the ``mask``
primitive, so the compiled code recomputes every mask (relu, abs, max, clip, maximum); what
``f`` computes under ``no_grad()`` or ``detach()``es becomes a node that passes no gradient;
reading a traced Value's numbers in Python (``.data``, ``.item()``, ``float()``, ``.grad``,
``backward()``, ``np.asarray``) raises `TraceError`. Values and arrays ``f`` captures from
outside are read at trace time, as JAX does; one changed afterwards is noticed and traced
again.

Backends: ``"numpy"`` runs the same NumPy functions (and float kernels, for scalars) as the
eager engine, in the same order, so its results are bit for bit the eager ones; ``"auto"``
picks it. (The element-wise ``"python"``, batched ``"vector"`` and ``"numba"`` backends are
not built yet: asking for one is a ValueError that says so.)
"""

from __future__ import annotations

import keyword
import linecache
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from threading import get_ident
from typing import Any

import numpy as np

from .engine import (
    Primitive,
    TraceError,
    Value,
    _describe,
    _Rest,
    _tracing,
    enable_grad,
    walk,
)

__all__ = ["jit", "TraceError", "Compiled"]

BACKENDS = ("auto", "numpy")
#: Named by the API, not built yet.
PLANNED = ("python", "vector", "numba")
#: Signatures kept per compiled function (the oldest is dropped first).
CACHE_SIZE = 32

_stop = Primitive(lambda x: x, lambda grad, out, x: (None,), name="stop_gradient",
                  builtin=True)


# -- arguments: nested tuples, lists and dicts of arrays and numbers --------------------------


def _flatten(tree: Any, leaves: list[Any], what: str) -> Any:
    """The structure of ``tree`` (a hashable description), its leaves appended to ``leaves``."""
    if isinstance(tree, (tuple, list)):
        return (type(tree), tuple(_flatten(t, leaves, what) for t in tree))
    if isinstance(tree, dict):
        keys = tuple(tree)
        return (dict, keys, tuple(_flatten(tree[k], leaves, what) for k in keys))
    leaves.append(tree)
    return None


def _unflatten(tree: Any, leaves: Any) -> Any:
    it = iter(leaves)

    def build(t: Any) -> Any:
        if t is None:
            return next(it)
        if t[0] is dict:
            return {k: build(s) for k, s in zip(t[1], t[2])}
        return t[0](build(s) for s in t[1])

    return build(tree)


def _leaf_data(x: Any, what: str) -> Any:
    """An argument leaf as the data a Value would hold: a float, or a float ndarray."""
    if isinstance(x, Value):
        return x._data
    if type(x) is float:
        return x
    if isinstance(x, (int, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_)):
        return float(x)
    if type(x) is np.ndarray:
        if x.ndim == 0:
            return float(x)
        if x.dtype == np.float64 or x.dtype == np.float32:
            return x
        if x.dtype.kind in "iub":
            return x.astype(np.float64)
    raise TypeError(f"{what} must be numbers, arrays or Values (in tuples, lists or dicts),"
                    f" or be named in static_argnums; got {_describe(x)}")


def _signature(data: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(None if type(d) is float else (d.shape, d.dtype.str) for d in data)


# -- the trace ---------------------------------------------------------------------------------


class _Trace:
    """One run of ``f`` on fresh leaves: which Values are traced, what is read as a constant."""

    def __init__(self, inputs: list[Value]) -> None:
        self.inputs = {id(v): i for i, v in enumerate(inputs)}
        self.keep = inputs  # (the ids above stay theirs)

    def traced(self, v: Value) -> bool:
        return v._op is not None or id(v) in self.inputs

    def holds(self, *operands: Any) -> bool:
        """True when an operand (a Value, or a `_Rest` of more) is traced."""
        for x in operands:
            if type(x) is _Rest:
                if x.more and any([self.traced(m) for m in x.more]):
                    return True
            elif x is not None and self.traced(x):
                return True
        return False

    def read(self, v: Value, what: str) -> None:
        if self.traced(v):
            raise TraceError(f"{_where()}: {what} of a traced Value: its numbers are not known"
                             f" while jit traces (they change with every call). Name the "
                             f"argument in static_argnums if the branch depends on it, or "
                             f"compute both branches and pick with where(cond, a, b).")

    def stop(self, v: Value) -> Value:
        """``v.detach()`` while tracing: a node that passes no gradient (recomputed)."""
        with enable_grad():
            return _stop(v)

    def constant(self, v: Value, op: Primitive | None, a: Value, b: Value | None,
                 rest: _Rest | None) -> Value:
        """A result computed under ``no_grad()`` from traced Values: recorded all the same,
        behind a node that passes no gradient, so that it is recomputed on every call."""
        v._requires_grad = True
        v._op, v._in0, v._in1, v._rest = op, a, b, rest
        with enable_grad():
            return _stop(v)


def _where() -> str:
    """The line of the user's code that is running: the first frame outside this package."""
    package = __name__.rsplit(".", 1)[0].replace(".", "/")
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if f"/{package}/" not in name.replace("\\", "/") or "/tests/" in name:
            line = linecache.getline(name, frame.f_lineno).strip()
            return f"{name}:{frame.f_lineno}: {line}" if line else f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "jit"


# -- code generation -----------------------------------------------------------------------------


def _norm(out: Any) -> Any:
    """A forward's result as the engine keeps it (see engine._node): a float or a float array."""
    if type(out) is float:
        return out
    out = np.asarray(out)
    if out.ndim == 0:
        return float(out)
    return out if out.dtype.kind == "f" else out.astype(np.float64)


_INFIX = {"add": "+", "sub": "-", "mul": "*"}
#: Identities: a transform's link to its argument, a node that passes no gradient. Their
#: results are never written in place, so the operand's name stands for them.
_ALIASES = ("argument", "stop_gradient")


def _stem(label: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label).strip("_")


class _Writer:
    """The generated function's text and the names it uses."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_norm": _norm, "np": np}
        self.lines: list[str] = []
        self.ids: dict[int, str] = {}  # id(object in namespace) -> name
        self.counts: dict[str, int] = {}

    def fresh(self, stem: str) -> str:
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


class _Program:
    """One traced signature: the generated function and what it read at trace time."""

    def __init__(self, source: str, run: Callable[..., tuple[Any, ...]], out_tree: Any,
                 captured: list[tuple[Value, Any, Any]]) -> None:
        self.source = source
        self.run = run
        self.out_tree = out_tree
        self.captured = captured

    def stale(self) -> bool:
        """True when a Value read as a constant has changed since the trace."""
        for v, data, copy in self.captured:
            now = v._data
            if now is not data:
                if type(now) is float or type(copy) is float:
                    if now != copy:
                        return True
                elif now.shape != copy.shape or not np.array_equal(now, copy, equal_nan=True):
                    return True
            elif type(now) is np.ndarray and not np.array_equal(now, copy, equal_nan=True):
                return True
        return False


def _generate(name: str, inputs: list[Value], outputs: list[Any]) -> tuple[str, Any, list]:
    """The source of one function over the graph from ``inputs`` to ``outputs``."""
    w = _Writer()
    index = {id(v): i for i, v in enumerate(inputs)}
    args = [f"x{i}" for i in range(len(inputs))]
    roots = [o for o in outputs if isinstance(o, Value)]
    order = walk(*roots) if roots else []
    names: dict[int, str] = {}
    captured: list[tuple[Value, Any, Any]] = []
    owner: dict[int, Value] = {}  # an alias (see _ALIASES) -> the Value whose name it has
    uses: dict[int, int] = {}
    for node in order:
        for p in node._parents:
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
                if type(data) is float:
                    names[id(node)] = repr(data) if np.isfinite(data) else w.bind(data, "c")
                    captured.append((node, data, data))
                else:
                    copy = data.copy()
                    names[id(node)] = w.bind(copy, _stem(node.label) or "const")
                    captured.append((node, data, copy))
            continue
        prim: Primitive = node._op
        operands = [names[id(p)] for p in node._parents]
        if prim.name in _ALIASES:  # the identity: the operand's name stands for it
            names[id(node)] = operands[0]
            root = owner.get(id(node._parents[0]), node._parents[0])
            owner[id(node)] = root
            uses[id(root)] += uses.get(id(node), 0) - 1
            continue
        params = node._params or {}
        target = w.fresh(prim.name)
        names[id(node)] = target
        floats = all(type(p._data) is float for p in node._parents)
        if prim.name == "mask":
            fn = params["fn"]
            call = w.bind(fn, getattr(fn, "__name__", "mask"))
            rest = {k: v for k, v in params.items() if k != "fn"}
            raw = fn(*[p._data for p in node._parents], **rest)
            expr = _call(w, call, operands, rest)
        elif floats and prim.name in _INFIX and prim.scalar is not None:
            expr = f"{operands[0]} {_INFIX[prim.name]} {operands[1]}"
            raw = 0.0
        else:
            fn = prim.scalar if floats and prim.scalar is not None else prim.forward
            raw = fn(*[p._data for p in node._parents], **params)
            call = w.bind(fn, prim.name if fn is prim.forward else prim.name + "_scalar")
            expr = _call(w, call, operands, params)
        ok = type(raw) is float or (type(raw) is np.ndarray and raw.ndim and
                                    raw.dtype.kind == "f")
        body.append(f"    {target} = {expr if ok else f'_norm({expr})'}")
        dead = []
        for p in node._parents:
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


def _call(w: _Writer, fn: str, operands: list[str], params: dict[str, Any]) -> str:
    kw = [f"{k}={w.param(v, k)}" for k, v in params.items()]
    return f"{fn}({', '.join(operands + kw)})"


# -- the compiled function ----------------------------------------------------------------------


class Compiled:
    """``jit(f)``: call it as ``f``; ``.source`` is the generated code of the last signature
    traced, ``.loop(n, *args)`` runs it ``n`` times on its own results."""

    def __init__(self, f: Callable[..., Any], backend: str, static_argnums: tuple[int, ...]
                 ) -> None:
        self.f = f
        self.backend = backend
        self.static_argnums = static_argnums
        self._cache: OrderedDict[Any, _Program] = OrderedDict()
        self._lock = threading.Lock()
        self._source: str | None = None
        self.traces = 0  # how many times f was traced (a new signature, or a changed capture)
        self.__wrapped__ = f
        self.__name__ = getattr(f, "__name__", "compiled")
        self.__doc__ = getattr(f, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated Python of the last signature traced."""
        if self._source is None:
            raise AttributeError("source: call the compiled function once first; it is traced "
                                 "on its first call")
        return self._source

    def __repr__(self) -> str:
        return f"jit({self.__name__}, backend={self.backend!r})"

    def _split(self, args: tuple[Any, ...]) -> tuple[Any, list[Any], Any]:
        statics = []
        traced = []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"jit: static argument {i} must be hashable, got "
                                    f"{_describe(a)}") from None
                statics.append(a)
            else:
                traced.append(a)
        leaves: list[Any] = []
        tree = _flatten(tuple(traced), leaves, "jit")
        data = [_leaf_data(x, f"jit: argument {i}") for i, x in enumerate(leaves)]
        return (tree, tuple(statics)), data, tree

    def _program(self, args: tuple[Any, ...]) -> tuple[_Program, list[Any]]:
        for n in self.static_argnums:
            if n >= len(args):
                raise TypeError(f"jit: static_argnums names argument {n}, but {self.__name__}"
                                f" got {len(args)} arguments")
        (tree, statics), data, _ = self._split(args)
        key = (tree, statics, _signature(data))
        program = self._cache.get(key)
        if program is None or program.stale():
            with self._lock:
                program = self._cache.get(key)
                if program is None or program.stale():
                    program = self._trace(args, tree, data)
                    self._cache[key] = program
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
        self._source = program.source
        return program, data

    def _trace(self, args: tuple[Any, ...], tree: Any, data: list[Any]) -> _Program:
        ident = get_ident()
        if ident in _tracing:
            raise TraceError("jit: a compiled function called while another one traces in the "
                             "same thread; call f itself inside (its graph is traced anyway)")
        inputs = [Value(d.copy() if type(d) is np.ndarray else d) for d in data]
        traced = iter(_unflatten(tree, inputs))
        call = [a if i in self.static_argnums else next(traced) for i, a in enumerate(args)]
        _tracing[ident] = _Trace(inputs)
        try:
            with enable_grad():
                out = self.f(*call)
        finally:
            del _tracing[ident]
        outs: list[Any] = []
        out_tree = _flatten(out, outs, "jit")
        for o in outs:
            if not isinstance(o, Value):
                try:
                    _leaf_data(o, "")
                except TypeError:
                    raise TypeError(f"jit: {self.__name__} must return Values, arrays or "
                                    f"numbers (in tuples, lists or dicts), got "
                                    f"{_describe(o)}") from None
        name = self.__name__ if self.__name__.isidentifier() else "compiled"
        if keyword.iskeyword(name) or name == "<lambda>":
            name = "compiled"
        source, namespace, captured = _generate(name, inputs, outs)
        filename = f"<jit {name} #{id(self):x}.{self.traces}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (our own code)
        self.traces += 1
        return _Program(source, namespace[name], out_tree, captured)

    def __call__(self, *args: Any) -> Any:
        program, data = self._program(args)
        return _unflatten(program.out_tree, program.run(*data))

    def loop(self, n: int, *args: Any) -> Any:
        """Call the function ``n`` times, each time on the previous call's results (which must
        have the structure of the arguments: a training step), and return the last results."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"loop: n must be an integer >= 0, got {_describe(n)}")
        if self.static_argnums:
            raise ValueError("loop: a function with static arguments cannot feed its results "
                             "back as its arguments")
        if n == 0:
            return args if len(args) != 1 else args[0]
        program, data = self._program(args)
        results = program.run(*data)
        if program.out_tree != (_flatten(args if len(args) != 1 else args[0], [], "")):
            raise ValueError(f"loop: {self.__name__} returns a structure other than its "
                             f"arguments', so its results cannot be its next arguments")
        if _signature([_leaf_data(r, "") for r in results]) != _signature(data):
            raise ValueError(f"loop: {self.__name__} returns shapes other than its "
                             f"arguments'")
        run = program.run
        for _ in range(int(n) - 1):
            results = run(*results)
        return _unflatten(program.out_tree, results)


def jit(f: Callable[..., Any], *, backend: str = "auto",
        static_argnums: int | Sequence[int] = ()) -> Compiled:
    """``f`` traced once per signature into one program of straight-line Python.

    Args:
        f: takes numbers, arrays or Values (in tuples, lists or dicts) and returns Values,
            arrays or numbers in the same kinds of structure; it may use everything the library
            offers, the transforms included.
        backend: ``"numpy"`` or ``"auto"`` (which is ``"numpy"``).
        static_argnums: arguments that are not traced: their values are part of the
            signature (a new value traces again), so ``f`` may branch on them.

    Returns:
        A `Compiled` function with ``f``'s signature, returning NumPy arrays and floats.
    """
    if not callable(f):
        raise TypeError(f"jit: f must be a function, got {_describe(f)}")
    if backend in PLANNED:
        raise ValueError(f"jit: the {backend!r} backend is not built yet; use 'numpy' (or "
                         f"'auto')")
    if backend not in BACKENDS:
        raise ValueError(f"jit: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    nums = (static_argnums,) if isinstance(static_argnums, (int, np.integer)) else static_argnums
    try:
        nums = tuple(nums)
    except TypeError:
        raise TypeError(f"jit: static_argnums must be an int or a sequence of ints, got "
                        f"{_describe(static_argnums)}") from None
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"jit: static_argnums must be ints >= 0, got {static_argnums!r}")
    return Compiled(f, "numpy" if backend == "auto" else backend, tuple(int(n) for n in nums))


jit.TraceError = TraceError  # type: ignore[attr-defined]
