"""NumPy kernels: the forward computations the op table uses, and the fast special cases.

This module imports only NumPy and the standard library. Every function takes and returns
floats or ndarrays; nothing here knows about Values or graphs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# -- scalar forwards that follow NumPy's conventions (inf/nan rather than exceptions) ---------


def exp_scalar(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log_scalar(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def sqrt_scalar(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def sin_scalar(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan


def cos_scalar(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def sigmoid_scalar(x: float) -> float:
    # Stable: exp() only ever sees a non-positive number, so it cannot overflow.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def sigmoid(x: np.ndarray) -> np.ndarray:
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


def pow_array(x: np.ndarray, p: float) -> np.ndarray:
    """``x ** p`` of an array for a constant ``p``: ``np.square`` for 2, ``np.sqrt`` for 0.5
    (as NumPy 2's ``np.power`` takes them, and NumPy 1's ``x ** p``; NumPy 1's ``np.power``
    takes C's pow at 0.5: inf at -inf, 0.0 at -0.0), else ``np.power``."""
    if p == 2:
        return np.square(x)
    return np.sqrt(x) if p == 0.5 else np.power(x, p)


def pow_scalar(x: float, p: float) -> float:
    """``x ** p`` for a constant ``p``, as `pow_array`: the square root for ``p`` 0.5 (nan at
    -inf, -0.0 at -0.0, where C's pow gives inf and 0.0)."""
    if p == 0.5:
        return math.sqrt(x) if x >= 0 else math.nan
    return power_scalar(x, p)


def power_scalar(a: float, b: float) -> float:
    """``a ** b`` of two operands, as ``np.power`` of two arrays (C's pow): inf or nan where
    Python raises."""
    try:
        y = a ** b
    except (ZeroDivisionError, OverflowError):  # 0.0 ** -1 or 10.0 ** 400: as NumPy does
        with np.errstate(all="ignore"):
            return float(np.power(a, b))
    return y if type(y) is float else math.nan  # a negative base to a fractional power


def maximum_scalar(a: float, b: float) -> float:
    """``np.maximum(a, b)`` of two floats: a NaN wins (Python's ``max`` drops one that comes
    second), and of equal numbers (0.0 and -0.0) NumPy's pick, ``b``."""
    return a if a > b or a != a else b


def minimum_scalar(a: float, b: float) -> float:
    """``np.minimum(a, b)`` of two floats, as `maximum_scalar`."""
    return a if a < b or a != a else b


def divide_scalar(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:  # as NumPy: inf with the sign of a, or nan for 0 / 0
        with np.errstate(all="ignore"):
            return float(np.divide(a, b))


# -- elementwise operations on big broadcast operands -----------------------------------------

#: Results of at least this many elements, with an operand repeated along an inner axis, are
#: computed from an expanded copy of that operand (see `spread`).
SPREAD_MIN = 4096


def spread(ufunc: np.ufunc) -> Any:
    """``ufunc(a, b)``, faster when a big result repeats one operand along an inner axis.

    NumPy walks (10000, 4, 2) + (10000, 1, 2) two elements at a time, far slower than adding
    two arrays of one shape. Repeating the smaller operand first (np.repeat copies whole
    blocks) and then applying ``ufunc`` to equal shapes, into the repeated copy, is faster,
    with the same numbers (docs/performance.md has the measurements).
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


# -- sums: reductions, and summing a gradient back to an operand's shape ---------------------


def sum_axis(g: np.ndarray, axis: int) -> np.ndarray:
    """``g.sum(axis=axis, keepdims=True)``, fast for a short axis with few entries after it.

    NumPy sums the axis of length 4 of a (10000, 4, 2) array 2 entries at a time (far slower
    than need be); here each output column is summed over whole (10000,) slices, in the
    same order, l = 0, 1, ... (used for bias gradients of many stacked small networks, and
    by `reduce`, so sums over such an axis in the graph too).
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
        column += 0.0  # -0.0 to 0.0: NumPy's sum starts from 0.0, so a sum of -0.0s is 0.0
    return out.reshape(g.shape[:axis] + (1,) + g.shape[axis + 1:])


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """Sum ``g`` over the axes that broadcasting added to ``shape``; None if it cannot be."""
    extra = g.ndim - len(shape)
    if extra < 0:
        return None
    if extra:  # ufunc.reduce: np.sum's Python-level dispatch costs more than the sum here
        g = np.add.reduce(g, axis=0 if extra == 1 else tuple(range(extra)))
    if g.shape != shape:  # then sum the axes where the operand has length 1
        axes = tuple([i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1])
        if len(axes) == 1:
            g = sum_axis(g, axes[0])  # a kernel for stacked biases
        elif axes:
            g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else None


def reduce(ufunc: np.ufunc, x: Any, axis: Any, keepdims: bool) -> Any:
    """``ufunc.reduce`` over ``axis``; a float when everything is reduced."""
    # ufunc.reduce skips np.sum's Python-level dispatch, which weighs on a tiny array
    if type(x) is np.ndarray:
        if axis is None and not keepdims:  # a scalar Value holds a float
            return float(ufunc.reduce(x, axis=None))
        if ufunc is np.add and x.size >= 256:  # one short axis of many stacked small arrays
            one = axis[0] if type(axis) is tuple and len(axis) == 1 else axis
            if type(one) is int and -x.ndim <= one < x.ndim:
                total = sum_axis(x, one % x.ndim)
                return total if keepdims else total.reshape(np.delete(x.shape, one))
        return ufunc.reduce(x, axis=axis, keepdims=keepdims)
    return ufunc.reduce(np.asarray(x), axis=axis, keepdims=keepdims)


def count(x: Any, axis: Any) -> int:
    """How many entries of ``x`` each result of a reduction over ``axis`` covers."""
    if type(x) is float:
        return 1
    if axis is None:
        return int(x.size)
    return math.prod([x.shape[i] for i in np.atleast_1d(axis)])


def mean(x: Any, axis: Any, keepdims: bool) -> Any:
    """The mean over ``axis``; NaN for an empty slice, as ``np.mean`` (without its warning)."""
    total = reduce(np.add, x, axis, keepdims)
    n = count(x, axis)
    if n == 0:
        return math.nan if type(total) is float else np.full_like(total, np.nan)
    return total / n


# -- matmul with np.matmul's 1-D and batched rules ------------------------------------------

#: Stacks of at least this many matrices, each product of which takes at most this many
#: multiplications (m * k * n), are multiplied entry by entry (see `matmul`).
SMALL_MATMUL = 64


def matmul(a: Any, b: Any) -> Any:
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
                    return shared_times_stack(a, b)
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


def shared_times_stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for one (m, k) matrix a and a stack b of (k, n) matrices, as one BLAS product.

    out[..., i, j] = sum_l a[i, l] * b[..., l, j]. With each matrix of b flattened to a row of
    k * n entries, that is the rows times kron(a.T, I_n), a (k * n, m * n) matrix: one product
    over the whole stack instead of m * n * k NumPy operations (faster for XOR's layers).
    """
    (m, k), n = a.shape, b.shape[-1]
    rows = b.reshape(-1, k * n)
    spread_a = np.kron(a.T, np.eye(n, dtype=a.dtype))
    return (rows @ spread_a).reshape(b.shape[:-2] + (m, n))


# -- indexing ---------------------------------------------------------------------------------


def is_basic(index: Any) -> bool:
    """True for indices made of ints, slices, None and ...: each element is picked at most once."""
    parts = index if type(index) is tuple else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in parts)


def scatter(g: Any, shape: tuple[int, ...], dtype: Any, index: Any) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated integer indices accumulate)."""
    full = np.zeros(shape, dtype=dtype)
    if is_basic(index):
        full[index] = g
    else:
        np.add.at(full, index, g)
    return full
