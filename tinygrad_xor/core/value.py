"""The Value: data, its gradient, and the operation and operands that made it.

A scalar Value keeps a plain Python ``float`` in ``.data``; a tensor keeps an ``np.ndarray``.
A computed Value records its `Primitive` and its operands; `_node` is the one constructor of
every Value but the user's own leaves, and `walk` visits a graph in topological order. Numbers
used as operands become constants (`_lift`). A compiled function's trace switches the
``.data`` getter to a checking one (`_trace_begin`, `_trace_end`).

The Value holds no operation: its operators and methods are attached by ``operators.py``, its
``backward`` by ``backward.py``, its ``draw`` by the package's ``viz``.

Imports: ``checks`` and ``mode`` (and `Primitive` for type checkers only).
"""

from __future__ import annotations

import threading
from operator import attrgetter
from threading import get_ident
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import as_data, describe, like
from .mode import _off, _traced, _tracing

if TYPE_CHECKING:
    from .primitive import Primitive

__all__ = ["Value", "walk"]

_ndarray = np.ndarray
_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)  # (each the one dtype object of its kind)


def _as_data(data: Any, what: str) -> float | np.ndarray:
    """`checks.as_data`, with a Value refused first: its numbers are taken on purpose only."""
    if isinstance(data, Value):
        hint = ("assign its .data" if what == "Value.data" else
                "use .detach() for a new leaf with the same data")
        raise TypeError(f"{what} got a Value; {hint}")
    return as_data(data, what)


