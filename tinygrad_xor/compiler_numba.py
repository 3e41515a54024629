"""jit's ``"numba"`` backend: the python backend's lines compiled to machine code by numba.

The graph is written as the python backend writes it, one line per element of every Value,
every value a float, but into a module of its own: the lines between reads of one flat
float64 array (the arguments' elements) and writes into another (the results'), the scalar
kernels as small numba functions beside them. That module is written to a file in the cache
directory (``$XDG_CACHE_HOME/tinygrad_xor/jit``, else ``~/.cache/tinygrad_xor/jit``), named
after a hash of its text, and compiled by ``numba.njit(cache=True)``, so numba keeps the
machine code next to it and a second process (or a second trace of the same graph) loads it
instead of compiling again. ``loop(n)`` is a loop inside the compiled function: the state
stays in one array between steps.

Every operation of the python backend that is a line of floats compiles; the masks the rules
read from the data are written as conditional expressions. What the python backend computes
on NumPy arrays (a user's primitive, a user's mask function) cannot be compiled: asking for
the numba backend there raises `TraceError` (``"auto"`` never picks numba; see `ready`).

numba is an optional extra (``pip install tinygrad_xor[numba]``); this module imports it only
when a function is compiled.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .codegen import Writer, stem_of
from .codegen_elements import (
    SCALAR_CALLS,
    Elements,
    cond,
    elements,
    mask_line,
    positions,
    reduced_groups,
    spread,
)
from .core.mode import TraceError
from .core.value import Value

__all__ = ["available", "require", "cache_dir", "compile_numba"]

INSTALL = "pip install 'tinygrad_xor[numba]'"


def available() -> bool:
    """Whether numba can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # (ValueError: sys.modules["numba"] is None)
        return False


def require(what: str) -> None:
    """Raise ImportError, saying how to install numba, when it is not installed."""
    if not available():
        raise ImportError(f"{what}: the 'numba' backend needs numba, which is not installed;"
                          f" install it with {INSTALL} (or use backend='python')")


