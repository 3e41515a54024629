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
eager engine, in the same order, so its results are bit for bit the eager ones. ``"python"``
writes one line per element, every value a Python float: for tiny graphs (the XOR net) it
skips NumPy's per-call cost; its ``loop`` keeps the state as floats between steps.
``"vector"`` is the python backend's code on NumPy vectors: every array argument has a
leading batch axis (one network per entry), ``f`` is traced for one network. ``"numba"``
(the ``numba`` extra) compiles the python backend's lines to machine code, cached on disk
across processes (see `compiler_numba`). ``"auto"`` picks python for small graphs, else
numpy; never numba, whose first call takes a second or more.
"""

from __future__ import annotations

import importlib.util
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
    _trace_begin,
    _trace_end,
    _tracing,
    enable_grad,
    walk,
)

__all__ = ["jit", "TraceError", "Compiled"]


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # (ValueError: sys.modules["numba"] is None)
        return False


#: The backends this installation runs: numba's where the ``numba`` extra is installed.
BACKENDS = ("auto", "numpy", "python", "vector") + (("numba",) if _numba_installed() else ())
#: Backends named by the API and not built yet (none now: `tinygrad-xor compile` reads it).
PLANNED: tuple[str, ...] = ()
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


def _unflattener(tree: Any) -> Callable[[Any], Any]:
    """``lambda leaves: _unflatten(tree, leaves)``, written out for a tree of plain tuples and
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
        return lambda leaves: _unflatten(tree, leaves)
    return eval(f"lambda v: {text}")  # type: ignore[no-any-return]  # noqa: S307


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
        #: the arrays that operations took as constants, by the id of their constant Value:
        #: a change to one of them is noticed at the next call (see _Program.stale)
        self.lifted: dict[int, np.ndarray] = {}

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


def _source_of(node: Value, lifted: dict[int, np.ndarray]) -> Any:
    """What to compare at each call for a constant: the array it was lifted from, if any."""
    original = lifted.get(id(node))
    return node if original is None else _Array(original)


class _Program:
    """One traced signature: the generated function and what it read at trace time.

    ``run(*data)`` and ``loop(n, *data)`` take and return the arguments' and results' data
    (floats and arrays, flat), whatever the backend keeps inside."""

    def __init__(self, source: str, run: Callable[..., Any], loop: Callable[..., Any],
                 out_tree: Any, captured: list[tuple[Value, Any, Any]], backend: str) -> None:
        self.source = source
        self.run = run
        self.loop = loop
        self.out_tree = out_tree
        self.unflatten = _unflattener(out_tree)
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


def _generate(name: str, inputs: list[Value], outputs: list[Any],
              lifted: dict[int, np.ndarray]) -> tuple[str, Any, list]:
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
                source = _source_of(node, lifted)
                if type(data) is float:
                    names[id(node)] = repr(data) if np.isfinite(data) else w.bind(data, "c")
                    captured.append((source, data, data))
                else:
                    copy = data.copy()
                    names[id(node)] = w.bind(copy, _stem(node.label) or "const")
                    captured.append((source, source._data, source._data.tobytes()))
            continue
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
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


# -- the python backend: every element a Python float ------------------------------------------

#: Masks that act element by element (the others, such as max's share of a tie, are computed
#: on arrays). A function of the mask primitive elsewhere says so with ``fn.elementwise = True``.
_ELEMENTWISE_MASKS = {"positive", "sign", "maximum_share", "clip_inside", "clip_at_lo",
                      "clip_at_hi", "power_keep_a", "power_keep_b"}
