"""Hypothesis strategies for property-based gradient tests: Values, shapes and random graphs.

    from hypothesis import given
    from tinygrad_xor import gradcheck
    from tinygrad_xor.testing import expressions

    @given(expressions())
    def test_gradients(expr):
        f, inputs = expr
        assert gradcheck(f, *inputs)

`expressions()` draws a small program (a list of operations, each choosing its operands among
the inputs and earlier results) and runs it once on drawn inputs. Where an operation would be
evaluated at a kink or outside its domain (relu at 0, a tie in max, log of a negative number,
1/x near 0) the program gets a constant shift, so the drawn function is smooth around the drawn
point and ``gradcheck`` must pass for a correct engine. The shift is part of the program (you
see it in the formula) and is decided once, at draw time. Hypothesis shrinks a failing program
by dropping operations and simplifying operand choices, so a failure is reported as a small
formula like ``f(x0) = bad_square(x0)``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_xor.testing needs hypothesis: pip install 'tinygrad_xor[test]'"
                      ) from exc

from .core import checks as _checks
from .core import operators as _ops
from .core import ops as _table
from .core.primitive import Primitive
from .core.value import Value

__all__ = ["values", "shapes", "broadcastable_shapes", "mutually_broadcastable_shapes",
           "matmul_shapes", "values_for", "expressions", "Expression", "Op", "OPS",
           "ELEMENTWISE"]

Shape = tuple[int, ...]

# -- Values and shapes ------------------------------------------------------------------------


def _check_dims(where: str, min_dims: Any, max_dims: Any, min_side: Any, max_side: Any) -> None:
    """Sizes are integers >= 0 (sides >= 1 at the top), each minimum <= its maximum."""
    min_dims = _checks.integer(where, "min_dims", min_dims, minimum=0)
    max_dims = _checks.integer(where, "max_dims", max_dims, minimum=0)
    min_side = _checks.integer(where, "min_side", min_side, minimum=0)
    max_side = _checks.integer(where, "max_side", max_side, minimum=1)
    if min_dims > max_dims:
        raise ValueError(f"{where}: min_dims {min_dims} > max_dims {max_dims}")
    if min_side > max_side:
        raise ValueError(f"{where}: min_side {min_side} > max_side {max_side}")


def _check_bounds(where: str, min_value: Any, max_value: Any) -> None:
    low = _checks.number(where, "min_value", min_value)
    high = _checks.number(where, "max_value", max_value)
    if low > high:
        raise ValueError(f"{where}: min_value {low!r} > max_value {high!r}")


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[Shape]:
    """Array shapes, ``()`` (a scalar) included when ``min_dims`` is 0."""
    _check_dims("shapes()", min_dims, max_dims, min_side, max_side)
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def _check_shape(where: str, shape: Any) -> Shape:
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{where}: shape must be a tuple of ints, got {type(shape).__name__} "
                        f"{shape!r}")
    for i, side in enumerate(shape):
        _checks.integer(where, f"shape[{i}]", side, minimum=0)
    return tuple(int(side) for side in shape)


def broadcastable_shapes(shape: Shape, *, min_dims: int = 0, max_dims: int | None = None,
                         min_side: int = 1,
                         max_side: int | None = None) -> st.SearchStrategy[Shape]:
    """Shapes that broadcast with ``shape``, as ``hypothesis.extra.numpy.broadcastable_shapes``.

    ``max_dims`` defaults to ``max(len(shape), min_dims) + 2`` and ``max_side`` to the largest
    of ``shape``'s trailing sides and ``min_side``, plus 2 (hypothesis's defaults).
    """
    where = "broadcastable_shapes()"
    shape = _check_shape(where, shape)
    min_dims = _checks.integer(where, "min_dims", min_dims, minimum=0)
    min_side = _checks.integer(where, "min_side", min_side, minimum=0)
    if max_dims is None:
        max_dims = max(len(shape), min_dims) + 2
    max_dims = _checks.integer(where, "max_dims", max_dims, minimum=0)
    if max_side is None:
        max_side = max([*shape[len(shape) - max_dims:], min_side]) + 2 if max_dims else \
            min_side + 2
    _check_dims(where, min_dims, max_dims, min_side, max_side)
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims,
                                    min_side=min_side, max_side=max_side)


def mutually_broadcastable_shapes(num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 3,
                                  min_side: int = 1,
                                  max_side: int = 4) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together under NumPy's rules.

    The input shapes of ``hypothesis.extra.numpy.mutually_broadcastable_shapes`` (without its
    ``result_shape``), ready for `values_for`.
    """
    _checks.integer("mutually_broadcastable_shapes()", "num_shapes", num_shapes, minimum=1)
    _check_dims("mutually_broadcastable_shapes()", min_dims, max_dims, min_side, max_side)
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda r: tuple(r.input_shapes))