def cache_dir() -> Path:
    """Where the generated modules (and numba's machine code beside them) are kept:
    ``$XDG_CACHE_HOME/tinygrad_xor/jit``, else ``~/.cache/tinygrad_xor/jit``; a directory in
    the temporary one when that cannot be made."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "tinygrad_xor" / "jit"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"tinygrad_xor-jit-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


# -- the element writer --------------------------------------------------------------------------

#: The scalar kernels of the generated module: numba functions with the float kernels' results
#: (NaN and infinities where NumPy gives them, never an exception).
_KERNELS = {
    "sigmoid_scalar": """def sigmoid_scalar(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)""",
    "exp_scalar": "def exp_scalar(x):\n    return math.exp(x)",
    "log_scalar": """def log_scalar(x):
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan""",
    "sqrt_scalar": "def sqrt_scalar(x):\n    return math.sqrt(x) if x >= 0.0 else math.nan",
    "sin_scalar": "def sin_scalar(x):\n    return math.sin(x) if math.isfinite(x) else math.nan",
    "cos_scalar": "def cos_scalar(x):\n    return math.cos(x) if math.isfinite(x) else math.nan",
    "tanh": "def tanh(x):\n    return math.tanh(x)",
    "pow_scalar": """def pow_scalar(x, p):
    if p == 0.5:
        return math.sqrt(x) if x >= 0.0 else math.nan
    return x ** p""",
    "power_scalar": "def power_scalar(a, b):\n    return a ** b",
    # np.maximum(a, b) and np.minimum(a, b), as kernels.maximum_scalar: a NaN wins, of equal
    # numbers b
    "max2": "def max2(a, b):\n    return a if a > b or a != a else b",
    "min2": "def min2(a, b):\n    return a if a < b or a != a else b",
    # np.clip(x, lo, hi) for Value bounds: np.minimum(np.maximum(x, lo), hi), NaN spreading
    "clip3": """def clip3(x, lo, hi):
    if x != x or lo != lo or hi != hi:
        return math.nan
    y = lo if lo > x else x
    return hi if hi < y else y""",
}
_CALLED = re.compile(r"\b(" + "|".join(_KERNELS) + r")\(")


#: The operations `_NumbaElements` writes itself (besides pow other than a square, and clip
#: between Values).
_OWN = {*SCALAR_CALLS, "power", "maximum", "minimum", "scatter", "mask"}


class _NumbaElements(Elements):
    """The python backend's writer with lines numba compiles: the scalar kernels by the names
    of `_KERNELS`, the masks as expressions, and the operations the python backend computes on
    arrays (max's share of a tie, scatter, clip between Values) element by element."""

    def node(self, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]) -> list[str]:
        prim = node._op
        assert prim is not None
        name, params, out = prim.name, node._params or {}, node.shape
        n = int(np.prod(out)) if out else 1
        if name not in _OWN and not (name == "pow" and params["p"] != 2) and not (
                name == "clip" and len(ops) > 1):
            return super().node(node, ops)
        fn = params.get("fn") if name == "mask" else None  # (mask lines: positive0_0 = ...)
        stem = f"{self.w.fresh(stem_of(getattr(fn, '__name__', '')) or name)}_"
        if name in SCALAR_CALLS:
            fn = "abs" if name == "abs" else SCALAR_CALLS[name]
            return [self.line(stem, f"{fn}({x})") for x in ops[0][0]]
        if name == "pow" and params["p"] != 2:
            return [self.line(stem, f"pow_scalar({x}, {float(params['p'])!r})")
                    for x in ops[0][0]]
        if name in ("power", "maximum", "minimum"):
            fn = {"power": "power_scalar", "maximum": "max2", "minimum": "min2"}[name]
            a, b = (spread(e, s, out) for e, s in ops)
            return [self.line(stem, f"{fn}({x}, {y})") for x, y in zip(a, b)]
        if name == "clip" and len(ops) > 1:
            cols = [spread(e, s, out) for e, s in ops]
            return [self.line(stem, f"clip3({', '.join(c[i] for c in cols)})") for i in range(n)]
        if name == "scatter":
            return self._scatter(stem, ops[0], params)
        if name == "mask":
            if getattr(fn, "__name__", "") == "max_share":
                return self._max_share(stem, ops, params)
            rest = {k: v for k, v in params.items() if k != "fn"}
            cols = [spread(e, s, out) for e, s in ops]
            consts = {k: self._param_elements(v, out) for k, v in rest.items()}
            lines = [mask_line(fn, [c[i] for c in cols], {k: consts[k][i] for k in consts})
                     for i in range(n)]
            if any(line is None for line in lines):
                self._refuse(f"the mask function {getattr(fn, '__name__', fn)!r}")
            return [self.line(stem, str(line)) for line in lines]
        raise AssertionError(name)

    def _reduce(self, stem: str, name: str, op: tuple[list[str], tuple[int, ...]],
                params: dict[str, Any], out: tuple[int, ...]) -> list[str]:
        if name != "max" or not op[1]:
            return super()._reduce(stem, name, op, params, out)
        result = []
        for group in reduced_groups(op[1], params["axis"]):
            top = op[0][group[0]]
            for i in group[1:]:  # a fold from the left, as np.max
                top = self.line(stem, f"max2({top}, {op[0][i]})")
            result.append(top)
        return result

    def _max_share(self, stem: str, ops: list[tuple[list[str], tuple[int, ...]]],
                   params: dict[str, Any]) -> list[str]:
        """Each entry's share of max's gradient: 1 / (the number of ties) where it is the
        maximum of its group, else 0 (0 / 0, NaN, where the group has a NaN)."""
        (xs, shape), (tops, _) = ops
        if not shape:
            return [self.line(stem, cond(f"{xs[0]} == {tops[0]}") + " / 1.0")]
        share: list[str] = [""] * len(xs)
        for g, group in enumerate(reduced_groups(shape, params["axis"])):
            hits = [self.line(stem, cond(f"{xs[i]} == {tops[g]}")) for i in group]
            count = self.line(stem, " + ".join(hits))
            for i, hit in zip(group, hits):
                share[i] = self.line(stem, f"{hit} / {count}")
        return share

    def _scatter(self, stem: str, op: tuple[list[str], tuple[int, ...]],
                 params: dict[str, Any]) -> list[str]:
        """Zeros of the shape with the gradient's elements added where the index picked."""
        elems, shape = op
        picked = np.asarray(positions(params["shape"])[params["index"]])
        g = spread(elems, shape, picked.shape)
        terms: list[list[str]] = [[] for _ in range(int(np.prod(params["shape"])))]
        for j, x in zip(picked.ravel(), g):
            terms[j].append(x)
        return [t[0] if len(t) == 1 else self.line(stem, " + ".join(t)) if t else "0.0"
                for t in terms]

    def _arrays(self, stem: str, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]
                ) -> list[str]:
        self._refuse(repr(node._op.name if node._op else "?"))
        return []

    @staticmethod
    def _refuse(what: str) -> None:
        raise TraceError(f"jit: the numba backend cannot compile {what} (it runs on NumPy "
                         f"arrays, outside numba); use backend='python' or 'numpy'")


