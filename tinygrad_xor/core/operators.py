"""The operations users call: the Value's operators and methods, and the public functions.

Each is a primitive of the op table (``ops.py``) or built from primitives (``a / b`` is
``a * b ** -1``), so none has a rule of its own. The Value's methods are written in the class
`_Methods` below and attached to `Value` when this module is imported (the Value imports no
operation: the arrows run from here down to it); ``+ - * @`` are made by `_operator`, the fast
path of a two-operand call. The arguments of reductions, reshapes and transposes are checked
here (`reduction_params`, `check_shape`, `check_axes`).

Imports: ``checks``, ``value``, ``primitive``, ``ops``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops as _ops
from .checks import describe
from .primitive import _operator
from .value import Value

__all__ = ["where", "maximum", "minimum", "concatenate", "stack", "neg", "div", "power",
           "clip_value", "UFUNCS"]


def _data(x: Any) -> Any:
    return x._data if type(x) is Value else x


# -- derived operations and the functions of the public API ----------------------------------


def neg(a: Any) -> Value:
    """-a, as a * -1."""
    return _ops.mul(a, -1.0)


def div(a: Any, b: Any) -> Value:
    """a / b, as a * b ** -1."""
    return _ops.mul(a, _ops.pow(b, p=-1.0))


def power(a: Any, b: Any) -> Value:
    """a ** b: a number exponent is the `pow` primitive, a Value or array one `power` (where
    a negative base gives NumPy's values, real for integer exponents, and a NaN gradient with
    respect to the exponent, as PyTorch)."""
    if type(b) is float or type(b) is int or (
            isinstance(b, (np.integer, np.floating)) and not isinstance(b, bool)):
        return _ops.pow(a, p=float(b))
    if isinstance(b, (Value, np.ndarray, list, tuple)):
        return _ops.power_(a, b)
    raise TypeError(f"unsupported exponent: {describe(b)}")


def _bound(value: Any, what: str) -> Any:
    if value is None:
        return None
    data = value.data if isinstance(value, Value) else value
    if isinstance(data, bool) or not isinstance(data, (int, float, np.number, np.ndarray)):
        raise TypeError(f"clip(): {what} must be a number or an array, got {describe(data)}")
    if np.any(np.isnan(data)):
        raise ValueError(f"clip(): {what} is NaN")
    if isinstance(value, Value):
        return value
    return float(data) if np.ndim(data) == 0 else np.asarray(data, dtype=np.float64)


def clip_value(x: Any, lo: Any = None, hi: Any = None) -> Value:
    """x limited to [lo, hi] (either may be None); gradient 1 inside, bounds included.

    Value bounds are operands, with PyTorch's gradients for ``clamp`` with tensor bounds: lo
    gets it where x < lo, hi where x > hi."""
    lo, hi = _bound(lo, "lo"), _bound(hi, "hi")
    if lo is None and hi is None:
        raise ValueError("clip(): give lo, hi or both")
    lo_data, hi_data = _data(lo), _data(hi)
    if lo is not None and hi is not None and np.any(np.asarray(lo_data) > np.asarray(hi_data)):
        raise ValueError(f"clip(): lo ({lo_data}) is above hi ({hi_data})")
    if type(lo) is Value or type(hi) is Value:  # a missing bound is an infinite one
        return _ops.clip(x, -math.inf if lo is None else lo, math.inf if hi is None else hi,
                    lo=None, hi=None)
    return _ops.clip(x, lo=lo, hi=hi)


def where(cond: Any, a: Any, b: Any) -> Value:
    """``a`` where ``cond`` holds, else ``b`` (broadcast); no gradient flows to ``cond``."""
    if isinstance(cond, Value):
        if cond._op is not None or cond._requires_grad:
            # a condition computed in the graph (a compiled function's argument, a mask):
            # recomputed with it, as `keep(cond, a) + keep(1 - cond, b)`
            return _ops.add(_ops.keep(cond, a), _ops.keep(_ops.sub(1.0, cond), b))
        cond = cond._data
    mask = np.asarray(cond)
    if mask.dtype != np.bool_:
        raise TypeError(f"where(): cond must be a boolean array, got dtype {mask.dtype}")
    return _ops.where_(a, b, cond=mask)


def maximum(a: Any, b: Any) -> Value:
    """Elementwise maximum (broadcast); ties share the gradient equally, and where either
    operand is NaN (so is the result) both get all of it, in either order (PyTorch's rule)."""
    return _ops.maximum_(a, b)


def minimum(a: Any, b: Any) -> Value:
    """Elementwise minimum (broadcast); ties share the gradient equally, and where either
    operand is NaN (so is the result) both get all of it, in either order (PyTorch's rule)."""
    return _ops.minimum_(a, b)


def _sequence(values: Any, what: str) -> list[Any]:
    if isinstance(values, (Value, np.ndarray)) or not isinstance(values, Sequence):
        raise TypeError(f"{what}() needs a list or tuple of Values or arrays, got "
                        f"{describe(values)}")
    if not values:
        raise ValueError(f"{what}() needs at least one Value")
    return list(values)


def _axis(axis: Any, what: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}(): axis must be an int, got {describe(axis)}")
    return int(axis)


def concatenate(values: Sequence[Any], axis: int = 0) -> Value:
    """Join Values along an existing axis, as ``np.concatenate``."""
    return _ops.concatenate_(*_sequence(values, "concatenate"), axis=_axis(axis, "concatenate"))


def stack(values: Sequence[Any], axis: int = 0) -> Value:
    """Join Values of one shape along a new axis, as ``np.stack``."""
    return _ops.stack_(*_sequence(values, "stack"), axis=_axis(axis, "stack"))


#: NumPy's ufuncs that Values take (``np.exp(v)``, ``arr * v``), by the operation they are.
UFUNCS: dict[Any, Any] = {
    np.add: _ops.add, np.subtract: _ops.sub, np.multiply: _ops.mul, np.matmul: _ops.matmul,
    np.true_divide: div, np.negative: neg, np.power: power, np.exp: _ops.exp, np.log: _ops.log,
    np.tanh: _ops.tanh, np.sqrt: _ops.sqrt, np.sin: _ops.sin, np.cos: _ops.cos,
    np.absolute: _ops.abs, np.maximum: maximum, np.minimum: minimum,
    np.square: lambda x: _ops.pow(x, p=2.0),
}


# -- checks of the arguments of reductions and shapes ----------------------------------------


def reduction_params(what: str, x: Value, axis: Any, keepdims: Any) -> dict[str, Any]:
    """``axis`` (None, an int or a tuple of ints, negative ones counted from the end) checked
    against ``x`` and normalised to non-negative ints; ``keepdims`` a bool."""
    if axis is None and keepdims is False and (what != "max" or x.size):
        return {"axis": None, "keepdims": False}  # the common case: nothing to check
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{what}(): keepdims must be True or False, got {describe(keepdims)}")
    if axis is not None:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        ndim = x.ndim
        n = ndim or 1  # shape (): axis 0 or -1 is the whole Value, as in PyTorch
        norm = []
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
                raise TypeError(f"{what}(): axis must be None, an int or a tuple of ints, got "
                                f"{describe(axis)}")
            if not -n <= a < n:
                raise ValueError(f"{what}(): axis {a} is out of range for a Value of shape "
                                 f"{x.shape}")
            norm.append(int(a) % n)
        if len(set(norm)) != len(norm):
            raise ValueError(f"{what}(): axis {axis} repeats an axis")
        if not ndim:
            return {"axis": None, "keepdims": False}
        axis = norm[0] if not isinstance(axis, (tuple, list)) else tuple(norm)
    if what == "max" and x.size == 0:
        raise ValueError(f"max(): a Value of shape {x.shape} has no elements to take the "
                         f"maximum of")
    return {"axis": axis, "keepdims": bool(keepdims)}


def check_shape(what: str, shape: tuple[Any, ...]) -> tuple[int, ...]:
    """A shape argument as a tuple of ints (one of them may be -1)."""
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{what}(): the shape must be ints, got {shape!r}")
        if n < -1:
            raise ValueError(f"{what}(): negative length {n} in shape {shape!r}")
    return tuple(int(n) for n in shape)


def check_axes(x: Value, axes: tuple[Any, ...]) -> tuple[int, ...] | None:
    """The axes of a transpose as a permutation of non-negative ints (None: reverse them)."""
    if not axes:
        return None
    ndim = x.ndim
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"transpose(): axes must be ints, got {axes!r}")
    norm = tuple(int(a) % ndim if -ndim <= a < ndim else ndim for a in axes) if ndim else ()
    if len(axes) != ndim or sorted(norm) != list(range(ndim)):
        raise ValueError(f"transpose(): axes {axes!r} are not a permutation of the axis "
                         f"numbers 0..{ndim - 1} of a Value of shape {x.shape}")
    return norm


