"""The operations `tinygrad_xor.testing` draws: one record each, in one table.

An `Operation` holds all that the strategies, the checks and the printer know about one
operation: its name and arity, how its operands are picked among the nodes drawn so far, the
domain they must lie in (log's operand positive, relu's away from its kink), the parameters it
draws (an axis, clip bounds, an exponent), how to run it on Values and how to print it in a
drawn formula. `TABLE` lists them; `testing.expressions` reads nothing else, so drawing a new
primitive is adding one record (`missing` names a primitive of the op table that has none).

A record's `pick` and `params` work on the program being drawn through the few methods of
`Program`; the drawing itself (the guards that shift an operand into its domain, the bounds
on every node) is `testing._Builder`'s. This module imports the core only, not hypothesis.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import Value, maximum, minimum, where
from .core import operators as _operators
from .core import ops as _ops

Shape = tuple[int, ...]
Args = list[Any]  # a step's operands: node indices (ints) and constants (`Const`)

# Constants a binary operation may take instead of a second node, and the exponents of `pow`.
CONSTANTS = (2.0, 0.5, -1.5, 3.0)
POWERS = (2.0, 3.0, -1.0, 0.5, -0.5, 1.5, -2.0)
BOUND = 20.0        # every node's entries stay within +-BOUND (else squash or skip the step)
KINK_MARGIN = 0.05  # relu inputs stay this far from 0, max's winner this far ahead
POLE_MARGIN = 0.25  # log, 1/x, x ** 0.5 ... see operands at least this far from 0
ATOM = 9            # the precedence of a name, a number or a call: never parenthesised

#: The domains an operand may be asked to lie in; the builder shifts it there by a constant.
DOMAINS = {
    "real": "anywhere",
    "positive": f"x >= {POLE_MARGIN} (log, sqrt, fractional powers, a Value exponent's base)",
    "pole": f"|x| >= {POLE_MARGIN} (1/x, negative powers)",
    "nonzero": f"|x| >= {KINK_MARGIN} (a kink at 0: relu, abs)",
    "untied": f"|x - y| >= {KINK_MARGIN} for the other operand y (maximum, minimum)",
    "leading": f"each maximum ahead of the rest of its slice by {KINK_MARGIN} (max)",
}

#: Primitives of the op table that drawn programs leave out, each with its reason.
LEFT_OUT = {
    "mask": "only rules build it, on Values: a mask read from the data (no user writes it)",
    "keep": "only rules and `where` of a computed condition build it (no user writes it)",
}


class Const:
    """A constant operand of a step (a float or an ndarray)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def text(self) -> str:
        v = self.value
        if isinstance(v, np.ndarray):
            return repr(np.round(v, 6).tolist())
        return f"{v:g}"


class Program(Protocol):
    """What a record's `pick` and `params` may ask of the program being drawn, whose nodes are
    numbered: the inputs, then one per step. The numbers ``i``, ``j`` and ``k`` of an
    instruction choose: ``i`` the first operand (mostly the newest node), ``j`` the others
    or a constant, ``k`` a mode, an axis or a parameter."""

    # the i-th candidate that passes ok, newest first; the j-th, x0 first
    def pick_last(self, i: int, ok: Callable[[Shape], bool] = ...) -> int | None: ...
    def pick_first(self, j: int, ok: Callable[[Shape], bool]) -> int | None: ...
    # pick_last of a node with ndim axes at least (reshaped when none has them)
    def pick_dims(self, i: int, ndim: int, prep: Prep) -> int | None: ...
    def shape(self, a: int) -> Shape: ...
    def size(self, a: int) -> int: ...
    def data(self, a: Any) -> np.ndarray: ...  # a node's or a Const's entries, float64
    def emit(self, step: Step) -> int | None: ...  # a new node (None: out of bounds)


Prep = Callable[[int | None], int | None]  # squashes a picked operand (or not)
Pick = Callable[[Program, int, int, int, Prep], "Args | None"]
Params = Callable[[Program, Args, int, int], "dict[str, Any] | None"]


def _listed(*args: Any) -> Args | None:
    return None if any(a is None for a in args) else list(args)


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


# -- how operands are picked: (program, i, j, k, prep) -> operands ------------------------------


