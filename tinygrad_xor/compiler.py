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
across processes (see `compiler_numba`). ``"auto"`` picks python for small graphs and for
graphs of scalars, else numpy; never numba, whose first call takes a second or more.
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

from .codegen import Program, generate_numpy, unflatten
from .codegen_elements import generate_elements
from .compiler_numba import available as numba_available
from .core.checks import describe
from .core.mode import TraceError, _tracing, enable_grad
from .core.primitive import Primitive
from .core.value import Value, _Rest, _trace_begin, _trace_end, walk

__all__ = ["jit", "TraceError", "Compiled"]


#: The backends this installation runs: numba's where the ``numba`` extra is installed.
BACKENDS = ("auto", "numpy", "python", "vector") + (("numba",) if numba_available() else ())
#: Backends named by the API and not built yet (none now: `tinygrad-xor compile` reads it).
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
                    f" or be named in static_argnums; got {describe(x)}")


def _signature(data: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(None if type(d) is float else (d.shape, d.dtype.str) for d in data)


# -- the trace ---------------------------------------------------------------------------------


class _Trace:
    """One run of ``f`` on fresh leaves: which Values are traced, what is read as a constant."""

    def __init__(self, inputs: list[Value]) -> None:
        self.inputs = {id(v): i for i, v in enumerate(inputs)}
        self.keep = inputs  # (the ids above stay theirs)
        #: the arrays that operations took as constants, by the id of their constant Value:
        #: a change to one of them is noticed at the next call (see Program.stale)
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


# -- the compiled function ----------------------------------------------------------------------


def _exec(source: str, filename: str, namespace: dict[str, Any]) -> None:
    """Run the generated source, under a file name that tracebacks and ``inspect`` can show."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (our own code)


#: The python backend's limits for "auto": the largest Value, and all the elements of a graph.
AUTO_PYTHON_SIZE, AUTO_PYTHON_ELEMENTS = 256, 20_000


def _small(outs: list[Any]) -> bool:
    """Whether the python backend wins over NumPy's calls: no Value over `AUTO_PYTHON_SIZE`
    elements, and at most `AUTO_PYTHON_ELEMENTS` in all, or at most two per Value (a graph of
    scalars, a neuron-level network: the python backend writes no more lines than the numpy
    backend, each a float operation rather than a call)."""
    roots = [o for o in outs if isinstance(o, Value)]
    nodes = walk(*roots) if roots else []
    total = 0
    for v in nodes:
        size = v.size
        if size > AUTO_PYTHON_SIZE:
            return False
        total += size
    return total <= AUTO_PYTHON_ELEMENTS or total <= 2 * len(nodes)


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
        self._cache: OrderedDict[Any, Program] = OrderedDict()
        self._lock = threading.Lock()
        self._source: str | None = None
        self._used: str | None = None
        self.traces = 0  # how many times f was traced (a new signature, or a changed capture)
        #: Values of the caller's taken as inputs too (their data read at every call, never
        #: frozen): a model's parameters, for `train.fit`
        self._bound: list[Value] = []
        #: the signature of the last call's arguments and its program (see `_again`)
        self._last: tuple[tuple[Any, ...], Program] | None = None  # (shapes and dtypes)
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
                                    f"{describe(a)}") from None
                statics.append(a)
            else:
                traced.append(a)
        leaves: list[Any] = []
        tree = _flatten(tuple(traced), leaves, "jit")
        data = [_leaf_data(x, f"jit: argument {i}") for i, x in enumerate(leaves)]
        return (tree, tuple(statics)), data, tree

    def _program(self, args: tuple[Any, ...]) -> tuple[Program, list[Any]]:
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

    def _again(self, args: tuple[Any, ...]) -> Program | None:
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

    def _trace(self, args: tuple[Any, ...], tree: Any, data: list[Any]) -> Program:
        ident = get_ident()
        if ident in _tracing:
            raise TraceError("jit: a compiled function called while another one traces in the "
                             "same thread; call f itself inside (its graph is traced anyway)")
        n = len(data) - len(self._bound)
        if self.backend == "vector":  # traced for one network of the batch: the first
            data = _first_of_batch(data, self._bound)
        inputs = [Value(d.copy() if type(d) is np.ndarray else d) for d in data[:n]]
        traced = iter(unflatten(tree, inputs))
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
                                    f"{describe(o)}") from None
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
            source, namespace, captured, shapes = generate_elements(
                name, inputs, outs, trace.lifted, vector=backend == "vector")
            _exec(source, filename, namespace)
            calls = _vector_calls if backend == "vector" else _python_calls
            run, loop = calls(namespace[name], namespace.get(name + "_loop"), shapes)
        else:
            source, namespace, captured = generate_numpy(name, inputs, outs, trace.lifted)
            _exec(source, filename, namespace)
            run = namespace[name]

            def loop(n: int, *data: Any) -> Any:
                for _ in range(n):
                    data = run(*data)
                return data

        self.traces += 1
        return Program(source, run, loop, out_tree, captured, backend)

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
            raise ValueError(f"loop: n must be an integer >= 0, got {describe(n)}")
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
        raise TypeError(f"jit: f must be a function, got {describe(f)}")
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
                        f"{describe(static_argnums)}") from None
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"jit: static_argnums must be ints >= 0, got {static_argnums!r}")
    return Compiled(f, backend, tuple(int(n) for n in nums))


jit.TraceError = TraceError  # type: ignore[attr-defined]
