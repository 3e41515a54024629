"""The table of primitives: each forward beside its vector-Jacobian product (VJP).

A VJP is a pure function ``vjp(grad, out, *inputs, **params)`` returning one gradient per input.
It may return a gradient of the broadcast shape; the engine sums it back to the input's shape
(`engine._reduce_to`), so no rule here thinks about broadcasting. ``scalar=`` gives a faster
forward for Python floats, used when every input is a scalar Value.

Derived operations (div, neg, a Value exponent) are built from primitives and have
no rule of their own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import Primitive, Value, _lift

# -- scalar forwards that follow NumPy's conventions (inf/nan rather than exceptions) ---------


def _exp_scalar(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log_scalar(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _sigmoid_scalar(x: float) -> float:
    # Stable: exp() only ever sees a non-positive number, so it cannot overflow.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) is accurate everywhere. exp(-x) overflows for x below about -709 (-88 in
    # float32); inf then gives 1 / inf = 0, the right answer, so that overflow is not reported.
    e = np.negative(x)
    if type(e) is not np.ndarray:  # a 0-d input gives a NumPy scalar
        e = np.asarray(e)
    if e.size and e.max() > (709.0 if e.dtype.char == "d" else 88.0):
        with np.errstate(over="ignore"):
            np.exp(e, out=e)
    else:
        np.exp(e, out=e)
    e += 1.0
    return np.divide(1.0, e, out=e)


def _pow_scalar(x: float, *, p: float) -> float:
    try:
        y = x ** p
    except (ZeroDivisionError, OverflowError):  # 0.0 ** -1 or 10.0 ** 400: as NumPy does
        with np.errstate(all="ignore"):
            return float(np.power(x, p))
    return y if type(y) is float else math.nan  # a negative base to a fractional power


def _pow_vjp(grad: Any, out: Any, x: Any, *, p: float) -> tuple[Any]:
    # d/dx x**p = p * x**(p - 1); for the common p = 2 that is 2x, with no power call
    d = 2.0 * x if p == 2 else p * np.power(x, p - 1)
    d *= grad  # d is new: multiplying in place saves one big temporary
    return (d,)


def _sigmoid_vjp(grad: Any, out: Any, x: Any) -> tuple[Any]:
    d = 1.0 - out
    d *= out
    d *= grad  # grad * out * (1 - out), with one temporary instead of three
    return (d,)


# -- elementwise operations on big broadcast operands -----------------------------------------

#: Results of at least this many elements, with an operand repeated along an inner axis, are
#: computed from an expanded copy of that operand (see `_spread`).
SPREAD_MIN = 4096


def _spread(ufunc: np.ufunc) -> Any:
    """``ufunc(a, b)``, faster when a big result repeats one operand along an inner axis.

    NumPy walks (10000, 4, 2) + (10000, 1, 2) two elements at a time, about 10x slower than
    adding two arrays of one shape. Repeating the smaller operand first (np.repeat copies whole
    blocks) and then applying ``ufunc`` to equal shapes, into the repeated copy, is about 5x
    faster, with the same numbers.
    """
    def forward(a: Any, b: Any) -> Any:
        if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == b.ndim > 1
                and a.shape != b.shape and (a.size >= SPREAD_MIN or b.size >= SPREAD_MIN)):
            big, small = (a, b) if a.size >= b.size else (b, a)
            axes = [i for i in range(1, big.ndim) if small.shape[i] == 1 < big.shape[i]]
            same = all(small.shape[i] == big.shape[i] for i in range(big.ndim) if i not in axes)
            # NumPy's inner loop runs over the axes after the last broadcast one: worth it only
            # when that run is short (a broadcast last axis is already a fast stride-0 loop)
            if axes and same and 1 < math.prod(big.shape[axes[-1] + 1:]) <= 16:
                for i in axes:
                    small = np.repeat(small, big.shape[i], axis=i)
                out = small if small.dtype == big.dtype else None  # no second big temporary
                return ufunc(*((big, small) if big is a else (small, big)), out=out)
        return ufunc(a, b)

    forward.__name__ = ufunc.__name__
    return forward


# -- sums over a short axis (the engine's reduction of stacked bias gradients) --------------


def sum_axis(g: np.ndarray, axis: int) -> np.ndarray:
    """``g.sum(axis=axis, keepdims=True)``, fast for a short axis with few entries after it.

    NumPy sums the axis of length 4 of a (10000, 4, 2) array 2 entries at a time (about 15x
    slower than need be); here each output column is summed over whole (10000,) slices, in the
    same order, l = 0, 1, ... (used for bias gradients of many stacked small networks).
    """
    n = g.shape[axis]
    inner = math.prod(g.shape[axis + 1:])
    outer = g.size // (n * inner) if n * inner else 0
    if not (1 < n and n * inner <= 32 and outer >= 64 * n * inner and g.flags.c_contiguous):
        return g.sum(axis=axis, keepdims=True)
    src = g.reshape(outer, n, inner)
    out = np.empty((outer, 1, inner), dtype=g.dtype)
    for j in range(inner):
        column = out[:, 0, j]
        np.add(src[:, 0, j], src[:, 1, j], out=column)
        for i in range(2, n):
            column += src[:, i, j]
    return out.reshape(g.shape[:axis] + (1,) + g.shape[axis + 1:])


# -- matmul with np.matmul's 1-D and batched rules ------------------------------------------

#: Stacks of at least this many matrices, each product of which takes at most this many
#: multiplications (m * k * n), are multiplied entry by entry (see `_matmul`).
SMALL_MATMUL = 64


def _matmul(a: Any, b: Any) -> Any:
    """np.matmul, with faster kernels for large stacks of tiny matrices.

    NumPy multiplies a stack one small matrix at a time. For tiny ones (XOR's 2x2 layers, 10,000
    networks at once) one matrix times a stack, or a stack times one matrix, is one BLAS
    product; two stacks are multiplied by looping over the m * n output entries and the k terms
    of each, each step one NumPy operation over the whole stack: out[..., i, j] = sum_l
    a[..., i, l] * b[..., l, j], summed in order l = 0, 1, ... (equal to np.matmul up to
    rounding).
    """
    if (type(a) is np.ndarray and type(b) is np.ndarray and (a.ndim > 2 or b.ndim > 2)
            and a.ndim >= 2 and b.ndim >= 2):
        (m, k), n = a.shape[-2:], b.shape[-1]
        work = m * k * n
        if 0 < work <= SMALL_MATMUL and b.shape[-2] == k:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            if math.prod(batch) >= SMALL_MATMUL * work:
                if a.ndim == 2:  # one matrix times a stack (XOR's inputs times 10,000 layers)
                    return _shared_times_stack(a, b)
                if b.ndim == 2:  # a stack times one matrix: all the stack's rows at once
                    return (a.reshape(-1, k) @ b).reshape(a.shape[:-1] + (n,))
                out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
                for i in range(m):
                    for j in range(n):
                        entry = out[..., i, j]
                        np.multiply(a[..., i, 0], b[..., 0, j], out=entry)
                        for term in range(1, k):
                            entry += a[..., i, term] * b[..., term, j]
                return out
    return np.matmul(a, b)


def _shared_times_stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for one (m, k) matrix a and a stack b of (k, n) matrices, as one BLAS product.

    out[..., i, j] = sum_l a[i, l] * b[..., l, j]. With each matrix of b flattened to a row of
    k * n entries, that is the rows times kron(a.T, I_n), a (k * n, m * n) matrix: one product
    over the whole stack instead of m * n * k NumPy operations (about 5x faster for XOR's).
    """
    (m, k), n = a.shape, b.shape[-1]
    rows = b.reshape(-1, k * n)
    spread = np.kron(a.T, np.eye(n, dtype=a.dtype))
    return (rows @ spread).reshape(b.shape[:-2] + (m, n))