_SCALAR_CALLS = {"sigmoid": "sigmoid_scalar", "tanh": "tanh", "exp": "exp_scalar",
                 "log": "log_scalar", "sqrt": "sqrt_scalar", "sin": "sin_scalar",
                 "cos": "cos_scalar", "abs": "abs"}


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    """The flat index of every element of an array of ``shape``, as that array."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)


def _spread(elems: list[str], shape: tuple[int, ...], out: tuple[int, ...]) -> list[str]:
    """The elements of an operand broadcast to the shape ``out``, in C order."""
    if shape == out:
        return elems
    return [elems[i] for i in np.broadcast_to(_positions(shape), out).ravel()]


def _infix(name: str, x: str, y: str) -> str:
    """``x op y``; a product with the literal 1.0 is the other factor (exactly: 1.0 * y == y
    for every float, NaN, infinities and -0.0 included)."""
    if name == "mul":
        if x == "1.0":
            return y
        if y == "1.0":
            return x
    return f"{x} {_INFIX[name]} {y}"


#: The most terms one line adds up (Python's compiler recurses once per operator of a line).
_TERMS = 32


def _sum_lines(el: _Elements, stem: str, terms: list[str]) -> str:
    """``t0 + t1 + ...`` as one line, or as partial sums of `_TERMS` terms for a long one."""
    while len(terms) > _TERMS:
        terms = [el.line(stem, " + ".join(terms[i:i + _TERMS]))
                 for i in range(0, len(terms), _TERMS)]
    return " + ".join(terms) if terms else "0.0"


class _Elements:
    """The python backend's writer: each Value a list of names or literals, one per element.

    With ``vector``, each element is a NumPy vector instead, one entry per network of a batch
    (the vector backend): the same lines, with NumPy's functions for the scalar ones."""

    def __init__(self, w: _Writer, vector: bool = False) -> None:
        self.w = w
        self.vector = vector
        self.body: list[str] = []

    def line(self, stem: str, expr: str) -> str:
        name = self.w.fresh(stem)
        self.body.append(f"    {name} = {expr}")
        return name

    def node(self, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]) -> list[str]:
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
        name, params = prim.name, node._params or {}
        out = node.shape
        stem = f"{self.w.fresh(name)}_"
        n = int(np.prod(out)) if out else 1
        if name in _INFIX:
            a, b = (_spread(e, s, out) for e, s in ops)
            return [self.line(stem, _infix(name, x, y)) for x, y in zip(a, b)]
        vector = self.vector
        if name == "relu":
            if vector:
                return [self.line(stem, f"np.maximum({x}, 0.0)") for x in ops[0][0]]
            return [self.line(stem, f"(0.0 if {x} <= 0.0 else {x})") for x in ops[0][0]]
        if name in _SCALAR_CALLS and prim.scalar is not None:
            fn = (self.w.bind(prim.forward, name) if vector else
                  self.w.bind(prim.scalar, _SCALAR_CALLS[name]))
            return [self.line(stem, f"{fn}({x})") for x in ops[0][0]]
        if name == "pow":
            p = params["p"]
            if p == 2:
                return [self.line(stem, f"{x} * {x}") for x in ops[0][0]]
            fn = "np.power" if vector else self.w.bind(prim.scalar, "pow_scalar")
            return [self.line(stem, f"{fn}({x}, {p!r})") for x in ops[0][0]]
        if name in ("power", "maximum", "minimum"):
            fn = (f"np.{name}" if vector else
                  self.w.bind(prim.scalar, {"power": "pow_scalar", "maximum": "max",
                                            "minimum": "min"}[name]))
            a, b = (_spread(e, s, out) for e, s in ops)
            return [self.line(stem, f"{fn}({x}, {y})") for x, y in zip(a, b)]
        if name == "keep":
            m, g = (_spread(e, s, out) for e, s in ops)
            if vector:
                return [self.line(stem, f"np.where({x} > 0.5, {y}, 0.0)") for x, y in zip(m, g)]
            return [self.line(stem, f"({y} if {x} > 0.5 else 0.0)") for x, y in zip(m, g)]
        if name == "mask" and (getattr(params["fn"], "__name__", "") in _ELEMENTWISE_MASKS
                               or getattr(params["fn"], "elementwise", False)):
            fn = params["fn"]
            call = self.w.bind(fn, fn.__name__)
            rest = {k: v for k, v in params.items() if k != "fn"}
            cols = [_spread(e, s, out) for e, s in ops]
            consts = {k: self._param_elements(v, out) for k, v in rest.items()}
            cast = "_floats" if vector else "float"
            self.w.namespace["_floats"] = _floats
            return [self.line(stem, f"{cast}({call}(" + ", ".join(
                [c[i] for c in cols] + [f"{k}={consts[k][i]}" for k in consts]) + "))")
                for i in range(n)]
        if name == "clip" and len(ops) == 1:
            lo, hi = (self._param_elements(params[k], out) for k in ("lo", "hi"))
            if vector:
                return [self.line(stem, f"np.clip({x}, {lo[i]}, {hi[i]})")
                        for i, x in enumerate(ops[0][0])]
            return [self.line(stem, self._clip(x, lo[i], hi[i])) for i, x in enumerate(ops[0][0])]
        if name in ("sum", "mean", "max"):
            return self._reduce(stem, name, ops[0], params, out)
        if name == "matmul":
            return self._matmul(stem, ops[0], ops[1], out)
        moved = self._moved(name, ops, params, node)
        if moved is not None:
            return moved
        return self._arrays(stem, node, ops)

    def _param_elements(self, value: Any, out: tuple[int, ...]) -> list[str]:
        if value is None or type(value) is float or np.ndim(value) == 0:
            text = "None" if value is None else repr(float(value))
            return [text] * (int(np.prod(out)) if out else 1)
        return [repr(float(v)) for v in np.broadcast_to(value, out).ravel()]

    @staticmethod
    def _clip(x: str, lo: str, hi: str) -> str:
        if lo != "None":
            x = f"({lo} if {x} < {lo} else {x})"
        if hi != "None":
            x = f"({hi} if {x} > {hi} else {x})"
        return x

    def _reduce(self, stem: str, name: str, op: tuple[list[str], tuple[int, ...]],
                params: dict[str, Any], out: tuple[int, ...]) -> list[str]:
        elems, shape = op
        if not shape:
            return [elems[0]] if name != "mean" else [elems[0]]
        axis = params["axis"]
        pos = _positions(shape)
        axes = tuple(range(len(shape))) if axis is None else tuple(
            a % len(shape) for a in np.atleast_1d(axis))
        keep = [a for a in range(len(shape)) if a not in axes]
        groups: Any = np.moveaxis(pos, keep + list(axes), range(len(shape))).reshape(
            [shape[a] for a in keep] + [-1]) if keep else pos.reshape(1, -1)
        result = []
        for group in groups.reshape(-1, groups.shape[-1]):
            terms = [elems[i] for i in group]
            if name == "max":
                expr = terms[0] if len(terms) == 1 else (
                    f"np.maximum.reduce([{', '.join(terms)}])" if self.vector else
                    f"max({', '.join(terms)})")
            else:
                expr = _sum_lines(self, stem, terms)
                if name == "mean":
                    expr = f"({expr}) / {float(len(terms))!r}"
            result.append(self.line(stem, expr))
        return result

    def _matmul(self, stem: str, a: tuple[list[str], tuple[int, ...]],
                b: tuple[list[str], tuple[int, ...]], out: tuple[int, ...]) -> list[str]:
        (ae, ash), (be, bsh) = a, b
        pa = _positions(ash)
        pb = _positions(bsh)
        pa2 = pa[None, :] if pa.ndim == 1 else pa          # (..., n, k)
        pb2 = pb[:, None] if pb.ndim == 1 else pb          # (..., k, m)
        batch = np.broadcast_shapes(pa2.shape[:-2], pb2.shape[:-2])
        pa2 = np.broadcast_to(pa2, batch + pa2.shape[-2:])
        pb2 = np.broadcast_to(pb2, batch + pb2.shape[-2:])
        result = []
        for ia, ib in zip(pa2.reshape(-1, *pa2.shape[-2:]), pb2.reshape(-1, *pb2.shape[-2:])):
            for i in range(ia.shape[0]):
                for j in range(ib.shape[1]):
                    terms = [_infix("mul", ae[ia[i, k]], be[ib[k, j]])
                             for k in range(ia.shape[1])]
                    result.append(self.line(stem, _sum_lines(self, stem, terms)))
        return result

    def _moved(self, name: str, ops: list[tuple[list[str], tuple[int, ...]]],
               params: dict[str, Any], node: Value) -> list[str] | None:
        """Operations that only move elements: their names, no code."""
        if name in ("reshape", "argument", "stop_gradient"):
            return ops[0][0]
        if name == "broadcast_to":
            return _spread(ops[0][0], ops[0][1], node.shape)
        if name == "transpose":
            return [ops[0][0][i] for i in np.transpose(_positions(ops[0][1]),
                                                       params["axes"]).ravel()]
        if name == "getitem":
            elems, shape = ops[0]
            picked = np.asarray(_positions(shape)[params["index"]])
            return [elems[i] for i in picked.ravel()]
        if name == "where":
            cond = np.broadcast_to(params["cond"], node.shape).ravel()
            a, b = (_spread(e, s, node.shape) for e, s in ops)
            return [x if c else y for c, x, y in zip(cond, a, b)]
        if name in ("concatenate", "stack"):
            offset, parts = 0, []
            for e, s in ops:
                parts.append(_positions(s) + offset)
                offset += len(e)
            join = np.concatenate if name == "concatenate" else np.stack
            flat = [x for e, _ in ops for x in e]
            return [flat[i] for i in join(parts, axis=params["axis"]).ravel()]
        return None

    def _arrays(self, stem: str, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]
                ) -> list[str]:
        """Anything else (a user's primitive, scatter, max's share of a tie): computed on
        arrays built from the elements, with the eager engine's function."""
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
        if self.vector:
            raise TraceError(f"jit: the vector backend cannot run {prim.name!r} element by "
                             f"element yet; use the numpy backend")
        args = []
        for e, s in ops:
            args.append(e[0] if not s else f"np.array([{', '.join(e)}]).reshape({s!r})")
        fn = self.w.bind(prim.forward, prim.name)
        params = node._params or {}
        if prim.name == "mask":
            fn = self.w.bind(params["fn"], getattr(params["fn"], "__name__", "mask"))
            params = {k: v for k, v in params.items() if k != "fn"}
        call = _call(self.w, fn, args, params)
        if not node.shape:
            return [self.line(stem, f"_norm({call})")]
        tmp = self.line(stem, f"_norm({call}).ravel().tolist()")
        names = [self.w.fresh(stem) for _ in range(node.size)]
        self.body.append(f"    {', '.join(names)}, = {tmp}")
        return names