# -- the Value's operators and methods ---------------------------------------------------------


class _Methods:
    """The Value's operations, attached to `Value` below."""

    def __truediv__(self, other: Any) -> Value:
        return div(self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return div(other, self)

    def __neg__(self) -> Value:
        return neg(self)

    def __abs__(self) -> Value:  # abs(x), as x.abs()
        return _ops.abs(self)

    def __pow__(self, other: Any) -> Value:
        return power(self, other)

    def __rpow__(self, other: Any) -> Value:
        return power(other, self)

    def __getitem__(self, index: Any) -> Value:
        return _ops.getitem(self, index=index)

    def relu(self) -> Value:
        """max(x, 0) elementwise; its gradient at exactly 0 is taken as 0."""
        return _ops.relu(self)

    def sigmoid(self) -> Value:
        """1 / (1 + exp(-x)) elementwise, computed without overflow."""
        return _ops.sigmoid(self)

    def tanh(self) -> Value:
        """Hyperbolic tangent elementwise."""
        return _ops.tanh(self)

    def exp(self) -> Value:
        """e ** x elementwise."""
        return _ops.exp(self)

    def log(self) -> Value:
        """Natural logarithm elementwise."""
        return _ops.log(self)

    def abs(self) -> Value:
        """|x| elementwise; its gradient at exactly 0 is taken as 0."""
        return _ops.abs(self)

    def sqrt(self) -> Value:
        """Square root elementwise."""
        return _ops.sqrt(self)

    def sin(self) -> Value:
        """Sine elementwise."""
        return _ops.sin(self)

    def cos(self) -> Value:
        """Cosine elementwise."""
        return _ops.cos(self)

    def clip(self, lo: Any = None, hi: Any = None) -> Value:
        """Each element limited to [lo, hi]; gradient 1 inside (bounds included), 0 outside.

        Bounds may be numbers, arrays or Values; a Value bound gets the gradient where it
        clips (where x < lo, or x > hi), as PyTorch's ``clamp`` with tensor bounds."""
        return clip_value(self, lo, hi)

    def sum(self: Any, axis: Any = None, keepdims: bool = False) -> Value:
        """Sum over ``axis`` (all axes by default)."""
        return _ops.sum(self, **reduction_params("sum", self, axis, keepdims))

    def mean(self: Any, axis: Any = None, keepdims: bool = False) -> Value:
        """Mean over ``axis`` (all axes by default); NaN over an empty slice, as NumPy."""
        return _ops.mean(self, **reduction_params("mean", self, axis, keepdims))

    def max(self: Any, axis: Any = None, keepdims: bool = False) -> Value:
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return _ops.max(self, **reduction_params("max", self, axis, keepdims))

    def reshape(self, *shape: Any) -> Value:
        """The same elements in a new shape: ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape=check_shape("reshape", shape))

    def transpose(self: Any, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), like ``np.transpose``."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes=check_axes(self, axes))

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return _ops.transpose(self, axes=None)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's ufuncs on Values: ``arr + v``, ``np.exp(v)`` are the op table's operations.

        So ``ndarray @ Value`` is a Value, and a custom vjp written with ``np.exp`` runs on
        Values too (differentiable again). Other ufuncs and ``out=`` are a TypeError.
        """
        op = UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        return NotImplemented if op is None else op(*inputs)


for _name, _member in vars(_Methods).items():
    if _name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
        if callable(_member):
            _member.__qualname__ = f"Value.{_name}"
        setattr(Value, _name, _member)

# + - * @ and their reflected forms: the fast path of a two-operand call, one call before _node.
for _prim in (_ops.add, _ops.sub, _ops.mul, _ops.matmul):
    for _method in _operator(_prim):
        setattr(Value, _method.__name__, _method)
