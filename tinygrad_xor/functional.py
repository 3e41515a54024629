"""Function transforms built on `autograd.grad`: grad, value_and_grad, jacobian, hessian, hvp, jvp.

Each transform wraps the arguments it differentiates as new leaf Values (an argument that is
already a Value is used as it is), runs ``f`` with grad mode on, and asks `autograd.grad` for
the gradients. When nothing outside those leaves requires grad, the result is plain data (a
float for a number, an ndarray for an array). Otherwise (Value arguments, or an ``f`` that
uses a model's parameters or an enclosing transform's variables) the gradients are built with
``create_graph=True`` and returned as Values connected to the rest, so transforms nest to any
order: the inner one's result is differentiated by the outer one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autograd
from .engine import Value, _describe, _like, enable_grad
from .ops import reshape, stack

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp"]


def _argnums(argnums: Any, nargs: int, what: str) -> tuple[int, ...]:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{what}: argnums must be an int or a tuple of ints, got "
                            f"{_describe(argnums)}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{what}: argnums {n} is out of range for {nargs} arguments")
    if not nums:
        raise ValueError(f"{what}: argnums is an empty tuple")
    return tuple(int(n) % nargs for n in nums)


#: Every leaf a transform made for an argument given as data (weakly: they die with their
#: graphs). Once its transform has returned, such a leaf is a number like any other: a result
#: that still depends on it (an inner gradient of y, used by an outer transform of x) is not
#: a reason for the outer transform to return Values.
_made: weakref.WeakSet[Value] = weakref.WeakSet()


class _Running(threading.local):
    """The leaves of the transforms running now in this thread, innermost last."""

    def __init__(self) -> None:
        self.leaves: list[set[int]] = []


_running = _Running()


def _leaf(x: Any, what: str) -> Value:
    """An argument as the Value to differentiate by: a Value as it is, data as a new leaf."""
    if isinstance(x, Value):
        return x
    try:
        v = Value(np.asarray(x, dtype=np.float64) if isinstance(x, (list, tuple)) else x)
    except TypeError:
        raise TypeError(f"{what}: arguments to differentiate must be numbers, arrays or Values,"
                        f" got {_describe(x)}") from None
    _made.add(v)
    return v


def _reaches_other(roots: Sequence[Value], own: Sequence[Value]) -> bool:
    """True when the graph of ``roots`` holds a Value that requires grad besides ``own``: a
    Value of the user's (a parameter), or the variable of a transform that encloses this one.
    The variables of transforms that have returned do not count."""
    mine = {id(v) for v in own}
    enclosing = set().union(*_running.leaves)
    seen = set(mine)
    stack = [r for r in roots if r.requires_grad]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v._op is None:
            if v not in _made or id(v) in enclosing:
                return True  # a leaf that requires grad and is not one of ours
            continue
        stack.extend(p for p in v._parents if p.requires_grad)
    return False


def _plain(v: Value, like: Any) -> Any:
    """A Value's data as the kind of data ``like`` was: a float for a number, else an array."""
    if isinstance(like, Value):
        return v
    data = v.data
    if type(data) is float:
        return data if np.ndim(like) == 0 else np.full(np.shape(like), data)
    return np.array(data)


def _call(f: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...],
          what: str) -> tuple[tuple[Value, ...], Any]:
    if not callable(f):
        raise TypeError(f"{what}: f must be a function, got {_describe(f)}")
    call = list(args)
    leaves = []
    for n in nums:
        call[n] = _leaf(call[n], what)
        leaves.append(call[n])
    _running.leaves.append({id(v) for v in leaves})
    try:
        with enable_grad():
            out = f(*call)
    finally:
        _running.leaves.pop()
    return tuple(leaves), out


def _scalar_out(out: Any, what: str) -> Value:
    if not isinstance(out, Value):
        if isinstance(out, (int, float, np.number)) and not isinstance(out, bool):
            return Value(float(out), requires_grad=False)
        raise TypeError(f"{what}: f must return a Value of one element, got {_describe(out)}")
    if out.size != 1:
        raise ValueError(f"{what}: f must return one element, it returned shape {out.shape}"
                         f" (use jacobian for several)")
    return out


def _nested(args: tuple[Any, ...], nums: tuple[int, ...], roots: Sequence[Value],
            leaves: Sequence[Value]) -> bool:
    return any(isinstance(args[n], Value) for n in nums) or _reaches_other(roots, leaves)


def value_and_grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0
                   ) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), gradient of f)`` with respect to argument ``argnums``."""
    what = "value_and_grad"

    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), what)
        leaves, out = _call(f, args, nums, what)
        out = _scalar_out(out, what)
        nested = _nested(args, nums, [out], leaves)
        grads = autograd.grad(out, leaves, create_graph=nested, allow_unused=True)
        if nested:
            value: Any = out
            result: Any = grads
        else:
            value = out.item()
            result = tuple(_plain(g, args[n]) for g, n in zip(grads, nums))
        return value, result if isinstance(argnums, tuple) else result[0]

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the gradient of ``f`` (one element) at its arguments.

    ``argnums`` chooses the argument (an int) or arguments (a tuple: a tuple of gradients).
    """
    vg = value_and_grad(f, argnums)

    def grad_f(*args: Any) -> Any:
        return vg(*args)[1]

    return grad_f