# -- the module: written, cached, imported -------------------------------------------------------

_FLAGS = "cache=True, error_model='numpy', nogil=True"


def _arguments(inputs: list[Value]) -> tuple[list[str], list[str], list[str]]:
    """The compiled function's arguments, one per input (a float, or an array of any layout
    read element by element, float32 ones widened), their numba types, and the reads."""
    args, types, reads = [], [], []
    for i, v in enumerate(inputs):
        data = v._data
        args.append(f"x{i}")
        if type(data) is float:
            types.append("float64")
            continue
        types.append(f"{'float32' if data.dtype == np.float32 else 'float64'}"
                     f"[{', '.join([':'] * data.ndim)}]")
        for k, index in enumerate(np.ndindex(*data.shape)):
            at = ", ".join(map(str, index))
            reads.append(f"    x{i}_{k} = float(x{i}[{at}])" if data.dtype == np.float32 else
                         f"    x{i}_{k} = x{i}[{at}]")
    return args, types, reads


def _module_source(name: str, inputs: list[Value], params: list[str], body: list[str],
                   results: list[str], constants: dict[str, float], loop: bool) -> str:
    """The text of the generated module: ``name(x0, x1, ...)`` (one argument per input, the
    results' elements in one flat array), ``name_loop(n, x)`` (the arguments' elements in one
    flat array x, the state between steps), the kernels, then the lines that compile them (at
    the end, so that the module reads as the python backend's source does: the step first)."""
    text = "\n".join(body)
    used = sorted(set(_CALLED.findall(text)))
    args, types, reads = _arguments(inputs)
    writes = [f"    out[{i}] = {r}" for i, r in enumerate(results)]
    lines = [f"def {name}({', '.join(args)}):", *reads, *body,
             f"    out = np.empty({len(results)})", *writes, "    return (out)"]
    compiled = [(name, f"float64[::1]({', '.join(types)})")]
    if loop:
        lines += ["", "", f"def {name}_loop(n, x):", "    x = x.copy()", "    for _ in range(n):",
                  *[f"        {p} = x[{i}]" for i, p in enumerate(params)],
                  *["    " + line for line in body],
                  *["    " + line.replace("out[", "x[") for line in writes], "    return x"]
        compiled.append((name + "_loop", ""))  # (compiled at its first call: often never)
    for k in used:
        lines += ["", "", _KERNELS[k]]
    lines += ["", "", f"# {name}, compiled by numba for tinygrad_xor.jit (generated; do not edit)",
              "import math  # noqa: E402", "", "import numpy as np  # noqa: E402",
              "from numba import njit  # noqa: E402", ""]
    lines += [f"{k} = float({repr(v)!r})" for k, v in constants.items()]
    lines += [f"{k} = njit({_FLAGS})({k})" for k in used]
    lines += [f"{f} = njit({f'{sig!r}, ' if sig else ''}{_FLAGS})({f})" for f, sig in compiled]
    return "\n".join(lines) + "\n"


