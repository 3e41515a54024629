"""Function transforms built on `autograd.grad`: grad, value_and_grad, jacobian, hessian, hvp, jvp.

Every argument a transform differentiates by is a new variable (JAX's and torch.func's
semantics). An argument given as data, or as a Value that requires no grad, becomes a new leaf.
A Value that requires grad becomes a new node of the one-operand operation ``argument`` on top
of it: the transform differentiates with respect to that node, so a use of the same Value that
``f`` captures from outside does not count (no "perturbation confusion"), while an enclosing
transform still differentiates through the link. ``f`` runs with grad mode on.

A transform returns plain data (a float for a number, an ndarray for an array) when nothing
outside its own variables requires grad. Otherwise (a Value argument that requires grad, or an
``f`` that uses a model's parameters or an enclosing transform's variables) the gradients are
built with ``create_graph=True`` and returned as Values connected to the rest, so transforms
nest to any order. Called under ``no_grad()``, a transform still differentiates ``f``, but its
result is a constant: data, or Values that require no grad.

Whether a graph reaches an enclosing transform's variable does not depend on threads: the
leaves a transform made are marked finished (`_finished`) when it returns, and only then stop
counting as variables, so an inner transform run in a worker thread nests like any other.

Imports: ``checks``, ``mode``, ``value``, ``primitive``, ``ops``, ``operators``, ``autograd``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autograd
from .checks import describe, like
from .mode import enable_grad, is_grad_enabled
from .operators import stack
from .ops import reshape
from .primitive import Primitive
from .value import Value, walk

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp", "vjp"]

#: The link between a transform's variable and the Value given for it: the identity.
_argument = Primitive(lambda x: x if type(x) is float else np.array(x),
                     lambda grad, out, x: (grad,), name="argument", builtin=True)

#: The leaves made by transforms that have returned (weakly: they die with their graphs). A
#: result that still depends on one (an inner gradient of y, used by an outer transform of x)
#: is no reason for the outer transform to return Values: y is a number like any other now.
_finished: weakref.WeakSet[Value] = weakref.WeakSet()


def _argnums(argnums: Any, nargs: int, what: str) -> tuple[int, ...]:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{what}: argnums must be an int or a tuple of ints, got "
                            f"{describe(argnums)}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{what}: argnums {n} is out of range for {nargs} arguments")
    if not nums:
        raise ValueError(f"{what}: argnums is an empty tuple")
    out = tuple(int(n) % nargs for n in nums)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: argnums must be unique, got {argnums} for {nargs} arguments")
    return out


class _Transform:
    """One call of a transform: its new variables, ``f``'s output, and what to return.

    Used as a context manager: leaving it marks the leaves it made as finished, whatever
    happens (an exception, a KeyboardInterrupt).
    """

    def __init__(self, what: str, f: Callable[..., Any], args: Sequence[Any],
                 kwargs: dict[str, Any], nums: tuple[int, ...]) -> None:
        if not callable(f):
            raise TypeError(f"{what}: f must be a function, got {describe(f)}")
        self.what = what
        self.args = args
        self.nums = nums
        #: grad mode at the call: off, the result is a constant to what encloses it
        self.enabled = is_grad_enabled()
        self.made: list[Value] = []
        call = list(args)
        for n in nums:
            call[n] = self.variable(args[n], f"argument {n}")
        self.variables = tuple(call[n] for n in nums)
        self.call = call
        self.kwargs = kwargs
        self.f = f

    def __enter__(self) -> _Transform:
        return self

    def __exit__(self, *exc: Any) -> None:
        for v in self.made:
            _finished.add(v)

    def run(self) -> Any:
        """``f`` at the new variables, with grad mode on."""
        with enable_grad():
            return self.f(*self.call, **self.kwargs)

    def variable(self, x: Any, name: str) -> Value:
        """A new variable for ``x``: linked to it when it is a Value that requires grad."""
        if isinstance(x, Value):
            if x.requires_grad and self.enabled:
                with enable_grad():
                    return _argument(x)
            data: Any = x._data
        elif isinstance(x, (list, tuple)):
            try:
                data = np.asarray(x, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{self.what}: {name} must be a number, an array or a Value,"
                                f" got {describe(x)}") from None
        else:
            data = x
        try:
            v = Value(data)
        except TypeError:
            raise TypeError(f"{self.what}: {name} must be a number, an array or a Value, got "
                            f"{describe(x)}") from None
        self.made.append(v)
        return v

    def leaf(self, data: Any) -> Value:
        """A new leaf of this call (jvp's vector u), finished with the others."""
        v = Value(data)
        self.made.append(v)
        return v

    def connected(self, roots: Sequence[Value]) -> bool:
        """Whether the result must be built as a graph: grad mode was on at the call, and the
        graph of ``roots`` holds a Value that requires grad besides the leaves this call made
        (a Value argument's own graph, a parameter, an enclosing transform's variable)."""
        if not self.enabled:
            return False
        made = {id(v) for v in self.made}
        return any(v._op is None and v._requires_grad and id(v) not in made
                   and v not in _finished for v in walk(*roots))

    def result(self, g: Value, like: Any, graph: bool) -> Any:
        """A gradient as returned: a connected Value (``graph``), a Value that requires no
        grad (for a Value argument), or the kind of data ``like`` was."""
        if graph:
            return g
        if isinstance(like, Value):
            return g if not g.requires_grad else g.detach()
        data = g._data
        if type(data) is float:
            return data if np.ndim(like) == 0 else np.full(np.shape(like), data)
        return np.array(data)

    def output(self, out: Value, graph: bool) -> Any:
        """``f``'s own output as returned beside a gradient, like `result`."""
        if graph:
            return out
        if any(isinstance(self.args[n], Value) for n in self.nums):
            return out.detach()
        return out._data if type(out._data) is float else np.array(out._data)


def _scalar_out(out: Any, what: str) -> Value:
    if not isinstance(out, Value):
        if isinstance(out, (int, float, np.number)) and not isinstance(out, bool):
            return Value(float(out), requires_grad=False)
        raise TypeError(f"{what}: f must return a Value of one element, got {describe(out)}")
    if out.size != 1:
        raise ValueError(f"{what}: f must return one element, it returned shape {out.shape}"
                         f" (use jacobian for several)")
    return out


def _as_value(out: Any, what: str) -> Value:
    if isinstance(out, Value):
        return out
    if isinstance(out, (list, tuple)) and any(isinstance(o, Value) for o in out):
        raise TypeError(f"{what}: f must return one Value, got a {type(out).__name__} of "
                        f"Values (make one of them with stack(...) or concatenate(...))")
    if isinstance(out, (int, float, np.number, np.ndarray, list)) and not isinstance(out, bool):
        try:
            return Value(out, requires_grad=False)
        except TypeError:
            pass
    raise TypeError(f"{what}: f must return a Value, a number or an array, got "
                    f"{describe(out)}")


def _direction(v: Any, x: Value, what: str) -> Any:
    """A direction (hvp's v, jvp's tangent) as data of ``x``'s kind and shape."""
    return like(v._data if isinstance(v, Value) else v, x._data, what)


def _value_and_grad(f: Callable[..., Any], argnums: int | tuple[int, ...], has_aux: Any,
                    what: str) -> Callable[..., tuple[Any, Any]]:
    if not isinstance(has_aux, (bool, np.bool_)):
        raise TypeError(f"{what}: has_aux must be True or False, got {describe(has_aux)}")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), what)
        with _Transform(what, f, args, kwargs, nums) as t:
            returned = t.run()
            if has_aux:
                if not isinstance(returned, (tuple, list)) or len(returned) != 2:
                    raise TypeError(f"{what}: with has_aux=True, f must return a pair (output,"
                                    f" aux), got {describe(returned)}")
                returned, aux = returned
            out = _scalar_out(returned, what)
            graph = t.connected([out])
            grads = autograd.grad(out, t.variables, create_graph=graph, allow_unused=True)
            result = tuple(t.result(g, args[n], graph) for g, n in zip(grads, nums))
            value = t.output(out, graph)
            if has_aux:
                value = (value, _aux(aux, t, graph))
            return value, result if isinstance(argnums, tuple) else result[0]

    return value_and_grad_f