def _as_matrices(grad: Any, a: np.ndarray, b: np.ndarray) -> tuple[Any, Any, Any]:
    """grad, a and b with 1-D operands made 2-D, as np.matmul treats them."""
    g = np.asarray(grad)
    if a.ndim == 1:
        a, g = a[None, :], g[..., None, :]          # (k,) -> (1, k)
    if b.ndim == 1:
        b, g = b[:, None], g[..., None]             # (k,) -> (k, 1)
    return g, a, b


def _matmul_vjp_a(grad: Any, out: Any, a: np.ndarray, b: np.ndarray) -> Any:
    if a.ndim == 2 and b.ndim == 2:  # the common case, with none of the reshaping below
        return np.matmul(grad, b.T)
    if a.ndim == 1 and b.ndim == 1:
        return grad * b
    g, _, b2 = _as_matrices(grad, a, b)
    ga = _matmul(g, b2.swapaxes(-1, -2))
    return ga[..., 0, :] if a.ndim == 1 else ga


def _matmul_vjp_b(grad: Any, out: Any, a: np.ndarray, b: np.ndarray) -> Any:
    if a.ndim == 2 and b.ndim == 2:
        return np.matmul(a.T, grad)
    if a.ndim == 1 and b.ndim == 1:
        return grad * a
    g, a2, _ = _as_matrices(grad, a, b)
    gb = _matmul(a2.swapaxes(-1, -2), g)
    return gb[..., 0] if b.ndim == 1 else gb