#: One module loaded at a time: another thread must not see a module still being compiled.
_LOADING = threading.Lock()


def _load(source: str) -> Any:
    """The module of ``source``, from its file in `cache_dir` (written when missing)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    module_name = f"_tinygrad_xor_jit_{digest}"
    with _LOADING:
        module = sys.modules.get(module_name)
        if module is None:
            module = _import(source, cache_dir() / f"jit_{digest}.py", module_name)
    return module


def _import(source: str, path: Path, module_name: str) -> Any:
    """Write ``source`` to ``path`` unless it is there, and import it as ``module_name``."""
    if not path.exists() or path.read_text() != source:
        # written once: numba's cache index is keyed by the file's time stamp and size
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # importable by its name while numba compiles it: numba's cache names the module
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def compile_numba(name: str, inputs: list[Value], outputs: list[Any],
                  lifted: dict[int, np.ndarray]) -> tuple[str, Callable[..., Any],
                                                          Callable[..., Any], list]:
    """The numba backend's source, ``run(*data)`` and ``loop(n, *data)`` on data (floats and
    arrays in, floats and arrays of the results' shapes out), and the captured constants."""
    require("jit")
    p = elements(inputs, outputs, lifted, _NumbaElements(Writer()))
    constants: dict[str, float] = {}
    for k, v in p.w.namespace.items():
        if type(v) is float:
            constants[k] = v
        elif k not in ("_norm", "np"):  # (the writer's own; a bound function is a bug)
            raise TraceError(f"jit: the numba backend cannot compile {k!r}; use "
                             f"backend='python'")
    values = [r for r, s in zip(_results_of(p.results, p.shapes), p.shapes) if s is not None]
    flat = [x for v in values for x in v]
    loop = bool(p.params) and len(flat) == len(p.params) and None not in p.shapes
    source = _module_source(name, inputs, p.params, p.el.body, flat, constants, loop)
    module = _load(source)
    fn = getattr(module, name)
    fn_loop = getattr(module, name + "_loop", None)
    run, looped = _calls(fn, fn_loop, p.shapes, _results_of(p.results, p.shapes), p.w)
    return source, run, looped, p.captured


def _results_of(results: list[str], shapes: list[tuple[int, ...] | None]) -> list[list[str]]:
    """The result names grouped by output: a Value's elements, or one literal."""
    groups, i = [], 0
    for shape in shapes:
        n = 1 if not shape else int(np.prod(shape))
        groups.append(results[i:i + n])
        i += n
    return groups


def _calls(fn: Any, fn_loop: Any, shapes: list[tuple[int, ...] | None],
           groups: list[list[str]], w: Writer) -> tuple[Callable[..., Any],
                                                         Callable[..., Any]]:
    """run and loop on data: the results out of one flat array, as floats and arrays of
    their shapes (views of it); loop's state in one flat array."""
    parts: list[str] = []  # each result read from the flat array ``out``
    consts: list[Any] = []  # the outputs that are not Values, as ``c[i]``
    i = 0
    for shape, group in zip(shapes, groups):
        if shape is None:  # the literal or the object the writer bound
            text = group[0]
            consts.append(w.namespace[text] if text in w.namespace else ast.literal_eval(text))
            parts.append(f"c[{len(consts) - 1}]")
        elif not shape:
            parts.append(f"float(out[{i}])")
            i += 1
        else:
            size = int(np.prod(shape))
            parts.append(f"out[{i}:{i + size}].reshape({shape!r})")
            i += size
    build = eval(f"lambda out, c=consts: ({', '.join(parts)},)",  # noqa: S307 (our own text)
                 {"consts": consts})

    def run(*data: Any) -> tuple[Any, ...]:
        return build(fn(*data))  # type: ignore[no-any-return]

    def loop(n: int, *data: Any) -> tuple[Any, ...]:
        if fn_loop is None:
            for _ in range(n):
                data = run(*data)
            return data
        return build(fn_loop(n, np.concatenate([np.ravel(d) for d in data],  # type: ignore
                                               dtype=np.float64)))

    return run, loop
