"""`Primitive`: an operation on Values, a NumPy forward beside its vector-Jacobian product.

Calling a Primitive runs its forward on the operands' numbers and records the result with
`_node`. The op table (``ops.py``) is made of Primitives; a user makes one with `primitive`,
whose rule is checked at every call (`_checked`). `_operator` makes the Value's two-operand
operators, the labelled fast path of a call.

Imports: ``checks`` and ``value``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import numpy as np

from .checks import describe
from .value import Value, _lift, _node, _Rest

__all__ = ["Primitive", "primitive"]

_data = attrgetter("_data")


class Primitive:
    """An operation on Values: a NumPy forward and its vector-Jacobian product.

    ``forward(*xs, **params)`` takes floats/ndarrays and returns one. ``vjp(grad, out, *xs,
    **params)`` returns one gradient per input (``None`` for none); gradients may have the
    broadcast shape, the engine sums them back. A first-order pass calls it with floats and
    ndarrays; a pass that builds the gradient's own graph (``create_graph=True``) calls it with
    Values, so a rule written with operators and Value methods is differentiable again.
    ``scalar`` is an optional faster forward used when every input is a Python float.
    ``vjps`` optionally gives one rule per input, ``vjp_i(grad, out, *xs, **params)``, so that
    backward skips the work for inputs that need no gradient (``matmul`` with a constant
    operand); ``vjp`` may then be omitted. ``builtin`` marks the table's own operations, whose
    rules are known to take Values.
    """

    __slots__ = ("name", "forward", "vjp", "scalar", "vjps", "builtin")

    def __init__(self, forward: Callable[..., Any], vjp: Callable[..., Any] | None = None, *,
                 name: str | None = None, scalar: Callable[..., Any] | None = None,
                 vjps: tuple[Callable[..., Any], ...] | None = None,
                 builtin: bool = False) -> None:
        if vjp is None and vjps is not None:
            rules = tuple(vjps)

            def vjp(grad: Any, out: Any, *xs: Any, **params: Any) -> tuple[Any, ...]:
                return tuple(rule(grad, out, *xs, **params) for rule in rules)

        if not callable(forward) or not callable(vjp):
            raise TypeError(f"primitive(forward, vjp) needs two callables, got "
                            f"{describe(forward)} and {describe(vjp)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"primitive(): name must be a str, got {describe(name)}")
        self.name: str = name or getattr(forward, "__name__", None) or "op"
        self.forward = forward
        self.scalar = scalar
        self.builtin = builtin
        if builtin:  # the table's own rules are tested; a user's are checked at every call
            self.vjp, self.vjps = vjp, vjps
        else:
            self.vjp = _checked(self.name, vjp, None)
            self.vjps = None if vjps is None else tuple(_checked(self.name, r, i)
                                                        for i, r in enumerate(vjps))

    def __repr__(self) -> str:
        return f"primitive({self.name!r})"

    def __call__(self, *operands: Any, **params: Any) -> Value:
        if len(operands) == 1:  # one operand (relu, sum, reshape, ...): no tuples to build
            a = operands[0]
            if type(a) is not Value:
                a = _lift(a)
            x = a._data
            try:
                if type(x) is float and self.scalar is not None:
                    out = self.scalar(x, **params)
                else:
                    out = self.forward(x, **params)
            except ValueError as exc:
                raise _shape_error(self, [x], exc) from None
            return _node(self, out, a, None, _Rest(None, params, "") if params else None)
        values = tuple(map(_lift, operands))
        xs = tuple(map(_data, values))
        n = len(values)
        try:
            if self.scalar is not None and (type(xs[0]) is float if n == 1 else
                                            all([type(x) is float for x in xs])):
                out = self.scalar(*xs, **params)
            else:
                out = self.forward(*xs, **params)
        except ValueError as exc:
            raise _shape_error(self, list(xs), exc) from None
        return _node(self, out, values[0] if n else None, values[1] if n > 1 else None,
                     _Rest(values[2:], params or None, "") if n > 2 or params else None)


def _operator(op: Primitive) -> tuple[Callable[[Any, Any], Value], Callable[[Any, Any], Value]]:
    """Value's operator methods for a two-operand primitive (``__add__`` and ``__radd__``).

    The first is the labelled fast path of `Primitive.__call__` for two operands and no
    parameters: the operators run it directly, so ``a * b`` costs one call before `_node`.
    """
    def method(a: Any, b: Any) -> Value:
        if type(a) is not Value:
            a = _lift(a)
        if type(b) is not Value:
            b = _lift(b)
        x, y = a._data, b._data
        try:
            if type(x) is float and type(y) is float and op.scalar is not None:
                out = op.scalar(x, y)
            else:
                out = op.forward(x, y)
        except ValueError as exc:
            raise _shape_error(op, [x, y], exc) from None
        return _node(op, out, a, b, None)

    def reflected(b: Any, a: Any) -> Value:
        return method(a, b)

    method.__name__ = f"__{op.name}__"
    reflected.__name__ = f"__r{op.name}__"
    method.__qualname__ = f"Value.{method.__name__}"
    reflected.__qualname__ = f"Value.{reflected.__name__}"
    return method, reflected



def _checked(name: str, rule: Callable[..., Any], index: int | None) -> Callable[..., Any]:
    """A user's vjp, with what it returns checked: one gradient per input (``index`` None), or
    the gradient of input ``index`` (a per-input rule); Values or None when called with
    Values (a gradient's graph is being built). A rule that cannot take Values is a TypeError
    naming the operation. A number returned for an array input becomes a 0-d array, which the
    pass broadcasts: the pass takes a float to be the gradient of a float."""
    def vjp(grad: Any, out: Any, *xs: Any, **params: Any) -> Any:
        values = type(grad) is Value
        try:
            sent = rule(grad, out, *xs, **params)
        except (TypeError, AttributeError, ValueError) as exc:
            # with Values, np.asarray(x, dtype=float) or float(x) in a rule fails with
            # NumPy's "setting an array element with a sequence" (a ValueError) or a TypeError
            if values:
                raise TypeError(f"{name}: its vjp cannot take Values, so it cannot be "
                                f"differentiated again (create_graph=True); a vjp written with "
                                f"operators and Value methods (not np.asarray or float()) "
                                f"can: {exc}") from exc
            raise
        if index is None and (
                (type(sent) is not tuple and type(sent) is not list) or len(sent) != len(xs)):
            raise ValueError(f"{name}: its vjp must return a tuple with one gradient per input"
                             f" ({len(xs)}), got {describe(sent)}")
        gs = list(sent) if index is None else [sent]
        inputs = xs if index is None else (xs[index],)
        for i, (g, x) in enumerate(zip(gs, inputs)):
            if values:
                if g is not None and not isinstance(g, Value):
                    raise TypeError(f"{name}: its vjp returned {describe(g)}, not a Value, when"
                                    f" called with Values, so it cannot be differentiated "
                                    f"again (create_graph=True)")
            elif type(g) is float and type(x) is not float:
                gs[i] = np.asarray(g)
        return tuple(gs) if index is None else gs[0]

    vjp.__name__ = getattr(rule, "__name__", "vjp")
    return vjp


def _shape_error(prim: Primitive, xs: list[Any], exc: Exception) -> ValueError:
    shapes = " and ".join(str(np.shape(x)) for x in xs)
    return ValueError(f"{prim.name}: cannot apply to shapes {shapes}: {exc}")


def primitive(forward: Callable[..., Any], vjp: Callable[..., Any], *,
              name: str | None = None) -> Primitive:
    """Turn a NumPy function and its vector-Jacobian product into an operation on Values.

    The contract: ``forward(*xs, **params)`` gets the operands' numbers (floats and ndarrays)
    and returns the result's. ``vjp(grad, out, *xs, **params)`` gets the gradient of the
    loss with respect to the result, the result and the operands, and returns a tuple with one
    gradient per operand (``None`` for one that gets none); a gradient may have the broadcast
    shape, the pass sums it back. In a first-order pass the rule gets numbers; under
    ``create_graph=True`` (`autograd.grad`, the transforms, `jit`) it gets Values, so a rule
    written with operators, Value methods and NumPy ufuncs (``np.exp(x)`` works on a Value) is
    differentiable again, to any order. What the rule returns is checked at every call: a
    wrong count, a non-Value under ``create_graph`` or a wrong shape is an error naming the
    operation. ``name`` (default: the forward's ``__name__``) labels drawings and errors.

    >>> import numpy as np
    >>> from tinygrad_xor import Value, primitive
    >>> softplus = primitive(lambda x: np.logaddexp(0.0, x),
    ...                      lambda grad, out, x: (grad / (1.0 + np.exp(-x)),),
    ...                      name="softplus")
    >>> x = Value(0.0)
    >>> y = softplus(x)
    >>> y.backward()
    >>> round(y.data, 6), x.grad
    (0.693147, 0.5)
    """
    return Primitive(forward, vjp, name=name)