def _matmul_vjp(grad: Any, out: Any, a: np.ndarray, b: np.ndarray) -> tuple[Any, Any]:
    return _matmul_vjp_a(grad, out, a, b), _matmul_vjp_b(grad, out, a, b)


# -- reductions and shapes --------------------------------------------------------------------


def _expand(grad: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Put back the reduced axes of ``grad`` so it broadcasts against ``x``."""
    if axis is None or keepdims:
        return grad
    return np.expand_dims(grad, axis)


def _reduce(ufunc: np.ufunc, x: Any, axis: Any, keepdims: bool) -> Any:
    # ufunc.reduce skips np.sum's Python-level dispatch: about 3 us less per call on a tiny array
    if type(x) is np.ndarray:
        if axis is None and not keepdims:  # a scalar Value holds a float
            return float(ufunc.reduce(x, axis=None))
        return ufunc.reduce(x, axis=axis, keepdims=keepdims)
    return ufunc.reduce(np.asarray(x), axis=axis, keepdims=keepdims)


def _sum_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    if type(x) is float:
        return (grad,)
    full = np.empty_like(x)  # filled by broadcasting: cheaper than np.broadcast_to
    full[...] = _expand(grad, x, axis, keepdims)
    return (full,)


def _count(x: Any, axis: Any) -> int:
    """How many entries of ``x`` each result of a reduction over ``axis`` covers."""
    if type(x) is float or axis is None:
        return 1 if type(x) is float else x.size
    return math.prod([x.shape[i] for i in np.atleast_1d(axis)])


def _mean(x: Any, *, axis: Any, keepdims: bool) -> Any:
    return _reduce(np.add, x, axis, keepdims) / _count(x, axis)


def _mean_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    return _sum_vjp(grad / _count(x, axis), out, x, axis=axis, keepdims=keepdims)


def _max_vjp(grad: Any, out: Any, x: Any, *, axis: Any, keepdims: bool) -> tuple[Any]:
    # Ties: every maximal entry gets an equal share, so the shares add up to grad.
    top = np.asarray(x) == _expand(out, x, axis, keepdims)
    share = top / np.sum(top, axis=axis, keepdims=True)
    return (share * _expand(grad, x, axis, keepdims),)


def _reshape(x: Any, *, shape: tuple[int, ...]) -> Any:
    return np.reshape(x, shape)


def _transpose(x: Any, *, axes: tuple[int, ...] | None) -> Any:
    return np.transpose(x, axes)


def _transpose_vjp(grad: Any, out: Any, x: Any, *, axes: tuple[int, ...] | None) -> tuple[Any]:
    return (np.transpose(grad, None if axes is None else np.argsort(axes)),)


def _getitem(x: Any, *, index: Any) -> Any:
    if type(x) is float:
        raise TypeError("a scalar Value cannot be indexed")
    return x[index]


def _is_basic(index: Any) -> bool:
    """True for indices made of ints, slices, None and ...: each element is picked at most once."""
    parts = index if type(index) is tuple else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in parts)


def _getitem_vjp(grad: Any, out: Any, x: np.ndarray, *, index: Any) -> tuple[Any]:
    full = np.zeros_like(x)
    if _is_basic(index):
        full[index] = grad
    else:
        np.add.at(full, index, grad)  # repeated integer indices accumulate
    return (full,)


# -- the table ------------------------------------------------------------------------------

add = Primitive(_spread(np.add), lambda grad, out, a, b: (grad, grad),
                name="add", scalar=lambda a, b: a + b)
sub = Primitive(_spread(np.subtract), lambda grad, out, a, b: (grad, -grad),
                name="sub", scalar=lambda a, b: a - b)
mul = Primitive(_spread(np.multiply), lambda grad, out, a, b: (grad * b, grad * a),
                name="mul", scalar=lambda a, b: a * b)
pow = Primitive(lambda x, *, p: np.square(x) if p == 2 else np.power(x, p), _pow_vjp,
                name="pow", scalar=_pow_scalar)
matmul = Primitive(_matmul, _matmul_vjp, name="matmul",
                   vjps=(_matmul_vjp_a, _matmul_vjp_b))  # one rule per operand: skip constants
relu = Primitive(lambda x: np.maximum(x, 0),
                 lambda grad, out, x: (grad * (x > 0),),  # the kink at 0 gets gradient 0
                 name="relu", scalar=lambda x: 0.0 if x <= 0 else x)
sigmoid = Primitive(_sigmoid, _sigmoid_vjp,
                    name="sigmoid", scalar=_sigmoid_scalar)
tanh = Primitive(np.tanh, lambda grad, out, x: (grad * (1 - out * out),),
                 name="tanh", scalar=math.tanh)
exp = Primitive(np.exp, lambda grad, out, x: (grad * out,), name="exp", scalar=_exp_scalar)
log = Primitive(np.log, lambda grad, out, x: (np.divide(grad, x),), name="log",
                scalar=_log_scalar)
sum = Primitive(lambda x, *, axis, keepdims: _reduce(np.add, x, axis, keepdims), _sum_vjp,
                name="sum")
mean = Primitive(_mean, _mean_vjp, name="mean")
max = Primitive(lambda x, *, axis, keepdims: _reduce(np.maximum, x, axis, keepdims), _max_vjp,
                name="max")
reshape = Primitive(_reshape, lambda grad, out, x, *, shape: (np.reshape(grad, np.shape(x)),),
                    name="reshape")
transpose = Primitive(_transpose, _transpose_vjp, name="transpose")
getitem = Primitive(_getitem, _getitem_vjp, name="getitem")

#: Every primitive above, by name: the gradient tests walk this table.
PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in (add, sub, mul, pow, matmul, relu, sigmoid, tanh, exp, log, sum, mean, max,
                        reshape, transpose, getitem)
}

# -- derived operations: compositions of primitives -----------------------------------------


def neg(a: Any) -> Value:
    """-a, as a * -1 (a constant is negated at once: it would record no graph anyway)."""
    a = _lift(a)
    if not a.requires_grad:
        return _lift(-a.data)
    return mul.call2(a, -1.0)


def div(a: Any, b: Any) -> Value:
    """a / b, as a * b ** -1."""
    return mul.call2(a, pow(b, p=-1.0))


def power(a: Any, b: Any) -> Value:
    """a ** b: a number exponent is the `pow` primitive; a Value exponent is exp(b * log(a))."""
    if isinstance(b, Value) or isinstance(b, (np.ndarray, list, tuple)):
        a = _lift(a)
        if np.any(np.asarray(a.data) <= 0):
            raise ValueError("a ** b with a Value or array exponent needs a positive base "
                             f"(it is exp(b * log(a))); the base has entries <= 0: {a.data!r}")
        return exp(mul.call2(b, log(a)))
    if isinstance(b, (int, float, np.integer, np.floating)) and not isinstance(b, bool):
        return pow(a, p=float(b))
    raise TypeError(f"unsupported exponent: {type(b).__name__} {b!r}")
