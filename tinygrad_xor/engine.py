"""The engine: `Value`, the graph it records, and reverse-mode `backward`.

Every operation is a `Primitive` (see `ops.py`): a forward function and its vector-Jacobian
product. The engine knows nothing about any particular operation; it only

* wraps operands into Values and runs the forward (`Primitive.__call__`),
* walks the graph backwards without recursion (`Value.backward`), and
* reduces each gradient to its operand's shape in exactly one place (`_reduce_to`).

A scalar Value keeps a plain Python ``float`` in ``.data``; a tensor keeps an ``np.ndarray``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["Value", "Primitive", "primitive", "no_grad", "is_grad_enabled"]

_grad_enabled = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations record no graph: their results are leaves."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


def _describe(obj: object) -> str:
    """A short description of a bad input for error messages."""
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def _as_data(data: Any) -> float | np.ndarray:
    """Validate user data: a float for scalars, a float ndarray for tensors."""
    kind = type(data)
    if kind is float:
        return data
    if kind is int or kind is bool:
        return float(data)
    if isinstance(data, (np.floating, np.integer, np.bool_)):
        return float(data)
    if isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except ValueError as exc:  # ragged nesting
            raise TypeError(f"Value() needs numbers, got a ragged {kind.__name__}: {exc}") from None
    elif isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, Value):
        raise TypeError("Value() got a Value; use .detach() for a new leaf with the same data")
    else:
        raise TypeError(f"Value() needs a number, list or ndarray, got {_describe(data)}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Value() needs numeric data, got an array of dtype {array.dtype}"
                        f" from {_describe(data)}")
    if array.ndim == 0:
        return float(array)
    if array.dtype == np.float32:
        return array.copy() if array is data else array
    return np.array(array, dtype=np.float64)


class Value:
    """A scalar or tensor in a computation graph, with its gradient.

    ``Value(data, *, label="", requires_grad=True)``: a Python number, NumPy scalar or 0-d
    array makes a scalar (``.data`` is a float); a list, tuple or ndarray makes a tensor
    (``.data`` is a float64 ndarray; float32 stays float32). Anything else is a TypeError.

    Operators: ``+ - * / ** @`` and their reflected forms, with Values, numbers or arrays,
    broadcasting as NumPy does; ``-v``; ``v[index]`` (basic and integer-array indexing).
    """

    # The operands are kept in three slots rather than one tuple: a tuple per node is one more
    # object for the cyclic garbage collector to walk while a graph is built (W1: ~40% of GC).
    __slots__ = ("data", "_grad", "_g", "_n", "label", "requires_grad", "_prim", "_a", "_b",
                 "_rest", "_params", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Value` and `arr @ Value` call our reflected methods

    data: Any
    _grad: Any
    _g: Any
    _n: int
    label: str
    requires_grad: bool
    _prim: Primitive | None
    _a: Value | None
    _b: Value | None
    _rest: tuple[Value, ...] | None
    _params: dict[str, Any] | None

    def __init__(self, data: Any, *, label: str = "", requires_grad: bool = True) -> None:
        self.data = _as_data(data)
        self._grad = None
        self._g = None
        self._n = 0
        self.label = label
        self.requires_grad = bool(requires_grad)
        self._prim = None
        self._a = self._b = self._rest = None
        self._params = None

    # -- attributes -------------------------------------------------------------------------
    @property
    def grad(self) -> Any:
        """dL/dself, summed over backward passes; 0.0 or zeros until one reaches it."""
        grad = self._grad
        if grad is None:
            data = self.data
            self._grad = grad = 0.0 if type(data) is float else np.zeros_like(data)
        elif self._prim is not None and type(grad) is np.ndarray and grad.flags.writeable:
            # an intermediate's grad may be the very array its operands got: hand out a view
            # that cannot be written, so changing it in place cannot change another grad
            grad = grad.view()
            grad.flags.writeable = False
        return grad

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = value

    @property
    def _parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (() for a leaf)."""
        a, b, rest = self._a, self._b, self._rest
        if a is None:
            return ()
        if b is None:
            return (a,)
        return (a, b) if rest is None else (a, b, *rest)

    @property
    def op(self) -> str:
        """Name of the operation that made this Value; "" for a leaf."""
        return "" if self._prim is None else self._prim.name

    @property
    def shape(self) -> tuple[int, ...]:
        """() for a scalar, else the array's shape."""
        return () if type(self.data) is float else self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions (0 for a scalar)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements (1 for a scalar)."""
        return 1 if type(self.data) is float else int(self.data.size)

    @property
    def dtype(self) -> np.dtype:
        """float64 for scalars, else the array's dtype."""
        return np.dtype(np.float64) if type(self.data) is float else self.data.dtype

    def item(self) -> float:
        """The value of a one-element Value as a Python float."""
        if type(self.data) is float:
            return self.data
        if self.data.size != 1:
            raise ValueError(f"item() needs one element, this Value has shape {self.data.shape}")
        return float(self.data.reshape(()))

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self._prim is not None else ""
        if type(self.data) is float:
            return f"Value({self.data!r}{label}{op})"
        data = np.array2string(self.data, precision=4, threshold=20, separator=", ")
        return f"Value({data}, shape={self.data.shape}{label}{op})"

    def __len__(self) -> int:
        if type(self.data) is float:
            raise TypeError("len() of a scalar Value")
        return len(self.data)

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a Value is ambiguous; compare .data or .item()")

    # No _repr_svg_: a notebook shows a Value as its text repr; `v.draw()` returns a Digraph,
    # which Jupyter displays inline, so the picture (and its layout time) is asked for.
    def draw(self, **kwargs: Any) -> Any:
        """The computation graph ending here, as a graphviz.Digraph (see viz.draw_graph)."""
        from .viz import draw_graph

        return draw_graph(self, **kwargs)

    # -- gradients --------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Reset this Value's gradient to zero."""
        self._grad = None

    def detach(self) -> Value:
        """A new leaf with the same data and no history."""
        out = Value.__new__(Value)
        _init(out, self.data, None, (), None, False)
        out.requires_grad = self.requires_grad
        return out

    def backward(self, grad: Any = None) -> None:
        """Reverse-mode pass from this Value; adds dself/dx into x.grad for every x in the graph.

        A scalar needs no ``grad`` (it is 1.0); a tensor needs one of its own shape. The walk is
        iterative, so graphs millions of nodes deep work.
        """
        if not self.requires_grad:
            raise ValueError("backward() on a Value that does not require grad"
                             " (made under no_grad(), from constants, or requires_grad=False)")
        data = self.data
        if type(data) is float:
            if grad is None:
                grad = 1.0
            elif isinstance(grad, Value) or np.ndim(grad) != 0:
                raise ValueError(f"backward(): grad for a scalar must be a number, got "
                                 f"{_describe(grad)}")
            grad = float(grad)
        else:
            if grad is None:
                raise ValueError(f"backward() on a tensor of shape {data.shape} needs grad= of "
                                 f"that shape (dL/dself); only a scalar's is implied")
            if isinstance(grad, Value):
                grad = grad.data
            grad = np.asarray(grad, dtype=data.dtype)
            if grad.shape != data.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape}, the Value has shape "
                                 f"{data.shape}")

        if self._prim is None:  # a leaf: its own gradient is all there is
            _store(self, grad)
            return
        # Pass 1: count in `_n`, for every computed node (not the leaves: they are finished as
        # soon as a gradient reaches them), how many times it is used as an operand inside this
        # graph (`_n` is 0 outside backward). A node is ready once all its users have sent their
        # share.
        stack = [self]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            a: Value = node._a  # type: ignore[assignment]  # only computed nodes are pushed
            b, rest = node._b, node._rest
            for parent in (a,) if b is None else (a, b) if rest is None else (a, b, *rest):
                if parent._prim is not None and parent.requires_grad:
                    n = parent._n
                    parent._n = n + 1
                    if n == 0:
                        push(parent)
        self._g = grad
        push(self)
        try:
            _send_grads(stack)
        except BaseException:
            _reset(self)
            raise

    # -- operations: the table is in ops.py ------------------------------------------------
    def __add__(self, other: Any) -> Value:
        return _ops.add.call2(self, other)

    def __radd__(self, other: Any) -> Value:
        return _ops.add.call2(other, self)

    def __sub__(self, other: Any) -> Value:
        return _ops.sub.call2(self, other)

    def __rsub__(self, other: Any) -> Value:
        return _ops.sub.call2(other, self)

    def __mul__(self, other: Any) -> Value:
        return _ops.mul.call2(self, other)

    def __rmul__(self, other: Any) -> Value:
        return _ops.mul.call2(other, self)

    def __truediv__(self, other: Any) -> Value:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _ops.div(other, self)

    def __neg__(self) -> Value:
        return _ops.neg(self)

    def __pow__(self, other: Any) -> Value:
        if type(other) is int or type(other) is float:
            return _ops.pow(self, p=float(other))
        return _ops.power(self, other)

    def __rpow__(self, other: Any) -> Value:
        return _ops.power(other, self)

    def __matmul__(self, other: Any) -> Value:
        return _ops.matmul.call2(self, other)

    def __rmatmul__(self, other: Any) -> Value:
        return _ops.matmul.call2(other, self)

    def __getitem__(self, index: Any) -> Value:
        return _ops.getitem(self, index=index)

    def relu(self) -> Value:
        """max(x, 0) elementwise; its gradient at exactly 0 is taken as 0."""
        return _ops.relu.call1(self)

    def sigmoid(self) -> Value:
        """1 / (1 + exp(-x)) elementwise, computed without overflow."""
        return _ops.sigmoid.call1(self)

    def tanh(self) -> Value:
        """Hyperbolic tangent elementwise."""
        return _ops.tanh.call1(self)

    def exp(self) -> Value:
        """e ** x elementwise."""
        return _ops.exp.call1(self)

    def log(self) -> Value:
        """Natural logarithm elementwise."""
        return _ops.log.call1(self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Sum over ``axis`` (all axes by default)."""
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Mean over ``axis`` (all axes by default)."""
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Value:
        """The same elements in a new shape: ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape=shape)

    def transpose(self, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), like ``np.transpose``."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes=axes or None)

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return _ops.transpose(self, axes=None)


_new = object.__new__


def _init(v: Value, data: Any, prim: Primitive | None, parents: tuple[Value, ...],
          params: dict[str, Any] | None, requires_grad: bool) -> None:
    v.data = data
    v._grad = None
    v._g = None
    v._n = 0
    v.label = ""
    v.requires_grad = requires_grad
    v._prim = prim
    n = len(parents)
    v._a = parents[0] if n else None
    v._b = parents[1] if n > 1 else None
    v._rest = parents[2:] if n > 2 else None
    v._params = params


def _send_grads(ready: list[Value]) -> None:
    """Pass 2 of backward: in reverse topological order, store each node's gradient of this pass
    and send its vector-Jacobian product to its parents (`_g` holds this pass's partial sums;
    a leaf adds what it is sent into its grad at once).
    """
    pop, push = ready.pop, ready.append
    while ready:
        node = pop()
        g = node._g
        node._g = None
        if g is not None:
            if node._grad is None:
                node._grad = g  # an intermediate keeps the very array it was sent (see _store)
            else:
                _store(node, g)
        a: Value = node._a  # type: ignore[assignment]  # only computed nodes are pushed
        b, rest = node._b, node._rest
        parents = (a,) if b is None else (a, b) if rest is None else (a, b, *rest)
        prim: Primitive = node._prim  # type: ignore[assignment]
        if g is None:  # no gradient reached this node (e.g. a max that was not the maximum)
            grads: Any = (None,) * len(parents)
        elif rest is None and (b is None or prim.vjps is None or (
                a.requires_grad and b.requires_grad)):
            params = node._params
            if b is not None:
                grads = prim.vjp(g, node.data, a.data, b.data) if params is None else prim.vjp(
                    g, node.data, a.data, b.data, **params)
            else:
                grads = prim.vjp(g, node.data, a.data) if params is None else prim.vjp(
                    g, node.data, a.data, **params)
        else:  # three or more operands, or per-operand rules and an operand that needs none
            grads = _vjp(node, g, parents)
        for parent, pg in zip(parents, grads):
            if not parent.requires_grad:
                continue
            if pg is not None:
                data = parent.data
                if type(pg) is not type(data) or (type(data) is np.ndarray and (
                        pg.shape != data.shape or pg.dtype is not data.dtype)):
                    pg = _reduce_to(pg, data, prim)  # broadcast, dtype or kind differs
                if parent._prim is None:  # a leaf: its gradient is complete
                    old = parent._grad
                    if old is None:
                        parent._grad = pg.copy() if type(pg) is np.ndarray else pg  # see _store
                    elif type(old) is float and type(pg) is float:
                        parent._grad = old + pg
                    else:
                        _store(parent, pg)
                    continue
                old = parent._g
                parent._g = pg if old is None else old + pg
            elif parent._prim is None:
                continue
            parent._n = n = parent._n - 1
            if n == 0:
                push(parent)


def _reset(root: Value) -> None:
    """After a failed backward: clear the counts and partial sums it left in the graph."""
    root._g = None
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop()._parents:
            parent._n = 0
            parent._g = None
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)


def _vjp(node: Value, g: Any, parents: tuple[Value, ...]) -> Any:
    """The gradients node's primitive sends to its parents (None for a parent that needs none)."""
    prim: Primitive = node._prim  # type: ignore[assignment]
    params = node._params or {}
    xs = [p.data for p in parents]
    if prim.vjps is not None and not all([p.requires_grad for p in parents]):
        # per-input rules: skip the work for operands that need no gradient (constants)
        return [vjp(g, node.data, *xs, **params) if p.requires_grad else None
                for vjp, p in zip(prim.vjps, parents)]
    return prim.vjp(g, node.data, *xs, **params)


def _store(node: Value, g: Any) -> None:
    """Add one pass's gradient into node.grad.

    A leaf (a parameter) gets an array of its own, so changing it in place cannot change
    another Value's grad; an intermediate keeps the array it was sent (vector-Jacobian products
    may pass one array on to several inputs, so the engine never writes into it, and the
    ``grad`` property hands it out read-only).
    """
    old = node._grad
    if type(g) is float:
        node._grad = g if old is None else old + g
        return
    if old is None:
        node._grad = g if node._prim is not None else np.array(g, copy=True)
    elif node._prim is None and type(old) is np.ndarray and old.flags.writeable:
        old += g
    else:
        node._grad = old + g


def _reduce_to(g: Any, data: Any, prim: Primitive | None) -> Any:
    """Sum a gradient back to the shape of the operand it belongs to (undo broadcasting)."""
    if type(data) is float:
        return g if type(g) is float else float(np.sum(g))
    shape = data.shape
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if g.shape != shape:
        if g.ndim < len(shape) or g.size < data.size:
            g = np.broadcast_to(g, shape)
        else:
            extra = g.ndim - len(shape)
            if extra:  # ufunc.reduce: np.sum's Python-level dispatch costs more than the sum here
                g = np.add.reduce(g, axis=0 if extra == 1 else tuple(range(extra)))
            if g.shape != shape:  # then sum the axes where the operand has length 1
                axes = tuple([i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1])
                if len(axes) == 1:
                    g = _ops.sum_axis(g, axes[0])  # a kernel for stacked biases
                elif axes:
                    g = g.sum(axis=axes, keepdims=True)
                if g.shape != shape:
                    name = prim.name if prim is not None else "?"
                    raise ValueError(f"{name}: its vjp returned a gradient of shape {g.shape} for"
                                     f" an input of shape {shape}")
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    return g


# Number operands become constant Values, shared between the graphs that use the same number
# (as `x * 0.999 + 0.001` does a million times in a chain): a constant is a leaf that requires
# no grad, so backward never writes into it, and one object serves them all.
_CONSTANTS: dict[float, Value] = {}


def _lift(x: Any) -> Value:
    """An operand as a Value: Values pass through, numbers and arrays become constants."""
    if type(x) is Value:
        return x
    if type(x) is float or type(x) is int:
        v = _CONSTANTS.get(x)
        if v is None:
            v = _new(Value)
            _init(v, float(x), None, (), None, False)
            if x and len(_CONSTANTS) < 4096:  # not 0: 0.0 and -0.0 are equal keys
                _CONSTANTS[x] = v
        return v
    if isinstance(x, Value):
        return x
    if type(x) is np.ndarray and x.dtype.char == "d" and x.ndim:
        data = x.copy()  # the common constant, a float64 array: skip _as_data's checks
    else:
        try:
            data = _as_data(x)
        except TypeError:
            raise TypeError(f"unsupported operand: {_describe(x)}") from None
    v = Value.__new__(Value)
    _init(v, data, None, (), None, False)
    return v


class Primitive:
    """An operation on Values: a NumPy forward and its vector-Jacobian product.

    ``forward(*xs, **params)`` takes floats/ndarrays and returns one. ``vjp(grad, out, *xs,
    **params)`` returns one gradient per input (``None`` for none); gradients may have the
    broadcast shape, the engine sums them back. ``scalar`` is an optional faster forward used
    when every input is a Python float (e.g. ``math.exp`` instead of ``np.exp``). ``vjps``
    optionally gives one rule per input, ``vjp_i(grad, out, *xs, **params)``, so that backward
    skips the work for inputs that need no gradient (``matmul`` with a constant operand);
    ``vjp`` may then be omitted.
    """

    __slots__ = ("name", "forward", "vjp", "scalar", "vjps")

    def __init__(self, forward: Callable[..., Any], vjp: Callable[..., Any] | None = None, *,
                 name: str | None = None, scalar: Callable[..., Any] | None = None,
                 vjps: tuple[Callable[..., Any], ...] | None = None) -> None:
        if vjp is None and vjps is not None:
            rules = tuple(vjps)

            def vjp(grad: Any, out: Any, *xs: Any, **params: Any) -> tuple[Any, ...]:
                return tuple(rule(grad, out, *xs, **params) for rule in rules)

        if not callable(forward) or not callable(vjp):
            raise TypeError("primitive(forward, vjp) needs two callables")
        self.name: str = name or getattr(forward, "__name__", None) or "op"
        self.forward = forward
        self.vjp = vjp
        self.scalar = scalar
        self.vjps = vjps

    def __repr__(self) -> str:
        return f"primitive({self.name!r})"

    def __call__(self, *operands: Any, **params: Any) -> Value:
        if len(operands) == 1:  # the unary fast path: relu, sigmoid, sum, reshape, ...
            a = operands[0]
            if type(a) is not Value:
                a = _lift(a)
            x = a.data
            try:
                if type(x) is float and self.scalar is not None:
                    out = self.scalar(x, **params)
                else:
                    out = self.forward(x, **params)
            except ValueError as exc:
                raise _shape_error(self, [x], exc) from None
            return _node(self, out, a, None, None, params or None, a.requires_grad)
        if len(operands) == 2 and not params:
            return self.call2(*operands)
        values = tuple([x if type(x) is Value else _lift(x) for x in operands])
        xs = [v.data for v in values]
        try:
            if self.scalar is not None and all(type(x) is float for x in xs):
                out = self.scalar(*xs, **params)
            else:
                out = self.forward(*xs, **params)
        except ValueError as exc:
            raise _shape_error(self, xs, exc) from None
        needs_grad = any(v.requires_grad for v in values)
        if not values:
            return _node(self, out, None, None, None, None, False)
        return _node(self, out, values[0], values[1] if len(values) > 1 else None,
                     values[2:] or None, params or None, needs_grad)

    def call1(self, a: Any) -> Value:
        """`self(a)` for one operand and no params (relu, sigmoid, ...)."""
        if type(a) is not Value:
            a = _lift(a)
        x = a.data
        try:
            if type(x) is float and self.scalar is not None:
                out = self.scalar(x)
            else:
                out = self.forward(x)
        except ValueError as exc:
            raise _shape_error(self, [x], exc) from None
        return _node(self, out, a, None, None, None, a.requires_grad)

    def call2(self, a: Any, b: Any) -> Value:
        """`self(a, b)` for two operands, with fast paths for the hot cases."""
        if type(a) is not Value:
            a = _lift(a)
        if type(b) is not Value:
            b = _lift(b)
        x, y = a.data, b.data
        if type(x) is float and type(y) is float and self.scalar is not None:
            # what _node does, written out: this line runs once per node of a scalar graph
            out = _new(Value)
            out.data = self.scalar(x, y)
            out._grad = out._g = out._params = None
            out._n = 0
            out.label = ""
            if _grad_enabled and (a.requires_grad or b.requires_grad):
                out.requires_grad = True
                out._prim = self
                out._a, out._b, out._rest = a, b, None
            else:
                out.requires_grad = False
                out._prim = None
                out._a = out._b = out._rest = None
            return out
        try:
            result = self.forward(x, y)
        except ValueError as exc:
            raise _shape_error(self, [x, y], exc) from None
        return _node(self, result, a, b, None, None, a.requires_grad or b.requires_grad)


def _shape_error(prim: Primitive, xs: list[Any], exc: Exception) -> ValueError:
    shapes = " and ".join(str(np.shape(x)) for x in xs)
    return ValueError(f"{prim.name}: cannot apply to shapes {shapes}: {exc}")


def _node(prim: Primitive, out: Any, a: Value | None, b: Value | None,
          rest: tuple[Value, ...] | None, params: dict[str, Any] | None,
          needs_grad: bool) -> Value:
    """A forward's result as a Value: a float for shape (), a float ndarray otherwise."""
    if (type(out) is not np.ndarray or out.ndim == 0 or out.dtype.kind != "f") and (
            type(out) is not float):
        out = np.asarray(out)
        out = float(out) if out.ndim == 0 else out.astype(np.float64)  # ints, bools, 0-d
    v = _new(Value)
    v.data = out
    v._grad = v._g = None
    v._n = 0
    v.label = ""
    if needs_grad and _grad_enabled:
        v.requires_grad = True
        v._prim = prim
        v._a = a
        v._b = b
        v._rest = rest
        v._params = params
    else:
        v.requires_grad = False
        v._prim = v._a = v._b = v._rest = v._params = None
    return v


def primitive(forward: Callable[..., Any], vjp: Callable[..., Any], *,
              name: str | None = None) -> Primitive:
    """Turn a NumPy function and its vector-Jacobian product into an operation on Values."""
    return Primitive(forward, vjp, name=name)



from . import ops as _ops  # noqa: E402  (the op table needs Value defined first)