def matmul_shapes(*, max_batch_dims: int = 2, min_side: int = 1,
                  max_side: int = 4) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes ``(a, b)`` for which ``a @ b`` works: 1-D, 2-D and batched N-D."""
    _check_dims("matmul_shapes()", 0, max_batch_dims, min_side, max_side)
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_batch_dims, min_side=min_side,
        max_side=max_side).map(lambda r: (r.input_shapes[0], r.input_shapes[1]))


def _float_bounds(low: float, high: float, dtype: np.dtype) -> tuple[float, float]:
    """Bounds exactly representable in ``dtype``, inside [low, high] (hypothesis needs that)."""
    if dtype != np.float32:
        return float(low), float(high)
    lo, hi = np.float32(low), np.float32(high)
    if lo < low:
        lo = np.nextafter(lo, np.float32(np.inf))
    if hi > high:
        hi = np.nextafter(hi, np.float32(-np.inf))
    return float(lo), float(hi)


def values(shape: Shape | int | st.SearchStrategy[Shape] | None = None,
           min_value: float = -10.0, max_value: float = 10.0, *,
           dtype: Any = np.float64, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4, requires_grad: bool = True, label: str = "",
           elements: st.SearchStrategy[float] | None = None) -> st.SearchStrategy[Value]:
    """Values with finite entries in [min_value, max_value].

    ``shape=()`` draws scalars (``.data`` a float), a tuple fixes the shape, a strategy draws it,
    and ``None`` draws any shape from ``shapes(min_dims=..., ...)``, scalars included.
    ``dtype`` may be float64 or float32 (a float32 scalar is a Python float like any scalar).
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"values(): dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in (np.float64, np.float32):
        raise ValueError(f"values(): dtype must be float64 or float32, got {dt}")
    _check_dims("values()", min_dims, max_dims, min_side, max_side)
    _checks.boolean("values()", "requires_grad", requires_grad)
    if not isinstance(label, str):
        raise TypeError(f"values(): label must be a str, got {type(label).__name__}")
    if elements is None:
        _check_bounds("values()", min_value, max_value)
    elif not isinstance(elements, st.SearchStrategy):
        raise TypeError(f"values(): elements must be a hypothesis strategy, got "
                        f"{type(elements).__name__}")
    if shape is not None and not isinstance(shape, st.SearchStrategy):
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            _checks.integer("values()", "shape", shape, minimum=0)
        elif isinstance(shape, (tuple, list)):
            for i, side in enumerate(shape):
                _checks.integer("values()", f"shape[{i}]", side, minimum=0)
        else:
            raise TypeError(f"values(): shape must be a tuple of ints, an int, a strategy or "
                            f"None, got {type(shape).__name__} {shape!r}")
    if shape is None:
        shape_strategy: st.SearchStrategy[Shape] = shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)
    elif isinstance(shape, st.SearchStrategy):
        shape_strategy = shape
    else:
        shape_strategy = st.just((shape,) if isinstance(shape, int) else tuple(shape))
    if elements is None:
        lo, hi = _float_bounds(min_value, max_value, dt)
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                             width=32 if dt == np.float32 else 64)
    arrays = hnp.arrays(dt, shape_strategy, elements=elements)
    return arrays.map(lambda a: Value(a, label=label, requires_grad=requires_grad))


def values_for(shape_tuples: st.SearchStrategy[tuple[Shape, ...]],
               **kwargs: Any) -> st.SearchStrategy[tuple[Value, ...]]:
    """One Value per shape of each drawn tuple: ``values_for(matmul_shapes())`` gives pairs."""
    if not isinstance(shape_tuples, st.SearchStrategy):
        raise TypeError(f"values_for(): shape_tuples must be a strategy of shape tuples, got "
                        f"{type(shape_tuples).__name__}")
    return shape_tuples.flatmap(lambda ss: st.tuples(*(values(s, **kwargs) for s in ss)))


# -- the operations expressions() draws -----------------------------------------------------

#: Elementwise operations (the scalar-vs-tensor property draws only these).
ELEMENTWISE = ("add", "mul", "sub", "neg", "div", "pow", "power", "relu", "sigmoid", "tanh",
               "exp", "log", "abs", "sqrt", "sin", "cos", "clip", "maximum", "minimum")
#: Every operation expressions() knows: the primitives of `ops.PRIMITIVES` (the internal
#: broadcast_to and scatter included) and the derived ops.
OPS = ELEMENTWISE + ("where", "sum", "mean", "max", "matmul", "reshape", "transpose", "getitem",
                     "concatenate", "stack", "broadcast_to", "scatter")
_UNARY = ("relu", "sigmoid", "tanh", "exp", "log", "abs", "sqrt", "sin", "cos")

_DOMAINS = ("real", "positive", "nonzero")