def _aux(aux: Any, t: _Transform, graph: bool) -> Any:
    """``f``'s auxiliary data as returned: each Value in it as `_Transform.output` returns
    ``f``'s output, through tuples, lists and dicts."""
    if isinstance(aux, Value):
        return t.output(aux, graph)
    if isinstance(aux, (tuple, list)):
        return type(aux)(_aux(a, t, graph) for a in aux)
    if isinstance(aux, dict):
        return {k: _aux(a, t, graph) for k, a in aux.items()}
    return aux


def value_and_grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0, *,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), gradient of f)`` with respect to argument ``argnums``.

    With ``has_aux=True``, ``f`` returns ``(output, aux)`` and the result is
    ``((output, aux), gradient)``, as ``jax.value_and_grad``.
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0, *,
         has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the gradient of ``f`` (one element) at its arguments.

    ``argnums`` chooses the argument (an int) or arguments (a tuple: a tuple of gradients).
    Keyword arguments are passed on to ``f`` and not differentiated. With ``has_aux=True``,
    ``f`` returns ``(output, aux)`` and the result is ``(gradient, aux)``, as ``jax.grad``.
    """
    vg = _value_and_grad(f, argnums, has_aux, "grad")

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


def _jacobian(out: Value, xs: Sequence[Value], graph: bool) -> list[Value]:
    """d out / d x for each x, of shape ``out.shape + x.shape``: one reverse pass per element."""
    if out.size == 0 or not out.requires_grad:
        return [Value(np.zeros(out.shape + x.shape), requires_grad=False) for x in xs]
    rows: list[list[Value]] = [[] for _ in xs]
    for j in range(out.size):
        onehot = np.zeros(out.size)
        onehot[j] = 1.0
        w = onehot.reshape(out.shape) if out.shape else 1.0
        gs = autograd.grad(out, xs, w, create_graph=graph, allow_unused=True)
        for i, g in enumerate(gs):
            rows[i].append(g)
    jacs: list[Value] = []
    for x, r in zip(xs, rows):
        if graph:
            js = stack(r, axis=0) if x.shape else stack([reshape(g, shape=(1,)) for g in r])
            jacs.append(reshape(js, shape=out.shape + x.shape))
        else:
            data = np.array([g._data for g in r], dtype=np.float64).reshape(out.shape + x.shape)
            jacs.append(Value(data, requires_grad=False))
    return jacs


def jacobian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning ``J[i..., j...] = d f(x)[i...] / d x[j...]``, of shape
    ``out.shape + x.shape`` (a tuple of them for a tuple of argnums)."""
    what = "jacobian"

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), what)
        with _Transform(what, f, args, kwargs, nums) as t:
            out = _as_value(t.run(), what)
            graph = t.connected([out])
            jacs = [t.result(j, args[n], graph)
                    for j, n in zip(_jacobian(out, t.variables, graph), nums)]
            return tuple(jacs) if isinstance(argnums, tuple) else jacs[0]

    return jacobian_f


