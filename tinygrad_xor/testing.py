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

What each operation is (its operands, domain, parameters, how it runs and prints) is one record
of `tinygrad_xor._operations.TABLE`; this module draws programs from the records.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_xor.testing needs hypothesis: pip install 'tinygrad_xor[test]'"
                      ) from exc

from . import Primitive, Value, walk
from ._operations import (
    ATOM,
    BOUND,
    KINK_MARGIN,
    POLE_MARGIN,
    TABLE,
    Const,
    Operation,
    Shape,
    Step,
    custom,
)
from .core import checks as _checks

__all__ = ["values", "shapes", "broadcastable_shapes", "mutually_broadcastable_shapes",
           "matmul_shapes", "values_for", "expressions", "Expression", "Op", "OPS",
           "ELEMENTWISE"]

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
ELEMENTWISE = tuple(name for name, op in TABLE.items() if op.elementwise)
#: Every operation expressions() knows: the primitives of `ops.PRIMITIVES` (the internal
#: broadcast_to and scatter included) and the derived ops.
OPS = tuple(TABLE)

_DOMAINS = ("real", "positive", "nonzero")  # the domains of `_operations.DOMAINS` users name
_MAX_SIZE = 36  # no node has more entries than this (keeps gradcheck fast)


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


# -- a drawn program ------------------------------------------------------------------------


class Expression:
    """A drawn differentiable function of Values; its repr is its formula.

    ``ops`` lists the operations it runs, in order; ``shapes`` the input shapes it was drawn for.
    """

    def __init__(self, steps: list[Step], n_inputs: int, output: int,
                 shapes: tuple[Shape, ...]) -> None:
        self._steps = steps
        self.n_inputs = n_inputs
        self._output = output
        self.shapes = shapes
        self.ops: tuple[str, ...] = tuple(s.op.name for s in steps)
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
        texts: list[tuple[str, int]] = [(f"x{i}", ATOM) for i in range(n)]
        named: list[str] = []
        for k, step in enumerate(self._steps):
            args = [texts[a] if isinstance(a, int) else (a.text(), ATOM if not
                    a.text().startswith("-") else 3) for a in step.args]
            text = step.op.text(args, step.params)
            if uses[n + k] > 1 and n + k != self._output:
                name = f"t{len(named)}"
                named.append(f"{name} = {text[0]}")
                text = (name, ATOM)
            texts.append(text)
        head = f"f({', '.join(f'x{i}' for i in range(n))}) = {texts[self._output][0]}"
        return head + (f" where {'; '.join(named)}" if named else "")


def _data(v: Value) -> np.ndarray:
    return np.asarray(v.data, dtype=np.float64)