def one(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """The newest node (for i < 10), or another."""
    return _listed(prep(p.pick_last(i)))


def with_axes(ndim: int) -> Pick:
    """One node with at least ``ndim`` axes (a reshaped one if there is none)."""
    return lambda p, i, j, k, prep: _listed(p.pick_dims(i, ndim, prep))


def two(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """A node and the j-th node that broadcasts with it."""
    a = prep(p.pick_last(i))
    if a is None:
        return None
    return _listed(a, prep(p.pick_first(j, lambda s: _broadcasts(s, p.shape(a)))))


def arithmetic(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """Two nodes (k % 8 < 4), a node and a constant (4, 5) or a constant and a node (6, 7)."""
    if k % 8 < 4:
        return two(p, i, j, k, prep)
    a = prep(p.pick_last(i))
    c = Const(CONSTANTS[j % len(CONSTANTS)])
    return None if a is None else [a, c] if k % 8 < 6 else [c, a]


def exponent(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """node ** node, or a positive number ** node."""
    args = arithmetic(p, i, j, k, prep)
    if args is None or all(isinstance(x, int) for x in args):
        return args
    node = args[0] if isinstance(args[0], int) else args[1]
    return [Const(abs(CONSTANTS[j % len(CONSTANTS)])), node]


def compared(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """A node and another that broadcasts with it, or a constant (k % 4 == 3)."""
    if k % 4 != 3:
        return two(p, i, j, k, prep)
    a = prep(p.pick_last(i))
    return None if a is None else [a, Const(CONSTANTS[j % len(CONSTANTS)])]


def product(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
    """a @ b, where b is a node that fits, else a.T (a itself for a vector)."""
    a = p.pick_dims(i, 1, prep)
    if a is None:
        return None
    b = p.pick_first(j, lambda s: _matmuls(p.shape(a), s))
    if b is None:  # a @ a.T (or a @ a for a vector) always multiplies
        nd = len(p.shape(a))
        if nd == 1:
            b = a
        else:
            axes = None if nd == 2 else (*range(nd - 2), nd - 1, nd - 2)
            b = p.emit(Step(TABLE["transpose"], (a,), {"axes": axes}))
    else:
        b = prep(b)
    return _listed(a, b)


def _join_axis(shape: Shape, k: int, new_axis: bool) -> tuple[int, int]:
    nd = len(shape) + new_axis
    return k % nd, nd


def joined(new_axis: bool) -> Pick:
    """Two (k < 8) or three nodes that concatenate along axis k % ndim (or stack: one shape);
    the first node itself always fits."""
    def pick(p: Program, i: int, j: int, k: int, prep: Prep) -> Args | None:
        a = p.pick_dims(i, 0 if new_axis else 1, prep)
        if a is None:
            return None
        sa = p.shape(a)
        axis, _ = _join_axis(sa, k, new_axis)

        def fits(s: Shape) -> bool:
            if new_axis:
                return s == sa
            return len(s) == len(sa) and all(x == y for t, (x, y) in enumerate(zip(s, sa))
                                             if t != axis)

        args = [a]
        for t in range(1 + (k // 8)):
            b = prep(p.pick_first(j + t, fits))
            if b is None:
                return None
            args.append(b)
        return args
    return pick


# -- the parameters an operation draws: (program, operands, j, k) -> params -------------------


def no_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    return {}


def power_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    return {"p": POWERS[k % len(POWERS)]}


def reduce_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    """None, each axis (counted from both ends), the first and last together; keepdims."""
    nd = len(p.shape(args[0]))
    axes: list[Any] = [None, *range(nd), *range(-1, -nd - 1, -1)]
    if nd >= 2:
        axes.append((0, nd - 1))
    return {"axis": axes[k % len(axes)], "keepdims": bool(j % 2) and nd > 0}


def reshape_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    shape, size = p.shape(args[0]), p.size(args[0])
    options = [(size,), (1, size), (size, 1), tuple(reversed(shape)), (-1,)]
    if size == 1:
        options.append(())
    return {"shape": options[k % len(options)]}


def transpose_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    perms: list[Any] = [None, *itertools.permutations(range(len(p.shape(args[0]))))]
    return {"axes": perms[k % len(perms)]}


def index_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    n0 = p.shape(args[0])[0]
    indices: list[Any] = [0, -1, slice(1, None), slice(None, None, -1),
                          [0, n0 - 1, 0], (Ellipsis, 0), (slice(None), None)]
    for t in range(len(indices)):
        index = indices[(k + t) % len(indices)]
        if not (index == slice(1, None) and n0 == 1):
            return {"index": index}
    return None  # pragma: no cover


def join_params(new_axis: bool) -> Params:
    """The axis `joined` chose, now and then negative."""
    def params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
        axis, nd = _join_axis(p.shape(args[0]), k, new_axis)
        return {"axis": axis - nd if (k // 4) % 2 else axis}
    return params


def broadcast_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    """A bigger shape the operand broadcasts to: new leading axes, or sides 1 made 2."""
    shape = p.shape(args[0])
    options = [(2, *shape), (3, *shape), (2, 1, *shape)]
    if 1 in shape:
        options.insert(1, tuple(2 if n == 1 else n for n in shape))
    return {"shape": options[k % len(options)]}


def scatter_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    """A shape and an index such that ``zeros(shape)[index]`` has the operand's shape:
    one row of a new axis, a slice, a reversal, or repeated rows (that add up)."""
    shape = p.shape(args[0])
    options: list[tuple[Shape, Any]] = [((2, *shape), k % 2)]
    if shape:
        n, rest = shape[0], shape[1:]
        options += [((n + 1, *rest), slice(1, None)), ((n, *rest), slice(None, None, -1)),
                    ((max(n - 1, 1), *rest), [min(t, max(n - 2, 0)) for t in range(n)])]
    new_shape, index = options[k % len(options)]
    return {"shape": new_shape, "index": index}


def clip_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    """lo or hi (or both) on a grid of halves around the operand's median, each bound at least
    the kink margin away from every entry."""
    d = p.data(args[0])
    grid = [float(c) for c in np.arange(-BOUND, BOUND + 0.5, 0.5)
            if np.min(np.abs(d - c)) >= KINK_MARGIN]
    middle = float(np.median(d))
    below = [c for c in reversed(grid) if c < middle]  # nearest first
    above = [c for c in grid if c > middle]
    mode = k % 3  # 0: both bounds, 1: lo only, 2: hi only
    lo = below[j % len(below)] if below and mode != 2 else None
    hi = above[(k // 3) % len(above)] if above and mode != 1 else None
    if lo is None and hi is None:  # pragma: no cover - the grid spans more than the data
        return None
    return {"lo": lo, "hi": hi}


def mask_params(p: Program, args: Args, j: int, k: int) -> dict[str, Any] | None:
    """A mask of the operands' broadcast shape, drawn from k's bits."""
    full = np.broadcast_shapes(np.shape(p.data(args[0])), np.shape(p.data(args[1])))
    bits = (k >> (np.arange(int(np.prod(full))) % 4)) & 1
    return {"cond": bits.astype(bool).reshape(full)}


# -- how an operation is printed ----------------------------------------------------------------


def index_text(index: Any) -> str:
    """An index as written inside brackets: ``1:``, ``..., 0``, ``[0, 2, 0]``."""
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


def _show_clip(a: str, lo: float | None, hi: float | None) -> str:
    bounds = f"lo={lo:g}" if hi is None else f"hi={hi:g}" if lo is None else f"{lo:g}, {hi:g}"
    return f"clip({a}, {bounds})"


def _show_where(a: str, b: str, cond: np.ndarray) -> str:
    mask = repr(bool(cond)) if cond.ndim == 0 else repr(cond.tolist())
    return f"where({mask}, {a}, {b})"


def _show_reduction(name: str) -> Callable[..., str]:
    def show(a: str, axis: Any, keepdims: bool) -> str:
        extra = "" if axis is None else f", axis={axis}"
        return f"{name}({a}{extra}{', keepdims=True' if keepdims else ''})"
    return show


# -- the record and the table -----------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation drawn programs use: how to draw, run and print it.

    ``show`` is a format string (``"{0} + {1}"``, ``"{0} ** {p:g}"``: operands by position,
    params by name) or a function of the operands' texts and the params. ``binds`` is the
    precedence of a form whose operands stand bare (``a + b``, ``-a``, ``a[0]``), None for a
    call ``f(a)``; ``left`` says an operand of equal precedence needs no parentheses on the left.
    """

    name: str
    arity: int                                     #: operands; 0: two or three (a list)
    run: Callable[..., Value]                      #: ``run(*operands, **params)``
    show: str | Callable[..., str]
    domain: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]] = ()  # per operand
    pick: Pick = one                               #: chooses the operands
    params: Params = no_params                     #: draws the parameters (None: cannot)
    binds: int | None = None
    left: bool = True
    elementwise: bool = False                      #: runs entry by entry, scalars included

    def domains(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The domain of each operand (names of `DOMAINS`; missing ones are "real")."""
        return self.domain(params) if callable(self.domain) else self.domain

    def text(self, operands: list[tuple[str, int]], params: dict[str, Any]) -> tuple[str, int]:
        """This operation as a formula, from its operands' (text, precedence)."""
        binds = self.binds
        texts = [f"({text})" if binds is not None and inner != ATOM and (
                     inner < binds or (inner == binds and (t > 0 or not self.left)))
                 else text for t, (text, inner) in enumerate(operands)]
        show = self.show
        text = show.format(*texts, **params) if isinstance(show, str) else show(*texts, **params)
        return text, ATOM if binds is None else binds


class Step:
    """One operation of a drawn program, applied to earlier nodes and constants."""

    __slots__ = ("op", "args", "params")

    def __init__(self, op: Operation, args: tuple[Any, ...], params: dict[str, Any]) -> None:
        self.op = op
        self.args = args          # ints (node indices) and Const
        self.params = params

    def run(self, nodes: list[Value]) -> Value:
        return self.op.run(*(nodes[a] if isinstance(a, int) else a.value for a in self.args),
                           **self.params)


def _infix(name: str, symbol: str, binds: int, run: Callable[..., Value],
           domain: tuple[str, ...] = (), pick: Pick = arithmetic) -> Operation:
    return Operation(name, 2, run, f"{{0}} {symbol} {{1}}", domain, pick, binds=binds,
                     left=symbol != "**", elementwise=symbol != "@")


def _unary(name: str, domain: tuple[str, ...] = ()) -> Operation:
    return Operation(name, 1, operator.methodcaller(name), name + "({0})", domain,
                     elementwise=True)


def _reduction(name: str) -> Operation:
    return Operation(name, 1, lambda a, axis, keepdims: getattr(a, name)(
        axis=axis, keepdims=keepdims), _show_reduction(name),
        ("leading",) if name == "max" else (), params=reduce_params)


def _pow_domain(params: dict[str, Any]) -> tuple[str, ...]:
    p = params["p"]
    return ("positive",) if p != int(p) else ("pole",) if p < 0 else ()


def _join(name: str, new_axis: bool) -> Operation:
    return Operation(name, 0, lambda *xs, axis: getattr(_operators, name)(xs, axis=axis),
                     lambda *xs, axis: f"{name}([{', '.join(xs)}], axis={axis})",
                     pick=joined(new_axis), params=join_params(new_axis))


def custom(prim: Callable[..., Value], name: str, arity: int, domain: str) -> Operation:
    """The record of a user's elementwise operation (`testing.Op`)."""
    return Operation(name, arity, prim, lambda *xs: f"{name}({', '.join(xs)})",
                     (domain,) * arity, one if arity == 1 else two, elementwise=True)


#: Every operation drawn programs use, by name: the primitives of `ops.PRIMITIVES` (the
#: internal broadcast_to and scatter included, the ones in `LEFT_OUT` not) and the derived
#: operations (-a, a / b, a Value exponent). The elementwise ones come first.
TABLE: dict[str, Operation] = {op.name: op for op in [
    _infix("add", "+", 1, operator.add),
    _infix("mul", "*", 2, operator.mul),
    _infix("sub", "-", 1, operator.sub),
    Operation("neg", 1, operator.neg, "-{0}", binds=3, left=False, elementwise=True),
    _infix("div", "/", 2, operator.truediv, domain=("real", "pole")),
    Operation("pow", 1, lambda a, p: a ** p, "{0} ** {p:g}", _pow_domain, params=power_params,
              binds=4, left=False, elementwise=True),
    _infix("power", "**", 4, operator.pow, domain=("positive",), pick=exponent),
    _unary("relu", ("nonzero",)),
    _unary("sigmoid"),
    _unary("tanh"),
    _unary("exp"),
    _unary("log", ("positive",)),
    _unary("abs", ("nonzero",)),
    _unary("sqrt", ("positive",)),
    _unary("sin"),
    _unary("cos"),
    Operation("clip", 1, lambda a, lo, hi: a.clip(lo, hi), _show_clip, params=clip_params,
              elementwise=True),
    Operation("maximum", 2, maximum, "maximum({0}, {1})", ("untied",), compared,
              elementwise=True),
    Operation("minimum", 2, minimum, "minimum({0}, {1})", ("untied",), compared,
              elementwise=True),
    Operation("where", 2, lambda a, b, cond: where(cond, a, b), _show_where, (), compared,
              mask_params),
    _reduction("sum"),
    _reduction("mean"),
    _reduction("max"),
    _infix("matmul", "@", 2, operator.matmul, pick=product),
    Operation("reshape", 1, lambda a, shape: a.reshape(shape), "reshape({0}, {shape})",
              params=reshape_params),
    Operation("transpose", 1, lambda a, axes: a.T if axes is None else a.transpose(*axes),
              lambda a, axes: f"transpose({a})" if axes is None else f"transpose({a}, {axes})",
              pick=with_axes(2), params=transpose_params),
    Operation("getitem", 1, lambda a, index: a[index],
              lambda a, index: f"{a}[{index_text(index)}]", pick=with_axes(1),
              params=index_params, binds=ATOM),
    _join("concatenate", new_axis=False),
    _join("stack", new_axis=True),
    Operation("broadcast_to", 1, lambda a, shape: _ops.broadcast_to(a, shape=shape),
              "broadcast_to({0}, {shape})", params=broadcast_params),
    Operation("scatter", 1, lambda a, shape, index: _ops.scatter(a, shape=shape, index=index),
              lambda a, shape, index: f"scatter({a}, {shape}, np.s_[{index_text(index)}])",
              params=scatter_params),
]}


def missing() -> list[str]:
    """The primitives of the op table with neither a record in `TABLE` nor a reason in
    `LEFT_OUT` (a test keeps this empty)."""
    return [name for name in _ops.PRIMITIVES if name not in TABLE and name not in LEFT_OUT]