class Value:
    """A scalar or tensor in a computation graph, with its gradient.

    ``Value(data, *, label="", requires_grad=True)``: a Python number, NumPy scalar or 0-d
    array makes a scalar (``.data`` is a float); a list, tuple or ndarray makes a tensor
    (``.data`` is a float64 ndarray; float32 stays float32). Anything else is a TypeError (a
    masked array too: fill it first), an int beyond any float64 an OverflowError. What is
    assigned to ``.data`` is checked the same way.

    Operators: ``+ - * / ** @`` and their reflected forms, with Values, numbers or arrays,
    broadcasting as NumPy does; ``-v``; ``v[index]`` (basic and integer-array indexing; a
    scalar takes new axes, ``v[None]``). ``a ** b`` with a Value exponent takes a negative
    base too, as PyTorch. Every operation returns a new Value. Reductions of a scalar take
    ``axis`` 0 or -1 (PyTorch's 0-d tensors).
    """

    # _data: the numbers (the `data` property checks what the user assigns; the engine reads
    # and writes the slot itself); _op: the Primitive that made this Value (None for a leaf);
    # _in0, _in1: its first two operands (None when it has fewer); _rest: None, or a `_Rest`
    # with what few Values have (more operands, the op's keyword parameters, a label); _grad:
    # the gradient that backward stored (None until one reaches it); _pass, _count, _sum: a
    # backward pass's bookkeeping (see backward.py): the pass they belong to, the node's uses
    # still to send a gradient in that pass, and its partial sum (set when a pass first reaches
    # the node: until then `_pass` is None). Slots are few because the cyclic garbage collector
    # walks each one of every new Value while a graph is built (docs/performance.md measures
    # it), and the operands are not one tuple: that would be one more object for it to walk.
    __slots__ = ("_data", "_grad", "_requires_grad", "_op", "_in0", "_in1", "_rest", "_pass",
                 "_count", "_sum", "__weakref__")

    _data: Any
    _grad: Any
    _requires_grad: bool
    _op: Primitive | None
    _in0: Value | None
    _in1: Value | None
    _rest: _Rest | None
    _pass: object | None
    _count: int
    _sum: Any

    def __init__(self, data: Any, *, label: str = "", requires_grad: bool = True) -> None:
        if type(requires_grad) is not bool and not isinstance(requires_grad, np.bool_):
            raise TypeError(f"Value(): requires_grad must be True or False, got "
                            f"{describe(requires_grad)}")
        if not isinstance(label, str):
            raise TypeError(f"Value(): label must be a str, got {describe(label)}")
        self._data = _as_data(data, "Value()")
        self._grad = None
        self._requires_grad = bool(requires_grad)
        self._op = self._in0 = self._in1 = self._pass = None
        self._rest = _Rest(None, None, label) if label else None

    # -- attributes -------------------------------------------------------------------------
    def _set_data(self, value: Any) -> None:
        # Checked and converted as Value() does it; a float64 or float32 array is kept, not
        # copied (optimizers assign a new array every step).
        if type(value) is _ndarray:
            dtype = value.dtype
            if not ((dtype is _F64 or dtype is _F32) and value.ndim):
                value = _as_data(value, "Value.data")
        elif type(value) is not float:
            value = _as_data(value, "Value.data")
        self._data = value

    def _get_traced_data(self) -> Any:
        # (the getter while a trace runs, see _trace_begin; else attrgetter's, in C: a training
        # loop reads .data of every parameter every step)
        if _tracing:
            _traced(self, ".data")
        return self._data

    data = property(attrgetter("_data"), _set_data, doc=(
        "The numbers: a float for a scalar, an ndarray for a tensor. Assigning checks and "
        "converts as ``Value()`` does (a float64 or float32 array is kept, not copied)."))

    @property
    def grad(self) -> Any:
        """dL/dself, summed over backward passes; 0.0 or zeros until one reaches it."""
        if _tracing:
            _traced(self, ".grad")
        grad = self._grad
        if grad is None:
            data = self._data
            self._grad = grad = 0.0 if type(data) is float else np.zeros_like(data)
        elif self._op is not None and type(grad) is np.ndarray and grad.flags.writeable:
            # an intermediate's grad may be the very array its operands got: hand out a view
            # that cannot be written, so changing it in place cannot change another grad
            grad = grad.view()
            grad.flags.writeable = False
        return grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, Value):
            raise TypeError("a Value's grad holds data (a float or an ndarray), not a Value; "
                            "assign v.data")
        value = like(value, self._data, "grad")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """True when backward passes compute this Value's gradient: a leaf made with
        ``requires_grad=True``, or a result computed from one while grad mode was on."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if type(value) is not bool and not isinstance(value, np.bool_):
            raise TypeError(f"requires_grad must be True or False, got {describe(value)}")
        if self._op is not None and not value:
            raise ValueError(f"requires_grad can only be changed on a leaf; this Value was made by"
                             f" {self._op.name!r} (use .detach() for a leaf without grad)")
        self._requires_grad = bool(value)

    @property
    def label(self) -> str:
        """A name for this Value, shown in drawings and its repr ("" for none)."""
        rest = self._rest
        return "" if rest is None else rest.label

    @label.setter
    def label(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"label must be a str, got {describe(value)}")
        if self._rest is not None:
            self._rest.label = value
        elif value:
            self._rest = _Rest(None, None, value)

    @property
    def _parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (() for a leaf)."""
        a, b = self._in0, self._in1
        if a is None:
            return ()
        if b is None:
            return (a,)
        more = None if self._rest is None else self._rest.more
        return (a, b) if more is None else (a, b, *more)

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in order (``()`` for a leaf): read-only,
        as the graph is. `walk` visits a whole graph."""
        return self._parents

    @property
    def params(self) -> dict[str, Any]:
        """The keyword parameters of the operation that made this Value (``axis`` of a sum,
        ``p`` of a pow; ``{}`` for none): a copy."""
        params = self._params
        return {} if params is None else dict(params)

    @property
    def _params(self) -> dict[str, Any] | None:
        """The keyword parameters of the operation that made this Value (None for none)."""
        return None if self._rest is None else self._rest.params

    @property
    def op(self) -> str:
        """Name of the operation that made this Value; "" for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def shape(self) -> tuple[int, ...]:
        """() for a scalar, else the array's shape."""
        data = self._data
        return () if type(data) is float else data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions (0 for a scalar)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements (1 for a scalar)."""
        data = self._data
        return 1 if type(data) is float else int(data.size)

    @property
    def dtype(self) -> np.dtype:
        """float64 for scalars, else the array's dtype."""
        data = self._data
        return np.dtype(np.float64) if type(data) is float else data.dtype

    def item(self) -> float:
        """The value of a one-element Value as a Python float."""
        if _tracing:
            _traced(self, "item()")
        data = self._data
        if type(data) is float:
            return data
        if data.size != 1:
            raise ValueError(f"item() needs one element, this Value has shape {data.shape}")
        return float(data.reshape(()))

    def __float__(self) -> float:
        """``float(v)`` of a one-element Value: its number (as ``item()``)."""
        if _tracing:
            _traced(self, "float()")
        return self.item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(v)``: the data of a Value that requires no grad. One that requires
        grad is a TypeError (as PyTorch's ``numpy()``): an array would silently leave the
        graph; take ``v.data`` (or ``v.detach()``) to say so."""
        if _tracing:
            _traced(self, "np.asarray()")
        if self._requires_grad:
            raise TypeError("np.asarray() of a Value that requires grad would leave its graph"
                            " without a word; use v.data (or v.detach()) for its numbers")
        data = self._data
        out = np.array(data, dtype=dtype) if copy or type(data) is float else data
        return out if dtype is None or out.dtype == dtype else out.astype(dtype)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self._op is not None else ""
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

    __hash__ = object.__hash__  # Values are dict keys in a backward pass (no __eq__ is defined)

    # -- gradients --------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Reset this Value's gradient to zero."""
        self._grad = None

    def detach(self) -> Value:
        """A new leaf with the same data, no history and ``requires_grad=False``."""
        if _tracing:  # in a compiled function: a node that passes no gradient, not a copy
            trace = _tracing.get(get_ident())
            if trace is not None and trace.holds(self):
                return trace.stop(self)
        return _node(None, self._data, None, None, None)

    # -- attached from the layers above (declared here for type checkers) -----------------
    # The operators and methods of an operation (``+``, ``v.relu()``, ``v.sum()``, ...) come
    # with the op table (operators.py), ``backward`` with the pass (backward.py), ``draw`` with
    # the drawings (viz.py): the Value imports none of them.
    if TYPE_CHECKING:
        def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                     create_graph: bool = False) -> None: ...
        def draw(self, **kwargs: Any) -> Any: ...
        def __add__(self, other: Any) -> Value: ...
        def __radd__(self, other: Any) -> Value: ...
        def __sub__(self, other: Any) -> Value: ...
        def __rsub__(self, other: Any) -> Value: ...
        def __mul__(self, other: Any) -> Value: ...
        def __rmul__(self, other: Any) -> Value: ...
        def __matmul__(self, other: Any) -> Value: ...
        def __rmatmul__(self, other: Any) -> Value: ...
        def __truediv__(self, other: Any) -> Value: ...
        def __rtruediv__(self, other: Any) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def __pow__(self, other: Any) -> Value: ...
        def __rpow__(self, other: Any) -> Value: ...
        def __getitem__(self, index: Any) -> Value: ...
        def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any: ...
        def relu(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def tanh(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def abs(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def clip(self, lo: Any = None, hi: Any = None) -> Value: ...
        def sum(self, axis: Any = None, keepdims: bool = False) -> Value: ...
        def mean(self, axis: Any = None, keepdims: bool = False) -> Value: ...
        def max(self, axis: Any = None, keepdims: bool = False) -> Value: ...
        def reshape(self, *shape: Any) -> Value: ...
        def transpose(self, *axes: Any) -> Value: ...
        @property
        def T(self) -> Value: ...


_new = object.__new__


def _node(op: Primitive | None, out: Any, a: Value | None, b: Value | None,
          rest: _Rest | None) -> Value:
    """The one constructor of every Value but the user's own leaves (`Value.__init__`).

    ``out`` becomes a float for shape () and a float ndarray otherwise. The Value records its
    operation and operands (``a``, ``b`` and ``rest.more``, in order, with ``rest.params``)
    when this thread's grad mode is on and an operand requires grad; otherwise (constants,
    ``detach()``, results under ``no_grad``) it is a leaf that requires no grad.
    """
    if type(out) is not float and (type(out) is not np.ndarray or out.ndim == 0
                                   or out.dtype.kind != "f"):
        out = np.asarray(out)
        if out.dtype.kind not in "fiub":
            name = op.name if op is not None else "Value"
            raise TypeError(f"{name}: its forward returned {describe(out)}, not numbers")
        out = float(out) if out.ndim == 0 else out.astype(np.float64)  # ints, bools, 0-d
    v = _new(Value)
    v._data = out
    v._grad = v._pass = None
    if (not _off or get_ident() not in _off) and a is not None and (  # _recording(), inline
            a._requires_grad or (b is not None and b._requires_grad) or (
                rest is not None and rest.more is not None
                and any([m._requires_grad for m in rest.more]))):
        v._requires_grad = True
        v._op = op
        v._in0 = a
        v._in1 = b
        v._rest = rest
        return v
    if _tracing and a is not None:  # in a compiled function's trace nothing may be frozen
        trace = _tracing.get(get_ident())
        if trace is not None and trace.holds(a, b, rest):
            return trace.constant(v, op, a, b, rest)
    v._requires_grad = False
    v._op = v._in0 = v._in1 = v._rest = None
    return v


def walk(*roots: Value) -> list[Value]:
    """Every Value of the graphs that end in ``roots``, each once, in topological order:
    operands before the Values computed from them, ``roots`` last. Iterative, so graphs millions
    of nodes deep work; the one graph walk of the package (drawing, checks, transforms and the
    compiler use it)."""
    for root in roots:
        if not isinstance(root, Value):
            raise TypeError(f"walk() needs Values, got {describe(root)}")
    order: list[Value] = []
    seen: set[Value] = set()  # (Values hash by identity) met: on the stack below, or placed
    placed: set[Value] = set()
    stack: list[Value] = []
    push, place = stack.append, order.append
    for root in roots:
        if root in seen:
            continue
        push(root)
        while stack:
            node = stack[-1]
            if node in seen:  # back at a node whose operands are all placed now
                stack.pop()
                if node not in placed:
                    placed.add(node)
                    place(node)
                continue
            seen.add(node)
            a = node._in0
            if a is not None:  # its operands, the first one on top
                b = node._in1
                if b is not None:
                    rest = node._rest
                    if rest is not None and rest.more is not None:
                        for m in reversed(rest.more):
                            if m not in seen:
                                push(m)
                    if b not in seen:
                        push(b)
                if a not in seen:
                    push(a)
    return order


class _Rest:
    """What few Values have: operands after the first two (``more``), the keyword parameters
    of the operation (``params``), a ``label``. One object, in one slot of the Value."""

    __slots__ = ("more", "params", "label")

    def __init__(self, more: tuple[Value, ...] | None, params: dict[str, Any] | None,
                 label: str) -> None:
        self.more = more
        self.params = params
        self.label = label


# Number operands become constant Values, shared between the graphs that use the same number
# (as `x * 0.999 + 0.001` does a million times in a chain). A constant is a leaf that requires
# no grad, so no pass writes into it, and no operation ever returns one: the user cannot reach
# it to change it (every operation returns a new Value).
_CONSTANTS: dict[float, Value] = {}


def _lift(x: Any) -> Value:
    """An operand as a Value: Values pass through, numbers and arrays become constants."""
    if type(x) is Value:
        return x
    if type(x) is float or type(x) is int:
        v = _CONSTANTS.get(x)
        if v is None:
            v = _node(None, float(x), None, None, None)
            if x and len(_CONSTANTS) < 4096:  # not 0: 0.0 and -0.0 are equal keys
                _CONSTANTS[x] = v
        return v
    if isinstance(x, Value):
        return x
    if type(x) is np.ndarray and x.dtype.char == "d" and x.ndim:
        data = x.copy()  # the common constant, a float64 array: skip _as_data's checks
    else:
        try:
            data = as_data(x)
        except TypeError:
            raise TypeError(f"unsupported operand: {describe(x)}") from None
    v = _node(None, data, None, None, None)
    if _tracing and isinstance(x, np.ndarray):  # a compiled function notes what it read
        trace = _tracing.get(get_ident())
        if trace is not None:
            trace.lifted[id(v)] = x
    return v


_trace_lock = threading.Lock()


def _trace_begin(trace: Any) -> None:
    """Start a trace in this thread: its checks of reads come into force (`Value.data` gets
    a getter that checks, for as long as any thread traces)."""
    with _trace_lock:
        if not _tracing:
            Value.data = property(Value._get_traced_data, Value._set_data,  # type: ignore
                                  doc=Value.data.__doc__)
        _tracing[get_ident()] = trace


def _trace_end() -> None:
    """End this thread's trace (the plain getter back when no thread traces)."""
    with _trace_lock:
        _tracing.pop(get_ident(), None)
        if not _tracing:
            Value.data = property(attrgetter("_data"), Value._set_data,  # type: ignore
                                  doc=Value.data.__doc__)