def _floats(x: Any) -> Any:
    """A mask's entries as float64 numbers (the vector backend's ``float``)."""
    return np.asarray(x, dtype=np.float64)


class _ElementProgram:
    """A graph written element by element: the writer, its lines, the parameters' names (one
    per element of each input), the results' (one per element of each Value output, or a
    literal) and the outputs' shapes (None for an output that is not a Value)."""

    def __init__(self, w: _Writer, el: _Elements, params: list[str], results: list[str],
                 shapes: list[tuple[int, ...] | None], captured: list) -> None:
        self.w, self.el, self.params, self.results = w, el, params, results
        self.shapes, self.captured = shapes, captured


def _elements(inputs: list[Value], outputs: list[Any], lifted: dict[int, np.ndarray],
              el: _Elements) -> _ElementProgram:
    """The graph from ``inputs`` to ``outputs`` written by ``el``, one line per element."""
    w = el.w
    index = {id(v): i for i, v in enumerate(inputs)}
    params = []
    names: dict[int, list[str]] = {}
    for i, v in enumerate(inputs):
        names[id(v)] = [f"x{i}"] if not v.shape else [f"x{i}_{k}" for k in range(v.size)]
        params += names[id(v)]
    roots = [o for o in outputs if isinstance(o, Value)]
    captured: list[tuple[Value, Any, Any]] = []
    for node in walk(*roots) if roots else []:
        if node._op is None:
            if id(node) not in index:
                data = node._data
                copy: Any = data if type(data) is float else data.copy()
                names[id(node)] = [repr(float(x)) if np.isfinite(x) else w.bind(float(x), "c")
                                   for x in np.ravel(copy)]
                source = _source_of(node, lifted)
                captured.append((source, source._data, copy if type(copy) is float else
                                 source._data.tobytes()))
            continue
        names[id(node)] = el.node(node, [(names[id(p)], p.shape) for p in node._parents])
    results: list[str] = []
    shapes: list[tuple[int, ...] | None] = []
    for o in outputs:
        if isinstance(o, Value):
            results += names[id(o)]
            shapes.append(o.shape)
        else:
            results.append(w.param(o, "out"))
            shapes.append(None)
    return _ElementProgram(w, el, params, results, shapes, captured)


