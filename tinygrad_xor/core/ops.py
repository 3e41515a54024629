"""The table of primitives: each forward beside its vector-Jacobian product (VJP).

A VJP is a function ``vjp(grad, out, *inputs, **params)`` returning one gradient per input.
It may return a gradient of the broadcast shape; the backward pass sums it back to the input's
shape, so no rule here thinks about broadcasting. Every rule is written once for two kinds of
arguments: floats and ndarrays in a first-order pass, and Values when a gradient's own graph is
built (``create_graph=True``). Operators (``grad * out``) work on both; the few helpers below
(`_reshape`, `_expand`, `_matmul`, ...) call NumPy for arrays and a primitive for Values, so
every rule is differentiable again, to any order.

The operations built from these (division, negation, the public functions `where`, `maximum`,
`concatenate`, ...) and the Value's operators and methods are in ``operators.py``.

Imports: ``kernels``, ``checks``, ``value``, ``primitive``.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from . import kernels
from .primitive import Primitive
from .value import Value

# -- helpers that rules use: NumPy for arrays, a primitive for Values ------------------------


def _data(x: Any) -> Any:
    """The numbers of ``x``: a mask computed from them is a constant of the gradient's graph."""
    return x._data if type(x) is Value else x


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if type(x) is Value or type(x) is np.ndarray else np.shape(x)


def _reshape(g: Any, shape: tuple[int, ...]) -> Any:
    if type(g) is Value:
        return g if g.shape == shape else reshape(g, shape=shape)
    return np.reshape(g, shape)


def _transpose(g: Any, axes: tuple[int, ...] | None) -> Any:
    return transpose(g, axes=axes) if type(g) is Value else np.transpose(g, axes)


def _swap(x: Any) -> Any:
    """``x`` with its last two axes swapped."""
    if type(x) is Value:
        axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
        return transpose(x, axes=axes)
    return x.swapaxes(-1, -2)


def _insert_axis(x: Any, axis: int) -> Any:
    shape = list(_shape(x))
    shape.insert(axis if axis >= 0 else len(shape) + axis + 1, 1)
    return _reshape(x, tuple(shape))


def _remove_axis(x: Any, axis: int) -> Any:
    shape = list(_shape(x))
    del shape[axis]
    return _reshape(x, tuple(shape))


def _matmul(a: Any, b: Any) -> Any:
    if type(a) is Value or type(b) is Value:
        return matmul(a, b)
    return kernels.matmul(a, b)