def hessian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the Hessian of ``f`` (one element), of shape ``x.shape + x.shape``;
    for a tuple of argnums, the blocks ``H[i][j]`` of shape ``x_i.shape + x_j.shape``."""
    what = "hessian"

    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), what)
        with _Transform(what, f, args, kwargs, nums) as t:
            out = _scalar_out(t.run(), what)
            graph = t.connected([out])
            grads = autograd.grad(out, t.variables, create_graph=True, allow_unused=True)
            blocks = [[t.result(h, args[ni], graph) for h in _jacobian(g, t.variables, graph)]
                      for g, ni in zip(grads, nums)]
            if isinstance(argnums, tuple):
                return tuple(tuple(row) for row in blocks)
            return blocks[0][0]

    return hessian_f


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian of ``f`` at ``x`` times ``v`` (shape of ``x``), without forming the Hessian:
    a reverse pass over the graph of the gradient, about the cost of two gradients."""
    what = "hvp"
    with _Transform(what, f, (x,), {}, (0,)) as t:
        (var,) = t.variables
        w = _direction(v, var, f"{what}: the direction v")
        out = _scalar_out(t.run(), what)
        linked = isinstance(v, Value) and v.requires_grad and t.enabled
        graph = linked or t.connected([out])
        (g,) = autograd.grad(out, var, create_graph=True, allow_unused=True)
        if not g.requires_grad:
            return t.result(Value(np.zeros(var.shape) if var.shape else 0.0,
                                  requires_grad=False), x, False)
        (hv,) = autograd.grad(g, var, v if linked else w, create_graph=graph, allow_unused=True)
        return t.result(hv, x, graph)


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
            raise TypeError(f"{what}: {name} must be a tuple, got {describe(seq)}")
    if len(primals) != len(tangents):
        raise ValueError(f"{what}: {len(primals)} primals but {len(tangents)} tangents")
    if not primals:
        raise ValueError(f"{what}: primals is empty: give f's arguments, one tangent each")
    nums = tuple(range(len(primals)))
    with _Transform(what, f, tuple(primals), {}, nums) as t:
        dirs = [_direction(d, x, f"{what}: tangent {i}")
                for i, (d, x) in enumerate(zip(tangents, t.variables))]
        out = _as_value(t.run(), what)
        linked = t.enabled and any(isinstance(d, Value) and d.requires_grad for d in tangents)
        graph = linked or t.connected([out])
        if not out.requires_grad:
            zero = Value(np.zeros(out.shape) if out.shape else 0.0, requires_grad=False)
            return t.output(out, graph), t.result(zero, out._data, graph)
        u = t.leaf(np.zeros(out.shape) if out.shape else 0.0)  # the vector of u^T J
        vjps = autograd.grad(out, t.variables, u, create_graph=True, allow_unused=True)
        pairs = [(g, d if linked and isinstance(d, Value) else w)
                 for g, d, w in zip(vjps, tangents, dirs) if g.requires_grad]
        if not pairs:
            tangent = Value(np.zeros(out.shape) if out.shape else 0.0, requires_grad=False)
        else:
            (tangent,) = autograd.grad([g for g, _ in pairs], u, [d for _, d in pairs],
                                       create_graph=graph, allow_unused=True)
        like = out if any(isinstance(p, Value) for p in primals) else out._data
        return t.output(out, graph), t.result(tangent, like, graph)


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """``(f(*primals), vjp_fn)``, as ``jax.vjp``: ``vjp_fn(cotangent)`` returns the
    vector-Jacobian product ``cotangent^T J``, one gradient per primal (a tuple).

    The graph of ``f`` is built once and kept by ``vjp_fn``, which may be called many times
    with cotangents of ``f``'s output shape.
    """
    what = "vjp"
    if not primals:
        raise ValueError(f"{what}: no primals: give f's arguments")
    nums = tuple(range(len(primals)))
    with _Transform(what, f, primals, {}, nums) as t:
        out = _as_value(t.run(), what)
        graph = t.connected([out])

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        linked = graph and isinstance(cotangent, Value) and cotangent.requires_grad
        w = _direction(cotangent, out, f"{what}: the cotangent")
        if not out.requires_grad:
            return tuple(t.result(Value(np.zeros(v.shape) if v.shape else 0.0,
                                        requires_grad=False), p, False)
                         for v, p in zip(t.variables, primals))
        grads = autograd.grad(out, t.variables, cotangent if linked else w,
                              create_graph=graph or linked, allow_unused=True)
        return tuple(t.result(g, p, graph or linked) for g, p in zip(grads, primals))

    return t.output(out, graph), vjp_fn