def _generate_python(name: str, inputs: list[Value], outputs: list[Any],
                     lifted: dict[int, np.ndarray], vector: bool = False
                     ) -> tuple[str, Any, list, list[tuple[int, ...] | None]]:
    """The python backend's source: one line per element, flat floats in and out, and a loop
    function that feeds the results back as arguments (vectors of a batch with ``vector``)."""
    p = _elements(inputs, outputs, lifted, _Elements(_Writer(), vector))
    params, results, el = p.params, p.results, p.el
    ret = ", ".join(results) + ("," if len(results) == 1 else "")
    head = f"def {name}({', '.join(params)}):"
    body = el.body or ["    pass"]
    loop: list[str] = []
    if len(results) == len(params) and params:  # a step: its results can be its arguments
        loop = ["", f"def {name}_loop(n, {', '.join(params)}):", "    for _ in range(n):",
                *["    " + line for line in el.body],
                f"        {', '.join(params)}{',' if len(params) == 1 else ''} = {ret}",
                f"    return ({', '.join(params)}{',' if len(params) == 1 else ''})"]
    source = "\n".join([head, *body, f"    return ({ret})", *loop]) + "\n"
    return source, p.w.namespace, p.captured, p.shapes


# -- the compiled function ----------------------------------------------------------------------