def _expand(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """``g`` of a reduction over ``axis`` with the reduced axes put back (length 1)."""
    if axis is None or keepdims:
        if axis is None and not keepdims and type(g) is Value and _shape(x):
            return _reshape(g, (1,) * len(_shape(x)))  # one number: broadcasts as it is
        return g
    if type(g) is not Value:
        return np.expand_dims(g, axis)
    shape = list(_shape(x))
    for i in np.atleast_1d(axis):
        shape[i] = 1
    return _reshape(g, tuple(shape))


def _broadcast(g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """``g`` repeated to ``shape`` (as a new array, or the `broadcast_to` primitive)."""
    if type(g) is Value:
        return g if g.shape == shape else broadcast_to(g, shape=shape)
    full = np.empty(shape, dtype=dtype)  # filled by broadcasting: cheaper than np.broadcast_to
    full[...] = g
    return full


def sum_to(g: Value, shape: tuple[int, ...]) -> Value | None:
    """A Value gradient summed over the axes broadcasting added to ``shape``; None if it can't."""
    extra = g.ndim - len(shape)
    if extra < 0:
        return None
    if extra:
        g = sum(g, axis=tuple(range(extra)), keepdims=False)
    axes = tuple([i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1])
    if axes:
        g = sum(g, axis=axes, keepdims=True)
    return g if g.shape == shape else None


def _divide(a: Any, b: Any) -> Any:
    if type(a) is float and type(b) is float:
        return kernels.divide_scalar(a, b)
    return np.divide(a, b) if type(a) is not Value and type(b) is not Value else a / b


def _power(x: Any, q: float) -> Any:
    if type(x) is Value:
        return pow(x, p=q)
    return kernels.pow_scalar(x, q) if type(x) is float else kernels.pow_array(x, q)


def _unary(name: str, x: Any) -> Any:
    """``np.<name>(x)`` for an array, its float kernel for a float, the method for a Value."""
    if type(x) is Value:
        return getattr(x, name)()
    if type(x) is float:
        return getattr(kernels, name + "_scalar")(x)
    return getattr(np, name)(x)


def _mask(fn: Any, *xs: Any, **params: Any) -> Any:
    """``fn(*numbers of xs)``: what a rule reads from the data (a mask, a share of a tie).

    For numbers it is computed at once. When a rule runs on Values (``create_graph``), it is
    the `mask` primitive instead: a node of the gradient's graph, recomputed from the data
    wherever the graph is run again (a compiled function), never a frozen constant."""
    if any([type(x) is Value for x in xs]):
        return mask(*xs, fn=fn, **params)
    return fn(*xs, **params)


def _keep(m: Any, g: Any) -> Any:
    """``g`` where the mask ``m`` (0s and 1s) is 1: the `keep` primitive, or its numbers."""
    if type(m) is Value or type(g) is Value:
        return keep(m, g)
    if type(m) is float and type(g) is float:
        return g if m > 0.5 else 0.0
    return np.where(m > 0.5, g, 0.0)


def _select(cond: Any, g: Any) -> Any:
    """``g`` where ``cond`` holds, 0 elsewhere (no NaN from inf * 0)."""
    if type(cond) is Value:
        return keep(cond, g)
    if type(g) is Value:
        return where_(g, 0.0, cond=cond)
    out = np.where(cond, g, 0.0)
    return float(out) if out.ndim == 0 else out


# -- rules ----------------------------------------------------------------------------------


def _pow_vjp(grad: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    # d/dx x**p = p * x**(p - 1); for the common p = 2 that is 2x; for p = 0 it is 0, even at 0
    if p == 0:
        return (grad * 0.0,)
    d = 2.0 * x if p == 2 else p * _power(x, p - 1)
    d *= grad  # for arrays, d is new: multiplying in place saves one big temporary
    return (d,)


def _sigmoid_vjp(grad: Any, out: Any, x: Any) -> tuple[Any]:
    d = 1.0 - out
    d *= out
    d *= grad  # grad * out * (1 - out), with one temporary instead of three (for arrays)
    return (d,)


def _matmul_vjp_a(grad: Any, out: Any, a: Any, b: Any) -> Any:
    na, nb = a.ndim, b.ndim  # arrays or Values: matmul has no float operands
    if na == 2 and nb == 2:  # the common case, with none of the reshaping below
        return grad @ b.T  # np.matmul for arrays, the matmul primitive for Values
    if na == 1 and nb == 1:
        return grad * b
    g = _insert_axis(grad, -2) if na == 1 else grad   # (k,) is a (1, k) row
    g = _insert_axis(g, -1) if nb == 1 else g         # (k,) is a (k, 1) column
    b2 = _insert_axis(b, -1) if nb == 1 else b
    ga = _matmul(g, _swap(b2))
    return _remove_axis(ga, -2) if na == 1 else ga


def _matmul_vjp_b(grad: Any, out: Any, a: Any, b: Any) -> Any:
    na, nb = a.ndim, b.ndim
    if na == 2 and nb == 2:
        return a.T @ grad
    if na == 1 and nb == 1:
        return grad * a
    g = _insert_axis(grad, -2) if na == 1 else grad
    g = _insert_axis(g, -1) if nb == 1 else g
    a2 = _insert_axis(a, -2) if na == 1 else a
    gb = _matmul(_swap(a2), g)
    return _remove_axis(gb, -1) if nb == 1 else gb


def _sum_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    if not _shape(x):
        return (grad,)
    return (_broadcast(_expand(grad, x, axis, keepdims), _shape(x), _data(x).dtype),)


def _mean_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    n = kernels.count(_data(x), axis)
    return _sum_vjp(grad / n if n else grad * 0.0, out, x, axis=axis, keepdims=keepdims)


def max_share(x: Any, out: Any, *, axis: Any, keepdims: bool) -> Any:
    """Each entry's share of the gradient of ``max``: ties share equally, so the shares add
    up to one."""
    xd = np.asarray(x)
    top = xd == _expand(np.asarray(out), xd, axis, keepdims)
    return top / np.sum(top, axis=axis, keepdims=True)


def _max_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    share = _mask(max_share, x, out, axis=axis, keepdims=keepdims)
    return (share * _expand(grad, x, axis, keepdims),)


def _transpose_vjp(grad: Any, out: Any, x: Any, *, axes: tuple[int, ...] | None) -> tuple[Any]:
    return (_transpose(grad, None if axes is None else tuple(np.argsort(axes).tolist())),)


def _getitem(x: Any, *, index: Any) -> Any:
    if type(x) is float:  # shape (): only new axes, as PyTorch (x[None] has shape (1,))
        parts = index if type(index) is tuple else (index,)
        if not all([i is None or i is Ellipsis for i in parts]):
            raise TypeError(f"a scalar Value (shape ()) can only be indexed with None and ..., "
                            f"got {index!r}")
        return np.asarray(x)[index]
    return x[index]


def _getitem_vjp(grad: Any, out: Any, x: Any, *, index: Any) -> tuple[Any]:
    if type(grad) is Value:
        return (scatter(grad, shape=_shape(x), index=index),)
    return (kernels.scatter(grad, np.shape(x), np.asarray(x).dtype, index),)


def _scatter(g: Any, *, shape: tuple[int, ...], index: Any) -> Any:
    return kernels.scatter(g, shape, np.result_type(g), index)


def _clip(x: Any, *bounds: Any, lo: Any, hi: Any) -> Any:
    """np.clip(x, lo, hi): numbers as parameters, or Value bounds as operands (``bounds``)."""
    return np.clip(x, *bounds) if bounds else np.clip(x, lo, hi)


def clip_inside(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """Where ``clip`` passes x through: lo <= x <= hi, bounds included (PyTorch's clamp)."""
    return (True if lo is None else x >= lo) & (True if hi is None else x <= hi)


def clip_at_lo(x: Any, lo: Any, hi: Any) -> Any:
    """Where ``clip`` gives lo (a Value bound): x < lo < hi."""
    return (x < lo) & (lo < hi)


def clip_at_hi(x: Any, lo: Any, hi: Any) -> Any:
    """Where ``clip`` gives hi (a Value bound): x > hi, or hi < lo."""
    return (x > hi) | (hi < lo)


def _clip_vjp(grad: Any, out: Any, x: Any, *bounds: Any, lo: Any, hi: Any) -> tuple[Any, ...]:
    if not bounds:
        return (grad * _mask(clip_inside, x, lo=lo, hi=hi),)
    # Value bounds, PyTorch's rule for tensor bounds
    return (_select(_mask(clip_inside, x, *bounds), grad),
            _select(_mask(clip_at_lo, x, *bounds), grad),
            _select(_mask(clip_at_hi, x, *bounds), grad))


def maximum_share(a: Any, b: Any) -> Any:
    """``a``'s share of the gradient of ``maximum(a, b)``: 1 where a > b, 0 where a < b, a half
    at a tie (as in `max`), and 1 where either is NaN (so is the result: PyTorch's rule, both
    get all of it, whatever their order)."""
    return 1.0 - (a < b) - 0.5 * (a == b)


def _maximum_vjp(grad: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return grad * _mask(maximum_share, a, b), grad * _mask(maximum_share, b, a)


def _minimum_vjp(grad: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return grad * _mask(maximum_share, b, a), grad * _mask(maximum_share, a, b)


def _where_vjp(grad: Any, out: Any, a: Any, b: Any, *, cond: np.ndarray) -> tuple[Any, Any]:
    return _select(cond, grad), _select(~cond, grad)


def _pieces(grad: Any, axis: int, sizes: list[int]) -> tuple[Any, ...]:
    """``grad`` cut along ``axis`` into consecutive pieces of the given lengths."""
    ndim = len(_shape(grad))
    axis = axis % ndim
    pieces, start = [], 0
    for n in sizes:
        index = (slice(None),) * axis + (slice(start, start + n),)
        pieces.append(getitem(grad, index=index) if type(grad) is Value else grad[index])
        start += n
    return tuple(pieces)


def _concatenate_vjp(grad: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    return _pieces(grad, axis, [_shape(x)[axis] for x in xs])


def _stack_vjp(grad: Any, out: Any, *xs: Any, axis: int) -> tuple[Any, ...]:
    axis = axis % len(_shape(grad))
    index = (slice(None),) * axis
    if type(grad) is Value:
        return tuple(getitem(grad, index=index + (i,)) for i in range(len(xs)))
    return tuple(grad[index + (i,)] for i in range(len(xs)))


def _power_vjp_a(grad: Any, out: Any, a: Any, b: Any) -> Any:
    # b * a ** (b - 1), and 0 where b == 0 and a is 0 or NaN (not 0 * inf), as PyTorch's; it
    # sets 0 wherever b == 0, which also cuts the derivative in b there (a ** -1, not 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _select(_mask(power_keep_a, a, b), grad * (b * _power2(a, b - 1.0)))


def _power_vjp_b(grad: Any, out: Any, a: Any, b: Any) -> Any:
    # PyTorch's rule: a ** b * log(a), NaN for a < 0 (log(a) is); 0 where a == 0 and b >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return grad * _select(_mask(power_keep_b, a, b), out * _unary("log", a))


def power_keep_a(a: Any, b: Any) -> Any:
    """Where ``a ** b`` has a gradient in a: not where b == 0 and a is 0 or NaN."""
    return (b != 0) | (np.abs(a) > 0)


def power_keep_b(a: Any, b: Any) -> Any:
    """Where ``a ** b`` has a gradient in b: not where a == 0 and b >= 0."""
    return (a != 0) | (b < 0)


def _power2(a: Any, b: Any) -> Any:
    """a ** b for two operands: NumPy, a float kernel, or the `power` primitive for Values."""
    if type(a) is Value or type(b) is Value:
        return power_(a, b)
    return kernels.power_scalar(a, b) if type(a) is float and type(b) is float else np.power(a, b)


def sign(x: Any) -> Any:
    """The slope of ``abs``: -1, 0 or 1 (0 at 0)."""
    return np.sign(x) if type(x) is not float else float((x > 0) - (x < 0))


def positive(x: Any) -> Any:
    """The slope of ``relu``: 1 where x > 0, else 0 (the kink at 0 gets 0)."""
    return x > 0


# -- the table ------------------------------------------------------------------------------


def _op(forward: Any, vjp: Any = None, *, name: str, **kwargs: Any) -> Primitive:
    return Primitive(forward, vjp, name=name, builtin=True, **kwargs)


add: Primitive = _op(kernels.spread(np.add), lambda grad, out, a, b: (grad, grad),
          name="add", scalar=operator.add)
sub: Primitive = _op(kernels.spread(np.subtract), lambda grad, out, a, b: (grad, -grad),
          name="sub", scalar=operator.sub)
mul: Primitive = _op(kernels.spread(np.multiply), lambda grad, out, a, b: (grad * b, grad * a),
          name="mul", scalar=operator.mul)
pow = _op(lambda x, *, p: kernels.pow_array(x, p), _pow_vjp,
          name="pow", scalar=kernels.pow_scalar)
power_ = _op(np.power, name="power", scalar=kernels.power_scalar,  # a ** b, b a Value or array
             vjps=(_power_vjp_a, _power_vjp_b))
matmul: Primitive = _op(kernels.matmul, lambda grad, out, a, b: (
    _matmul_vjp_a(grad, out, a, b), _matmul_vjp_b(grad, out, a, b)), name="matmul",
    vjps=(_matmul_vjp_a, _matmul_vjp_b))  # and one rule per operand: skip constants
relu = _op(lambda x: np.maximum(x, 0),
           lambda grad, out, x: (grad * _mask(positive, x),),
           name="relu", scalar=lambda x: 0.0 if x <= 0 else x)
sigmoid = _op(kernels.sigmoid, _sigmoid_vjp, name="sigmoid", scalar=kernels.sigmoid_scalar)
tanh = _op(np.tanh, lambda grad, out, x: (grad * (1.0 - out * out),),
           name="tanh", scalar=math.tanh)
exp = _op(np.exp, lambda grad, out, x: (grad * out,), name="exp", scalar=kernels.exp_scalar)
log = _op(np.log, lambda grad, out, x: (_divide(grad, x),), name="log",
          scalar=kernels.log_scalar)
abs = _op(np.abs, lambda grad, out, x: (grad * _mask(sign, x),),
          name="abs", scalar=builtins.abs)
sqrt = _op(np.sqrt, lambda grad, out, x: (_divide(grad, 2.0 * out),), name="sqrt",
           scalar=kernels.sqrt_scalar)
sin = _op(np.sin, lambda grad, out, x: (grad * _unary("cos", x),), name="sin",
          scalar=kernels.sin_scalar)
cos = _op(np.cos, lambda grad, out, x: (-(grad * _unary("sin", x)),), name="cos",
          scalar=kernels.cos_scalar)
clip = _op(_clip, _clip_vjp, name="clip",
           scalar=lambda x, *bounds, lo, hi: float(_clip(x, *bounds, lo=lo, hi=hi)))
maximum_ = _op(np.maximum, _maximum_vjp, name="maximum", scalar=kernels.maximum_scalar)
minimum_ = _op(np.minimum, _minimum_vjp, name="minimum", scalar=kernels.minimum_scalar)
where_ = _op(lambda a, b, *, cond: np.where(cond, a, b), _where_vjp, name="where")
sum = _op(lambda x, *, axis, keepdims: kernels.reduce(np.add, x, axis, keepdims), _sum_vjp,
          name="sum")
mean = _op(lambda x, *, axis, keepdims: kernels.mean(x, axis, keepdims), _mean_vjp,
           name="mean")
max = _op(lambda x, *, axis, keepdims: kernels.reduce(np.maximum, x, axis, keepdims), _max_vjp,
          name="max")
reshape = _op(lambda x, *, shape: np.reshape(x, shape),
              lambda grad, out, x, *, shape: (_reshape(grad, _shape(x)),), name="reshape")
transpose = _op(lambda x, *, axes: np.transpose(x, axes), _transpose_vjp, name="transpose")
getitem = _op(_getitem, _getitem_vjp, name="getitem")
concatenate_ = _op(lambda *xs, axis: np.concatenate(xs, axis=axis), _concatenate_vjp,
                   name="concatenate")
stack_ = _op(lambda *xs, axis: np.stack(xs, axis=axis), _stack_vjp, name="stack")
# Two rules of other rules: repeating a gradient (sum's) and scattering it (getitem's).
# And two that rules build on Values: what a rule reads from the data (`_mask`), and ``g``
# where a mask holds (`_select`); neither passes a gradient to a mask.
mask = _op(lambda *xs, fn, **params: fn(*xs, **params),
           lambda grad, out, *xs, fn, **params: (None,) * len(xs), name="mask")
keep = _op(lambda m, g: np.where(m > 0.5, g, 0.0),  # m: a mask of 0s and 1s
           lambda grad, out, m, g: (None, _keep(m, grad)), name="keep",
           scalar=lambda m, g: g if m > 0.5 else 0.0)
broadcast_to = _op(lambda x, *, shape: np.array(np.broadcast_to(x, shape)),
                   lambda grad, out, x, *, shape: (grad,),  # the engine sums it back to x
                   name="broadcast_to")
scatter = _op(_scatter, lambda grad, out, g, *, shape, index: (
    getitem(grad, index=index) if type(grad) is Value else _getitem(grad, index=index),),
    name="scatter")

#: Every primitive above, by name: the gradient tests walk this table.
PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in (add, sub, mul, pow, power_, matmul, relu, sigmoid, tanh, exp, log, abs,
                        sqrt, sin, cos, clip, maximum_, minimum_, where_, sum, mean, max,
                        reshape, transpose, getitem, concatenate_, stack_, broadcast_to, scatter,
                        mask, keep)
}
#: The two primitives only rules use, on Values (a mask read from the data, and ``g`` where a
#: mask holds): the table's gradient tests check them; `testing.expressions` does not draw
#: them, since no user writes them.
RULES_ONLY = ("mask", "keep")

__all__ = ["PRIMITIVES", "RULES_ONLY", "sum_to"]