class Op:
    """A custom elementwise operation for ``expressions(ops=[...])``.

    ``domain`` says where it is smooth: ``"real"`` (everywhere), ``"positive"`` (x > 0, like log)
    or ``"nonzero"`` (x != 0, like 1/x or a kink at 0, like abs). Operands outside it get a
    constant shift. ``arity`` (1 or 2) is read from ``forward``'s signature when not given.
    """

    def __init__(self, prim: Primitive | Callable[..., Value], *, arity: int | None = None,
                 domain: str = "real", name: str | None = None) -> None:
        if domain not in _DOMAINS:
            raise ValueError(f"Op: domain must be one of {_DOMAINS}, got {domain!r}")
        if arity is None:
            forward = prim.forward if isinstance(prim, Primitive) else prim
            arity = getattr(forward, "nin", None)  # a NumPy ufunc knows its inputs
        if arity is None:
            try:
                params = inspect.signature(forward).parameters.values()
                arity = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD))
            except (TypeError, ValueError):
                arity = 1
        if arity not in (1, 2):
            raise ValueError(f"Op: arity must be 1 or 2, got {arity}")
        self.prim = prim
        self.arity = arity
        self.domain = domain
        self.name: str = str(name or getattr(prim, "name", None)
                             or getattr(prim, "__name__", "op"))

    def __repr__(self) -> str:
        return f"Op({self.name!r}, arity={self.arity}, domain={self.domain!r})"


# Constants a binary operation may take instead of a second node, and the exponents of `pow`.
_CONSTANTS = (2.0, 0.5, -1.5, 3.0)
_POWERS = (2.0, 3.0, -1.0, 0.5, -0.5, 1.5, -2.0)
_BOUND = 20.0        # every node's entries stay within +-_BOUND (else squash or skip the step)
_KINK_MARGIN = 0.05  # relu inputs stay this far from 0, max's winner this far ahead
_POLE_MARGIN = 0.25  # log, 1/x, x ** 0.5 ... see operands at least this far from 0
_MAX_SIZE = 36       # no node has more entries than this (keeps gradcheck fast)

_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "neg": 3, "pow": 4,
               "power": 4}
_ATOM = 9


class _Const:
    """A constant operand of a step (a float or an ndarray)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def text(self) -> str:
        v = self.value
        if isinstance(v, np.ndarray):
            return repr(np.round(v, 6).tolist())
        return f"{v:g}"


class _Step:
    """One operation of a drawn program: ``op`` applied to earlier nodes and constants."""

    __slots__ = ("op", "args", "params", "custom")

    def __init__(self, op: str, args: tuple[Any, ...], params: dict[str, Any],
                 custom: Op | None = None) -> None:
        self.op = op
        self.args = args          # ints (node indices) and _Const
        self.params = params
        self.custom = custom

    def run(self, nodes: list[Value]) -> Value:
        xs = [nodes[a] if isinstance(a, int) else a.value for a in self.args]
        op, p = self.op, self.params
        if self.custom is not None:
            return self.custom.prim(*xs)
        if op == "add":
            return xs[0] + xs[1]
        if op == "sub":
            return xs[0] - xs[1]
        if op == "mul":
            return xs[0] * xs[1]
        if op == "div":
            return xs[0] / xs[1]
        if op == "neg":
            return -xs[0]
        if op == "pow":
            return xs[0] ** p["p"]
        if op == "power":
            return xs[0] ** xs[1]
        if op == "matmul":
            return xs[0] @ xs[1]
        if op in _UNARY:
            return getattr(xs[0], op)()
        if op == "clip":
            return xs[0].clip(p["lo"], p["hi"])
        if op in ("maximum", "minimum"):
            return getattr(_ops, op)(xs[0], xs[1])
        if op == "where":
            return _ops.where(p["cond"], xs[0], xs[1])
        if op in ("concatenate", "stack"):
            return getattr(_ops, op)(xs, axis=p["axis"])
        if op == "broadcast_to":
            return _table.broadcast_to(xs[0], shape=p["shape"])
        if op == "scatter":
            return _table.scatter(xs[0], shape=p["shape"], index=p["index"])
        if op in ("sum", "mean", "max"):
            return getattr(xs[0], op)(axis=p["axis"], keepdims=p["keepdims"])
        if op == "reshape":
            return xs[0].reshape(p["shape"])
        if op == "transpose":
            return xs[0].T if p["axes"] is None else xs[0].transpose(*p["axes"])
        if op == "getitem":
            return xs[0][p["index"]]
        raise AssertionError(f"unknown step {op!r}")  # pragma: no cover

    def text(self, arg_texts: list[tuple[str, int]]) -> tuple[str, int]:
        """This step as a formula, from its operands' (text, precedence)."""
        op, p = self.op, self.params
        if self.custom is not None:
            return f"{self.custom.name}({', '.join(t for t, _ in arg_texts)})", _ATOM
        prec = _PRECEDENCE.get(op, _ATOM)

        def wrap(item: tuple[str, int], right: bool = False) -> str:
            text, inner = item
            tight = inner < prec or (inner == prec and (right or op in ("pow", "power")))
            return f"({text})" if tight and inner != _ATOM else text

        if op in ("add", "sub", "mul", "div", "matmul", "power"):
            sym = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@",
                   "power": "**"}[op]
            return f"{wrap(arg_texts[0])} {sym} {wrap(arg_texts[1], True)}", prec
        if op == "neg":
            return f"-{wrap(arg_texts[0], True)}", prec
        if op == "pow":
            return f"{wrap(arg_texts[0])} ** {p['p']:g}", prec
        a = arg_texts[0][0]
        if op == "clip":
            lo, hi = p["lo"], p["hi"]
            bounds = (f"lo={lo:g}" if hi is None else f"hi={hi:g}" if lo is None
                      else f"{lo:g}, {hi:g}")
            return f"clip({a}, {bounds})", _ATOM
        if op in ("maximum", "minimum"):
            return f"{op}({a}, {arg_texts[1][0]})", _ATOM
        if op == "where":
            cond = p["cond"]
            mask = repr(bool(cond)) if cond.ndim == 0 else repr(cond.tolist())
            return f"where({mask}, {a}, {arg_texts[1][0]})", _ATOM
        if op in ("concatenate", "stack"):
            return f"{op}([{', '.join(t for t, _ in arg_texts)}], axis={p['axis']})", _ATOM
        if op == "broadcast_to":
            return f"broadcast_to({a}, {p['shape']})", _ATOM
        if op == "scatter":
            return f"scatter({a}, {p['shape']}, np.s_[{_index_text(p['index'])}])", _ATOM
        if op in ("sum", "mean", "max"):
            extra = "" if p["axis"] is None else f", axis={p['axis']}"
            extra += ", keepdims=True" if p["keepdims"] else ""
            return f"{op}({a}{extra})", _ATOM
        if op == "reshape":
            return f"reshape({a}, {p['shape']})", _ATOM
        if op == "transpose":
            return (f"transpose({a})" if p["axes"] is None
                    else f"transpose({a}, {p['axes']})"), _ATOM
        if op == "getitem":
            return f"{wrap(arg_texts[0])}[{_index_text(p['index'])}]", _ATOM
        return f"{op}({a})", _ATOM