def _exec(source: str, filename: str, namespace: dict[str, Any]) -> None:
    """Run the generated source, under a file name that tracebacks and ``inspect`` can show."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (our own code)


#: The python backend's limits for "auto": the largest Value, and all the elements of a graph.
AUTO_PYTHON_SIZE, AUTO_PYTHON_ELEMENTS = 256, 20_000


def _small(outs: list[Any]) -> bool:
    """Whether a graph is small enough for the python backend to win over NumPy's calls: no
    Value over `AUTO_PYTHON_SIZE` elements, at most `AUTO_PYTHON_ELEMENTS` in all. (A large
    graph of scalars, a neuron-level network, runs as fast on the numpy backend, whose
    scalar lines are the same, and is written faster.)"""
    roots = [o for o in outs if isinstance(o, Value)]
    nodes = walk(*roots) if roots else []
    total = 0
    for v in nodes:
        size = v.size
        if size > AUTO_PYTHON_SIZE:
            return False
        total += size
    return total <= AUTO_PYTHON_ELEMENTS


def _python_calls(fn: Callable[..., Any], fn_loop: Callable[..., Any] | None,
                  shapes: list[tuple[int, ...] | None]) -> tuple[Callable[..., Any],
                                                                 Callable[..., Any]]:
    """The python backend's run and loop, on data: arrays in as flat floats, floats out as
    arrays of the results' shapes."""
    def flat(data: tuple[Any, ...]) -> list[float]:
        out: list[float] = []
        for d in data:
            if type(d) is float:
                out.append(d)
            else:
                out += d.ravel().tolist()
        return out

    plan = [(None, 1) if not shape else (shape, int(np.prod(shape))) for shape in shapes]
    array = np.array

    def build(values: tuple[Any, ...]) -> tuple[Any, ...]:
        results, i = [], 0
        for shape, n in plan:
            if shape is None:
                results.append(values[i])
            else:
                results.append(array(values[i:i + n]).reshape(shape))
            i += n
        return tuple(results)

    def run(*data: Any) -> tuple[Any, ...]:
        return build(fn(*flat(data)))

    def loop(n: int, *data: Any) -> tuple[Any, ...]:
        assert fn_loop is not None  # (Compiled.loop checks the structure first)
        return build(fn_loop(n, *flat(data)))

    return run, loop