def _jacobian(out: Value, xs: Sequence[Value], nested: bool) -> list[Any]:
    """d out / d x for each x, of shape ``out.shape + x.shape``: one reverse pass per element."""
    rows: list[list[Any]] = [[] for _ in xs]
    for j in range(out.size):
        onehot = np.zeros(out.size)
        onehot[j] = 1.0
        w = onehot.reshape(out.shape) if out.shape else 1.0
        if out.requires_grad:
            gs = autograd.grad(out, xs, w, create_graph=nested, allow_unused=True)
        else:
            gs = tuple(Value(np.zeros_like(x.data) if x.shape else 0.0, requires_grad=False)
                       for x in xs)
        for i, g in enumerate(gs):
            rows[i].append(g)
    jacs: list[Any] = []
    for x, r in zip(xs, rows):
        if nested:
            js = stack(r, axis=0) if x.shape else stack([reshape(g, shape=(1,)) for g in r])
            jacs.append(reshape(js, shape=out.shape + x.shape))
        else:
            jacs.append(np.array([g.data for g in r], dtype=np.float64).reshape(
                out.shape + x.shape))
    return jacs


def _as_value(out: Any, what: str) -> Value:
    if isinstance(out, Value):
        return out
    if isinstance(out, (int, float, np.number, np.ndarray, list)) and not isinstance(out, bool):
        return Value(out, requires_grad=False)
    raise TypeError(f"{what}: f must return a Value, got {_describe(out)}")


def jacobian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning ``J[i..., j...] = d f(x)[i...] / d x[j...]``, of shape
    ``out.shape + x.shape`` (a tuple of them for a tuple of argnums)."""
    what = "jacobian"

    def jacobian_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), what)
        leaves, out = _call(f, args, nums, what)
        out = _as_value(out, what)
        nested = _nested(args, nums, [out], leaves)
        jacs = _jacobian(out, leaves, nested)
        if not nested:
            jacs = [j if np.ndim(args[n]) or out.shape else float(j)
                    for j, n in zip(jacs, nums)]
        return tuple(jacs) if isinstance(argnums, tuple) else jacs[0]

    return jacobian_f


def hessian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the Hessian of ``f`` (one element), of shape ``x.shape + x.shape``;
    for a tuple of argnums, the blocks ``H[i][j]`` of shape ``x_i.shape + x_j.shape``."""
    what = "hessian"

    def hessian_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), what)
        leaves, out = _call(f, args, nums, what)
        out = _scalar_out(out, what)
        nested = _nested(args, nums, [out], leaves)
        grads = autograd.grad(out, leaves, create_graph=True, allow_unused=True)
        blocks = [_jacobian(g, leaves, nested) for g in grads]
        if not nested:
            blocks = [[h if np.ndim(args[ni]) or np.ndim(args[nj]) else float(h)
                       for h, nj in zip(row, nums)] for row, ni in zip(blocks, nums)]
        if isinstance(argnums, tuple):
            return tuple(tuple(row) for row in blocks)
        return blocks[0][0]

    return hessian_f


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian of ``f`` at ``x`` times ``v`` (shape of ``x``), without forming the Hessian:
    a reverse pass over the graph of the gradient, about the cost of two gradients."""
    what = "hvp"
    (leaf,), out = _call(f, (x,), (0,), what)
    out = _scalar_out(out, what)
    nested = isinstance(x, Value) or isinstance(v, Value) or _reaches_other([out], [leaf])
    (g,) = autograd.grad(out, leaf, create_graph=True, allow_unused=True)
    w = v if isinstance(v, Value) and nested else _direction(v, leaf, what)
    if not g.requires_grad:
        return _plain(Value(np.zeros_like(leaf.data) if leaf.shape else 0.0), x)
    (hv,) = autograd.grad(g, leaf, w, create_graph=nested, allow_unused=True)
    return hv if nested else _plain(hv, x)


def _direction(v: Any, x: Value, what: str) -> Any:
    return _like(v.data if isinstance(v, Value) else v, x.data, f"{what}: the direction")


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """``(f(*primals), J v)``: the directional derivative of ``f`` along ``tangents``.

    Computed as the derivative of a vector-Jacobian product with respect to its vector (the
    "double VJP": J v = d/du (u^T J) v), so it costs about three reverse passes and works for
    every operation that is differentiable to second order.
    """
    what = "jvp"
    for name, seq in (("primals", primals), ("tangents", tangents)):
        if not isinstance(seq, (tuple, list)):
            raise TypeError(f"{what}: {name} must be a tuple, got {_describe(seq)}")
    if len(primals) != len(tangents):
        raise ValueError(f"{what}: {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(range(len(primals)))
    leaves, out = _call(f, tuple(primals), nums, what)
    out = _as_value(out, what)
    dirs = [t if isinstance(t, Value) else _direction(t, x, what)
            for t, x in zip(tangents, leaves)]
    nested = (_nested(tuple(primals), nums, [out], leaves)
              or any(isinstance(t, Value) for t in tangents))
    if not out.requires_grad:
        zero = Value(np.zeros_like(out.data) if out.shape else 0.0, requires_grad=False)
        return (out, zero) if nested else (out.data, zero.data)
    u = Value(np.zeros_like(out.data) if out.shape else 0.0)  # the vector of u^T J
    _made.add(u)
    vjps = autograd.grad(out, leaves, u, create_graph=True, allow_unused=True)
    pairs = [(g, d) for g, d in zip(vjps, dirs) if g.requires_grad]
    if not pairs:
        tangent = Value(np.zeros_like(out.data) if out.shape else 0.0, requires_grad=False)
    else:
        (tangent,) = autograd.grad([g for g, _ in pairs], u, [d for _, d in pairs],
                                   create_graph=nested, allow_unused=True)
    if nested:
        return out, tangent
    return (out.item() if not out.shape else np.array(out.data),
            tangent.item() if not out.shape else np.array(tangent.data))