def _index_text(index: Any) -> str:
    parts = index if type(index) is tuple else (index,)
    out = []
    for i in parts:
        if i is Ellipsis:
            out.append("...")
        elif i is None:
            out.append("None")
        elif isinstance(i, slice):
            out.append(("" if i.start is None else str(i.start)) + ":"
                       + ("" if i.stop is None else str(i.stop))
                       + ("" if i.step is None else f":{i.step}"))
        else:
            out.append(repr(i))
    return ", ".join(out)


class Expression:
    """A drawn differentiable function of Values; its repr is its formula.

    ``ops`` lists the operations it runs, in order; ``shapes`` the input shapes it was drawn for.
    """

    def __init__(self, steps: list[_Step], n_inputs: int, output: int,
                 shapes: tuple[Shape, ...]) -> None:
        self._steps = steps
        self.n_inputs = n_inputs
        self._output = output
        self.shapes = shapes
        self.ops: tuple[str, ...] = tuple(s.custom.name if s.custom else s.op for s in steps)
        self._text = self._formula()

    def __call__(self, *xs: Any) -> Value:
        if len(xs) != self.n_inputs:
            raise TypeError(f"{self._text}: takes {self.n_inputs} inputs, got {len(xs)}")
        nodes = list(xs)
        for step in self._steps:
            nodes.append(step.run(nodes))
        return nodes[self._output]

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return self._text

    def _formula(self) -> str:
        n = self.n_inputs
        uses = [0] * (n + len(self._steps))
        for step in self._steps:
            for a in step.args:
                if isinstance(a, int):
                    uses[a] += 1
        texts: list[tuple[str, int]] = [(f"x{i}", _ATOM) for i in range(n)]
        named: list[str] = []
        for k, step in enumerate(self._steps):
            args = [texts[a] if isinstance(a, int) else (a.text(), _ATOM if not
                    a.text().startswith("-") else 3) for a in step.args]
            text = step.text(args)
            if uses[n + k] > 1 and n + k != self._output:
                name = f"t{len(named)}"
                named.append(f"{name} = {text[0]}")
                text = (name, _ATOM)
            texts.append(text)
        head = f"f({', '.join(f'x{i}' for i in range(n))}) = {texts[self._output][0]}"
        return head + (f" where {'; '.join(named)}" if named else "")


# -- drawing a program --------------------------------------------------------------------


def _broadcasts(a: Shape, b: Shape) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _matmuls(a: Shape, b: Shape) -> bool:
    if not a or not b:
        return False
    k_b = b[0] if len(b) == 1 else b[-2]
    return a[-1] == k_b and _broadcasts(a[:-2], b[:-2])


def _data(v: Value) -> np.ndarray:
    return np.asarray(v.data, dtype=np.float64)