def _first_of_batch(data: list[Any], bound: list[Value]) -> list[Any]:
    """The vector backend's arguments for one network: every array's first entry along its
    leading (batch) axis, which all arrays share; numbers are shared by every network."""
    sizes = {d.shape[0] for d in data if type(d) is np.ndarray}
    if bound:
        raise TypeError("jit: the vector backend takes no bound Values")
    if len(sizes) > 1:
        raise ValueError(f"jit(backend='vector'): the arrays' leading (batch) axes differ: "
                         f"{sorted(sizes)}")
    if sizes == {0}:
        raise ValueError("jit(backend='vector'): an empty batch")
    return [d[0] if type(d) is np.ndarray else d for d in data]


def _vector_calls(fn: Callable[..., Any], fn_loop: Callable[..., Any] | None,
                  shapes: list[tuple[int, ...] | None]) -> tuple[Callable[..., Any],
                                                                 Callable[..., Any]]:
    """The vector backend's run and loop, on data: each array of a batch (B, ...) in as one
    vector (B,) per element, each result out as an array (B, ...)."""
    plan = [(None, 1) if shape is None else (shape, int(np.prod(shape)) if shape else 1)
            for shape in shapes]

    def flat(data: tuple[Any, ...]) -> tuple[list[Any], int]:
        out: list[Any] = []
        batch = 1
        for d in data:
            if type(d) is float:
                out.append(d)
            else:
                batch = d.shape[0]
                out += list(np.ascontiguousarray(d.reshape(batch, -1).T))
        return out, batch

    def build(values: tuple[Any, ...], batch: int) -> tuple[Any, ...]:
        results, i = [], 0
        for shape, n in plan:
            if shape is None:
                results.append(values[i])
            else:
                cols = [np.broadcast_to(v, (batch,)) for v in values[i:i + n]]
                results.append(np.stack(cols, axis=1).reshape((batch,) + shape))
            i += n
        return tuple(results)

    def run(*data: Any) -> tuple[Any, ...]:
        args, batch = flat(data)
        return build(fn(*args), batch)

    def loop(n: int, *data: Any) -> tuple[Any, ...]:
        assert fn_loop is not None  # (Compiled.loop checks the structure first)
        args, batch = flat(data)
        return build(fn_loop(n, *args), batch)

    return run, loop


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
        self._used: str | None = None
        self.traces = 0  # how many times f was traced (a new signature, or a changed capture)
        #: Values of the caller's taken as inputs too (their data read at every call, never
        #: frozen): a model's parameters, for `train.fit`
        self._bound: list[Value] = []
        #: the signature of the last call's arguments and its program (see `_again`)
        self._last: tuple[tuple[Any, ...], _Program] | None = None  # (shapes and dtypes)
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

    @property
    def backend_used(self) -> str:
        """The backend of the last signature traced (what ``"auto"`` chose)."""
        if self._used is None:
            raise AttributeError("backend_used: call the compiled function once first")
        return self._used

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
        data += [v._data for v in self._bound]
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
        self._used = program.backend
        if not self.static_argnums and not self._bound and len(data) == len(args) and all(
                [d is a for d, a in zip(data, args)]):  # every argument an array or a float
            self._last = (tuple(None if type(d) is float else (d.shape, d.dtype) for d in data),
                          program)
        return program, data

    def _again(self, args: tuple[Any, ...]) -> _Program | None:
        """The last call's program when ``args`` are floats and float arrays of its signature,
        each an argument of its own, and no constant it read has changed: the common call,
        checked without flattening the arguments (what `_program` would find)."""
        last = self._last
        if last is None or self._bound or len(args) != len(last[0]):
            return None
        for a, s in zip(args, last[0]):
            if s is None:
                if type(a) is not float:
                    return None
            elif type(a) is not np.ndarray or a.shape != s[0] or (a.dtype is not s[1] and
                                                                  a.dtype != s[1]):
                return None
        return None if last[1].stale() else last[1]

    def _trace(self, args: tuple[Any, ...], tree: Any, data: list[Any]) -> _Program:
        ident = get_ident()
        if ident in _tracing:
            raise TraceError("jit: a compiled function called while another one traces in the "
                             "same thread; call f itself inside (its graph is traced anyway)")
        n = len(data) - len(self._bound)
        if self.backend == "vector":  # traced for one network of the batch: the first
            data = _first_of_batch(data, self._bound)
        inputs = [Value(d.copy() if type(d) is np.ndarray else d) for d in data[:n]]
        traced = iter(_unflatten(tree, inputs))
        inputs += self._bound
        call = [a if i in self.static_argnums else next(traced) for i, a in enumerate(args)]
        trace = _Trace(inputs)
        _trace_begin(trace)
        try:
            with enable_grad():
                out = self.f(*call)
        finally:
            _trace_end()
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
        backend = self.backend
        if backend == "auto":
            backend = "python" if _small(outs) else "numpy"
        filename = f"<jit {name} #{id(self):x}.{self.traces}>"
        if backend == "numba":  # (the module imports numba: only here)
            from .compiler_numba import compile_numba

            source, run, loop, captured = compile_numba(name, inputs, outs, trace.lifted)
        elif backend in ("python", "vector"):
            source, namespace, captured, shapes = _generate_python(
                name, inputs, outs, trace.lifted, vector=backend == "vector")
            _exec(source, filename, namespace)
            calls = _vector_calls if backend == "vector" else _python_calls
            run, loop = calls(namespace[name], namespace.get(name + "_loop"), shapes)
        else:
            source, namespace, captured = _generate(name, inputs, outs, trace.lifted)
            _exec(source, filename, namespace)
            run = namespace[name]

            def loop(n: int, *data: Any) -> Any:
                for _ in range(n):
                    data = run(*data)
                return data

        self.traces += 1
        return _Program(source, run, loop, out_tree, captured, backend)

    def __call__(self, *args: Any) -> Any:
        program = self._again(args)
        if program is not None:
            return program.unflatten(program.run(*args))
        program, data = self._program(args)
        return program.unflatten(program.run(*data))

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
        if program.out_tree != (_flatten(args, [], "") if len(args) != 1 else
                                _flatten(args[0], [], "")):
            raise ValueError(f"loop: {self.__name__} returns a structure other than its "
                             f"arguments', so its results cannot be its next arguments")
        if _signature([_leaf_data(r, "") for r in results]) != _signature(data):
            raise ValueError(f"loop: {self.__name__} returns shapes other than its "
                             f"arguments'")
        return program.unflatten(program.loop(int(n) - 1, *results))


def jit(f: Callable[..., Any], *, backend: str = "auto",
        static_argnums: int | Sequence[int] = ()) -> Compiled:
    """``f`` traced once per signature into one program of straight-line Python.

    Args:
        f: takes numbers, arrays or Values (in tuples, lists or dicts) and returns Values,
            arrays or numbers in the same kinds of structure; it may use everything the library
            offers, the transforms included.
        backend: ``"numpy"``, ``"python"``, ``"vector"``, ``"numba"`` (the ``numba`` extra;
            its first call compiles, for a second or more) or ``"auto"`` (python for small
            graphs, else numpy; see the module).
        static_argnums: arguments that are not traced: their values are part of the
            signature (a new value traces again), so ``f`` may branch on them.

    Returns:
        A `Compiled` function with ``f``'s signature, returning NumPy arrays and floats.
    """
    if not callable(f):
        raise TypeError(f"jit: f must be a function, got {_describe(f)}")
    if backend == "numba":  # (an ImportError that says how to install it, where it is not)
        from .compiler_numba import require

        require("jit(backend='numba')")
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
    return Compiled(f, backend, tuple(int(n) for n in nums))


jit.TraceError = TraceError  # type: ignore[attr-defined]