class _Builder:
    """Runs drawn instructions on concrete inputs, inserting guards, and records the steps.

    An instruction ``(op, i, j, k)`` names an `Operation` of the table and three small numbers
    its `pick` and `params` read (which operands, which axis, ...); the domain of each operand
    is then made to hold by a constant shift (`guard`).
    """

    def __init__(self, inputs: tuple[Value, ...]) -> None:
        self.nodes: list[Value] = list(inputs)
        self.steps: list[Step] = []
        self.n_inputs = len(inputs)

    # committing and undoing steps
    def emit(self, step: Step) -> int | None:
        """Run ``step`` on the drawn data; keep it if its result is small and every new node
        (those of a derived op too, like the sum inside a mean) is finite and bounded."""
        out = step.run(self.nodes)
        if not 0 < out.size <= _MAX_SIZE:
            return None
        known = {id(v) for v in self.nodes}
        for v in walk(out):
            if id(v) in known or not v.parents:
                continue
            d = _data(v)
            if not np.all(np.isfinite(d)) or np.max(np.abs(d)) > BOUND:
                return None
        self.steps.append(step)
        self.nodes.append(out)
        return len(self.nodes) - 1

    def mark(self) -> int:
        return len(self.steps)

    def undo(self, mark: int) -> None:
        del self.steps[mark:]
        del self.nodes[self.n_inputs + mark:]

    def _shift(self, a: int, c: Any) -> int | None:
        return self.emit(Step(TABLE["add"], (a, Const(c)), {}))

    # guards: constant shifts that move an operand into its domain
    def guard(self, args: list[Any], domains: tuple[str, ...],
              params: dict[str, Any]) -> list[Any] | None:
        """``args`` with each node operand moved into its domain (a name of `DOMAINS`)."""
        args = list(args)
        for t, (a, domain) in enumerate(zip(args, domains)):
            if not isinstance(a, int) or domain == "real":
                continue
            if domain == "positive":
                g = self.shift_positive(a)
            elif domain in ("pole", "nonzero"):
                g = self.shift_nonzero(a, POLE_MARGIN if domain == "pole" else KINK_MARGIN)
            elif domain == "untied":  # no ties with the other operand
                g = self.shift_nonzero(a, KINK_MARGIN, target=self.data(args[1 - t]))
            elif domain == "leading":
                g = self.break_ties(a, params["axis"])
            else:  # pragma: no cover - the table's test checks the names
                raise AssertionError(f"unknown domain {domain!r}")
            if g is None:
                return None
            args[t] = g
        return args

    def shift_positive(self, a: int) -> int | None:
        """``a`` itself when all its entries are >= the margin, else ``a + c`` that is."""
        low = float(np.min(_data(self.nodes[a])))
        if low >= POLE_MARGIN:
            return a
        return self._shift(a, float(np.ceil((POLE_MARGIN - low) * 2) / 2))

    def shift_nonzero(self, a: int, margin: float, target: Any = 0.0) -> int | None:
        """``a`` itself when no entry is within ``margin`` of ``target`` (0, or the entries of
        another node: no ties), else ``a + c`` for a small c."""
        d = _data(self.nodes[a]) - target
        for k in range(0, 2 * int(BOUND) + 4):
            c = (k + 1) // 2 * 0.5 * (1 if k % 2 else -1)
            if np.min(np.abs(d + c)) >= margin:
                return a if c == 0 else self._shift(a, c)
        return None  # pragma: no cover - impossible for at most _MAX_SIZE entries

    def break_ties(self, a: int, axis: Any) -> int | None:
        """``a`` when each slice's maximum leads by the margin, else ``a + c`` with a ramp c."""
        d = _data(self.nodes[a])
        if self._leads(d, axis):
            return a
        ramp = np.arange(d.size, dtype=np.float64).reshape(d.shape)
        for delta in (0.1, 0.3, 0.7, 1.3, 2.9):
            c = np.round(delta * ramp, 6)
            if self._leads(d + c, axis):
                return self._shift(a, c if d.ndim else float(c))
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
        return bool(np.all(top2[:, 1] - top2[:, 0] >= KINK_MARGIN))

    def squash(self, a: int) -> int | None:
        return self.emit(Step(TABLE["tanh"], (a,), {}))

    # what the records' pick and params read (`_operations.Program`)
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
        return self.emit(Step(TABLE["reshape"], (a,), {"shape": shape}))

    def pick_first(self, j: int, ok: Callable[[Shape], bool]) -> int | None:
        """The j-th node (counting from x0) whose shape passes ``ok``."""
        found = [k for k in range(len(self.nodes)) if ok(self.nodes[k].shape)]
        return found[j % len(found)] if found else None

    def shape(self, a: int) -> Shape:
        return self.nodes[a].shape

    def size(self, a: int) -> int:
        return self.nodes[a].size

    def data(self, a: int | Const) -> np.ndarray:
        """A node's entries, or a constant's, as float64."""
        return np.asarray(a.value if isinstance(a, Const) else self.nodes[a].data,
                          dtype=np.float64)

    # one instruction
    def apply(self, op: Operation, i: int, j: int, k: int) -> None:
        """Add ``op``'s step; when it fails (a node out of bounds), try again with the
        operands squashed by tanh; when that fails too, add nothing."""
        mark = self.mark()
        if self._apply(op, i, j, k, squash=False) is None:
            self.undo(mark)
            if self._apply(op, i, j, k, squash=True) is None:
                self.undo(mark)

    def _apply(self, op: Operation, i: int, j: int, k: int, squash: bool) -> int | None:
        def prep(a: int | None) -> int | None:
            return self.squash(a) if squash and a is not None else a

        args = op.pick(self, i, j, k, prep)
        params = None if args is None else op.params(self, args, j, k)
        if args is None or params is None:
            return None
        guarded = self.guard(args, op.domains(params), params)
        return None if guarded is None else self.emit(Step(op, tuple(guarded), params))

    def finish(self, shapes: tuple[Shape, ...]) -> Expression:
        """Drop the steps the output does not use; renumber the rest."""
        output = len(self.nodes) - 1
        live = {output}
        for k in range(len(self.steps) - 1, -1, -1):
            if self.n_inputs + k in live:
                live.update(a for a in self.steps[k].args if isinstance(a, int))
        new_index = {x: x for x in range(self.n_inputs)}
        steps: list[Step] = []
        for k, step in enumerate(self.steps):
            node = self.n_inputs + k
            if node in live:
                new_index[node] = self.n_inputs + len(steps)
                args = tuple(new_index[a] if isinstance(a, int) else a for a in step.args)
                steps.append(Step(step.op, args, step.params))
        return Expression(steps, self.n_inputs, new_index[output], shapes)


def _resolve_ops(ops: Sequence[str | Op | Primitive] | None) -> list[Operation]:
    if ops is None:
        return list(TABLE.values())
    resolved: list[Operation] = []
    for op in ops:
        if isinstance(op, str):
            if op not in TABLE:
                raise ValueError(f"expressions(): unknown operation {op!r}; known: "
                                 f"{', '.join(OPS)}")
            resolved.append(TABLE[op])
            continue
        if not isinstance(op, Op):
            if not (isinstance(op, Primitive) or callable(op)):
                raise TypeError(f"expressions(): ops must be names, Op or primitives, got "
                                f"{op!r}")
            op = Op(op)
        resolved.append(custom(op.prim, op.name, op.arity, op.domain))
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