class _Builder:
    """Runs drawn instructions on concrete inputs, inserting guards, and records the steps."""

    def __init__(self, inputs: tuple[Value, ...]) -> None:
        self.nodes: list[Value] = list(inputs)
        self.steps: list[_Step] = []
        self.n_inputs = len(inputs)

    # committing and undoing steps
    def emit(self, step: _Step) -> int | None:
        """Run ``step`` on the drawn data; keep it if its result is small and every new node
        (those of a derived op too, like the sum inside a mean) is finite and bounded."""
        out = step.run(self.nodes)
        if not 0 < out.size <= _MAX_SIZE:
            return None
        known = {id(v) for v in self.nodes}
        stack = [out]
        while stack:
            v = stack.pop()
            if id(v) in known or not v._parents:
                continue
            known.add(id(v))
            d = _data(v)
            if not np.all(np.isfinite(d)) or np.max(np.abs(d)) > _BOUND:
                return None
            stack.extend(v._parents)
        self.steps.append(step)
        self.nodes.append(out)
        return len(self.nodes) - 1

    def mark(self) -> int:
        return len(self.steps)

    def undo(self, mark: int) -> None:
        del self.steps[mark:]
        del self.nodes[self.n_inputs + mark:]

    # guards: constant shifts that move an operand away from a kink or a pole
    def shift_positive(self, a: int) -> int | None:
        """``a`` itself when all its entries are >= the margin, else ``a + c`` that is."""
        low = float(np.min(_data(self.nodes[a])))
        if low >= _POLE_MARGIN:
            return a
        c = float(np.ceil((_POLE_MARGIN - low) * 2) / 2)
        return self.emit(_Step("add", (a, _Const(c)), {}))

    def shift_nonzero(self, a: int, margin: float, target: Any = 0.0) -> int | None:
        """``a`` itself when no entry is within ``margin`` of ``target`` (0, or the entries of
        another node: no ties), else ``a + c`` for a small c."""
        d = _data(self.nodes[a]) - target
        for k in range(0, 2 * int(_BOUND) + 4):
            c = (k + 1) // 2 * 0.5 * (1 if k % 2 else -1)
            if np.min(np.abs(d + c)) >= margin:
                return a if c == 0 else self.emit(_Step("add", (a, _Const(c)), {}))
        return None  # pragma: no cover - impossible for at most _MAX_SIZE entries

    def squash(self, a: int) -> int | None:
        return self.emit(_Step("tanh", (a,), {}))

    def guard(self, a: int, domain: str, margin: float = _POLE_MARGIN) -> int | None:
        if domain == "positive":
            return self.shift_positive(a)
        if domain == "nonzero":
            return self.shift_nonzero(a, margin)
        return a

    # candidates for operands
    def pick_last(self, i: int, ok: Callable[[Shape], bool] = lambda s: True) -> int | None:
        """For i < 10 the newest result whose shape passes ``ok`` (x0 before any), else another.

        Candidates run from the newest result back to the first, then x0, x1, ...: mostly the
        newest, so that programs are chains rather than dead branches, and x0 before the other
        inputs, so that a failing program shrinks to one input.
        """
        n = self.n_inputs
        order = [*range(len(self.nodes) - 1, n - 1, -1), *range(n)]
        found = [k for k in order if ok(self.nodes[k].shape)]
        if not found:
            return None
        return found[0] if i < 10 else found[(i - 9) % len(found)]

    def pick_dims(self, i: int, ndim: int,
                  prep: Callable[[int | None], int | None]) -> int | None:
        """`pick_last` of a node with at least ``ndim`` axes; when there is none, the newest
        node reshaped to ``(1, ..., size)``, so that an operation that needs axes (transpose,
        getitem, matmul, concatenate) is drawn whatever the shapes drawn before it."""
        a = prep(self.pick_last(i, lambda s: len(s) >= ndim))
        if a is not None:
            return a
        a = prep(self.pick_last(i))
        if a is None:  # pragma: no cover - pick_last without a condition always finds one
            return None
        shape = (1,) * (ndim - 1) + (self.nodes[a].size,)
        return self.emit(_Step("reshape", (a,), {"shape": shape}))

    def pick_first(self, j: int, ok: Callable[[Shape], bool]) -> int | None:
        """The j-th node (counting from x0) whose shape passes ``ok``."""
        found = [k for k in range(len(self.nodes)) if ok(self.nodes[k].shape)]
        return found[j % len(found)] if found else None

    def shape(self, a: int) -> Shape:
        return self.nodes[a].shape

    # one instruction
    def apply(self, op: str | Op, i: int, j: int, k: int) -> None:
        mark = self.mark()
        if self._apply(op, i, j, k, squash=False) is None:
            self.undo(mark)
            if self._apply(op, i, j, k, squash=True) is None:
                self.undo(mark)

    def _apply(self, op: str | Op, i: int, j: int, k: int, squash: bool) -> int | None:
        def prep(a: int | None) -> int | None:
            return self.squash(a) if squash and a is not None else a

        if isinstance(op, Op):
            a = prep(self.pick_last(i))
            if a is None:
                return None
            args: list[int] = []
            a_shape = self.shape(a)
            if op.arity == 2:
                b = prep(self.pick_first(j, lambda s: _broadcasts(s, a_shape)))
                if b is None:
                    return None
                args.append(b)
            args.insert(0, a)
            guarded = [self.guard(x, op.domain, _KINK_MARGIN if op.domain == "nonzero"
                                  else _POLE_MARGIN) for x in args]
            if any(g is None for g in guarded):
                return None
            return self.emit(_Step(op.name, tuple(guarded), {}, custom=op))

        if op in _UNARY or op == "neg":
            a = prep(self.pick_last(i))
            if a is None:
                return None
            if op in ("relu", "abs"):
                a = self.shift_nonzero(a, _KINK_MARGIN)
            elif op in ("log", "sqrt"):
                a = self.shift_positive(a)
            return None if a is None else self.emit(_Step(op, (a,), {}))

        if op == "clip":
            return self._clip(i, j, k, prep)

        if op in ("maximum", "minimum", "where"):
            return self._select(op, i, j, k, prep)

        if op in ("concatenate", "stack"):
            return self._join(op, i, j, k, prep)

        if op in ("broadcast_to", "scatter"):
            a = prep(self.pick_last(i))
            if a is None:
                return None
            params = (self._broadcast_params if op == "broadcast_to" else
                      self._scatter_params)(self.shape(a), k)
            return self.emit(_Step(op, (a,), params))

        if op in ("add", "sub", "mul", "div", "power"):
            return self._binary(op, i, j, k, prep)

        if op == "pow":
            a = prep(self.pick_last(i))
            p = _POWERS[k % len(_POWERS)]
            if a is None:
                return None
            if p != int(p):
                a = self.shift_positive(a)
            elif p < 0:
                a = self.shift_nonzero(a, _POLE_MARGIN)
            return None if a is None else self.emit(_Step("pow", (a,), {"p": p}))

        if op in ("sum", "mean", "max"):
            a = prep(self.pick_last(i))
            if a is None:
                return None
            nd = len(self.shape(a))
            axes: list[Any] = [None, *range(nd), *range(-1, -nd - 1, -1)]
            if nd >= 2:
                axes.append((0, nd - 1))
            axis = axes[k % len(axes)]
            params = {"axis": axis, "keepdims": bool(j % 2) and nd > 0}
            if op == "max":
                a = self._break_ties(a, axis)
            return None if a is None else self.emit(_Step(op, (a,), params))

        if op == "reshape":
            a = prep(self.pick_last(i))
            if a is None:
                return None
            shape, size = self.shape(a), self.nodes[a].size
            options = [(size,), (1, size), (size, 1), tuple(reversed(shape)), (-1,)]
            if size == 1:
                options.append(())
            return self.emit(_Step("reshape", (a,), {"shape": options[k % len(options)]}))

        if op == "transpose":
            a = self.pick_dims(i, 2, prep)
            if a is None:
                return None
            nd = len(self.shape(a))
            perms: list[Any] = [None, *itertools.permutations(range(nd))]
            return self.emit(_Step("transpose", (a,), {"axes": perms[k % len(perms)]}))

        if op == "getitem":
            a = self.pick_dims(i, 1, prep)
            if a is None:
                return None
            n0 = self.shape(a)[0]
            indices: list[Any] = [0, -1, slice(1, None), slice(None, None, -1),
                                  [0, n0 - 1, 0], (Ellipsis, 0), (slice(None), None)]
            for t in range(len(indices)):
                index = indices[(k + t) % len(indices)]
                if index == slice(1, None) and n0 == 1:
                    continue
                return self.emit(_Step("getitem", (a,), {"index": index}))
            return None  # pragma: no cover

        if op == "matmul":
            a = self.pick_dims(i, 1, prep)
            if a is None:
                return None
            b = self.pick_first(j, lambda s: _matmuls(self.shape(a), s))
            if b is None:  # a @ a.T (or a @ a for a vector) always multiplies
                if len(self.shape(a)) == 1:
                    b = a
                else:
                    nd = len(self.shape(a))
                    axes_t = (*range(nd - 2), nd - 1, nd - 2)
                    b = self.emit(_Step("transpose", (a,), {"axes": None if nd == 2 else axes_t}))
            else:
                b = prep(b)
            return None if b is None else self.emit(_Step("matmul", (a, b), {}))

        raise ValueError(f"expressions(): unknown operation {op!r}; known: {', '.join(OPS)}")

    def _binary(self, op: str, i: int, j: int, k: int,
                prep: Callable[[int | None], int | None]) -> int | None:
        a = prep(self.pick_last(i))
        if a is None:
            return None
        mode = k % 8  # 0-3: a second node, 4-5: a constant on the right, 6-7: on the left
        args: list[Any]
        if mode < 4:
            b = prep(self.pick_first(j, lambda s: _broadcasts(s, self.shape(a))))
            if b is None:
                return None
            args = [a, b]
        else:
            c = _Const(_CONSTANTS[j % len(_CONSTANTS)])
            args = [a, c] if mode < 6 else [c, a]
        if op == "div" and isinstance(args[1], int):
            args[1] = self.shift_nonzero(args[1], _POLE_MARGIN)
        if op == "power":  # a Value exponent: node ** node, or number ** node
            if isinstance(args[1], _Const) or isinstance(args[0], _Const):
                args = [_Const(abs(_CONSTANTS[j % len(_CONSTANTS)])), a]
            else:
                args[0] = self.shift_positive(args[0])
        if any(x is None for x in args):
            return None
        return self.emit(_Step(op, tuple(args), {}))

    def _clip(self, i: int, j: int, k: int,
              prep: Callable[[int | None], int | None]) -> int | None:
        """clip(a, lo, hi), lo or hi (or both) on a grid of halves around a's median, each
        bound at least the kink margin away from every entry of a."""
        a = prep(self.pick_last(i))
        if a is None:
            return None
        d = _data(self.nodes[a])
        grid = [float(c) for c in np.arange(-_BOUND, _BOUND + 0.5, 0.5)
                if np.min(np.abs(d - c)) >= _KINK_MARGIN]
        middle = float(np.median(d))
        below = [c for c in reversed(grid) if c < middle]  # nearest first
        above = [c for c in grid if c > middle]
        mode = k % 3  # 0: both bounds, 1: lo only, 2: hi only
        lo = below[j % len(below)] if below and mode != 2 else None
        hi = above[(k // 3) % len(above)] if above and mode != 1 else None
        if lo is None and hi is None:  # pragma: no cover - the grid spans more than the data
            return None
        return self.emit(_Step("clip", (a,), {"lo": lo, "hi": hi}))

    def _select(self, op: str, i: int, j: int, k: int,
                prep: Callable[[int | None], int | None]) -> int | None:
        """maximum(a, b) and minimum(a, b) with a kept away from ties with b (b a node or a
        constant); where(cond, a, b) with a mask of the broadcast shape drawn from k's bits."""
        a = prep(self.pick_last(i))
        if a is None:
            return None
        a_shape = self.shape(a)
        b: Any
        if k % 4 == 3:
            b = _Const(_CONSTANTS[j % len(_CONSTANTS)])
        else:
            b = prep(self.pick_first(j, lambda s: _broadcasts(s, a_shape)))
            if b is None:
                return None
        other = b.value if isinstance(b, _Const) else _data(self.nodes[b])
        if op == "where":
            full = np.broadcast_shapes(a_shape, np.shape(other))
            bits = (k >> (np.arange(int(np.prod(full))) % 4)) & 1
            return self.emit(_Step(op, (a, b), {"cond": bits.astype(bool).reshape(full)}))
        a = self.shift_nonzero(a, _KINK_MARGIN, target=other)
        return None if a is None else self.emit(_Step(op, (a, b), {}))

    def _join(self, op: str, i: int, j: int, k: int,
              prep: Callable[[int | None], int | None]) -> int | None:
        """concatenate (along an axis where the operands may differ) or stack (of one shape) of
        two or three nodes; a itself is always a fitting operand."""
        a = self.pick_dims(i, 1 if op == "concatenate" else 0, prep)
        if a is None:
            return None
        sa = self.shape(a)
        nd = len(sa) if op == "concatenate" else len(sa) + 1
        axis = k % nd

        def fits(s: Shape) -> bool:
            if op == "stack":
                return s == sa
            return len(s) == len(sa) and all(x == y for t, (x, y) in enumerate(zip(s, sa))
                                             if t != axis)

        args = [a]
        for t in range(1 + (k // 8)):  # k < 8: two operands, else three
            b = prep(self.pick_first(j + t, fits))
            if b is None:
                return None
            args.append(b)
        axis = axis - nd if (k // 4) % 2 else axis  # a negative axis now and then
        return self.emit(_Step(op, tuple(args), {"axis": axis}))

    @staticmethod
    def _broadcast_params(shape: Shape, k: int) -> dict[str, Any]:
        """A bigger shape ``shape`` broadcasts to: new leading axes, or sides 1 made 2."""
        options = [(2, *shape), (3, *shape), (2, 1, *shape)]
        if 1 in shape:
            options.insert(1, tuple(2 if n == 1 else n for n in shape))
        return {"shape": options[k % len(options)]}

    @staticmethod
    def _scatter_params(shape: Shape, k: int) -> dict[str, Any]:
        """A shape and an index such that ``zeros(shape)[index]`` has the operand's shape:
        one row of a new axis, a slice, a reversal, or repeated rows (that add up)."""
        options: list[tuple[Shape, Any]] = [((2, *shape), k % 2)]
        if shape:
            n, rest = shape[0], shape[1:]
            options += [((n + 1, *rest), slice(1, None)), ((n, *rest), slice(None, None, -1)),
                        ((max(n - 1, 1), *rest), [min(t, max(n - 2, 0)) for t in range(n)])]
        new_shape, index = options[k % len(options)]
        return {"shape": new_shape, "index": index}

    def _break_ties(self, a: int, axis: Any) -> int | None:
        """``a`` when each slice's maximum leads by the margin, else ``a + c`` with a ramp c."""
        d = _data(self.nodes[a])
        if self._leads(d, axis):
            return a
        ramp = np.arange(d.size, dtype=np.float64).reshape(d.shape)
        for delta in (0.1, 0.3, 0.7, 1.3, 2.9):
            c = np.round(delta * ramp, 6)
            if self._leads(d + c, axis):
                return self.emit(_Step("add", (a, _Const(c if d.ndim else float(c))), {}))
        return None

    @staticmethod
    def _leads(d: np.ndarray, axis: Any) -> bool:
        if d.ndim == 0:
            return True
        axes = tuple(range(d.ndim)) if axis is None else np.atleast_1d(axis)
        axes = tuple(int(x) % d.ndim for x in axes)
        rest = tuple(x for x in range(d.ndim) if x not in axes)
        flat = np.transpose(d, rest + axes).reshape(
            int(np.prod([d.shape[x] for x in rest])), -1)
        if flat.shape[1] < 2:
            return True
        top2 = np.sort(flat, axis=1)[:, -2:]
        return bool(np.all(top2[:, 1] - top2[:, 0] >= _KINK_MARGIN))

    def finish(self, shapes: tuple[Shape, ...]) -> Expression:
        """Drop the steps the output does not use; renumber the rest."""
        output = len(self.nodes) - 1
        live = {output}
        for k in range(len(self.steps) - 1, -1, -1):
            if self.n_inputs + k in live:
                live.update(a for a in self.steps[k].args if isinstance(a, int))
        new_index = {x: x for x in range(self.n_inputs)}
        steps: list[_Step] = []
        for k, step in enumerate(self.steps):
            node = self.n_inputs + k
            if node in live:
                new_index[node] = self.n_inputs + len(steps)
                args = tuple(new_index[a] if isinstance(a, int) else a for a in step.args)
                steps.append(_Step(step.op, args, step.params, step.custom))
        return Expression(steps, self.n_inputs, new_index[output], shapes)


def _resolve_ops(ops: Sequence[str | Op | Primitive] | None) -> list[str | Op]:
    if ops is None:
        return list(OPS)
    resolved: list[str | Op] = []
    for op in ops:
        if isinstance(op, str):
            if op not in OPS:
                raise ValueError(f"expressions(): unknown operation {op!r}; known: "
                                 f"{', '.join(OPS)}")
            resolved.append(op)
        elif isinstance(op, Op):
            resolved.append(op)
        elif isinstance(op, Primitive) or callable(op):
            resolved.append(Op(op))
        else:
            raise TypeError(f"expressions(): ops must be names, Op or primitives, got {op!r}")
    if not resolved:
        raise ValueError("expressions(): ops is empty")
    return resolved


def expressions(max_ops: int = 6, ops: Sequence[str | Op | Primitive] | None = None, *,
                min_ops: int = 1, max_inputs: int = 3, max_dims: int = 3, max_side: int = 3,
                min_value: float = -3.0, max_value: float = 3.0,
                ) -> st.SearchStrategy[tuple[Expression, tuple[Value, ...]]]:
    """Random differentiable graphs: draws ``(f, inputs)`` so that ``gradcheck(f, *inputs)``
    must pass.

    ``ops`` chooses the operations (names from `OPS`, default all of them: every primitive of
    the op table and the derived ops), custom primitives, or `Op` (a custom op with its domain).
    Inputs (1 to ``max_inputs`` Values with broadcast-compatible shapes, scalars included) are
    drawn in [min_value, max_value]; every node's entries stay within +-20.
    """
    if ops is not None and (isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence)):
        raise TypeError(f"expressions(): ops must be a list of operations, got "
                        f"{type(ops).__name__} {ops!r}")
    vocabulary = _resolve_ops(ops)
    min_ops = _checks.integer("expressions()", "min_ops", min_ops, minimum=0)
    max_ops = _checks.integer("expressions()", "max_ops", max_ops, minimum=0)
    _checks.integer("expressions()", "max_inputs", max_inputs, minimum=1)
    _check_dims("expressions()", 0, max_dims, 1, max_side)
    _check_bounds("expressions()", min_value, max_value)
    if not 0 <= min_ops <= max_ops:
        raise ValueError(f"expressions(): need 0 <= min_ops <= max_ops, got {min_ops}, {max_ops}")
    instruction = st.tuples(st.sampled_from(vocabulary), st.integers(0, 15),
                            st.integers(0, 15), st.integers(0, 15))

    # The draws come in an order that shrinks well: the program first, then the inputs one
    # after the other (each its shape, a broadcastable part of a common one, then its data),
    # so dropping the last inputs or simplifying one leaves the other draws as they were.
    @st.composite
    def draw_expression(draw: Any) -> tuple[Expression, tuple[Value, ...]]:
        program = draw(st.lists(instruction, min_size=min_ops, max_size=max_ops))
        n = draw(st.integers(1, max_inputs))
        common = draw(shapes(max_dims=max_dims, max_side=max_side))
        inputs = []
        for t in range(n):
            ndim = len(common) - draw(st.integers(0, len(common)))  # trailing dimensions
            ones = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
            shape = tuple(1 if one else side
                          for one, side in zip(ones, common[len(common) - ndim:]))
            inputs.append(draw(values(shape, min_value, max_value, label=f"x{t}")))
        in_shapes = tuple(x.shape for x in inputs)
        builder = _Builder(tuple(inputs))
        for op, i, j, k in program:
            builder.apply(op, i, j, k)
        return builder.finish(in_shapes), tuple(inputs)

    return draw_expression()

