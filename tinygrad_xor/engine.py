"""The Value: data, its gradient, and the operation and operands that made it.

A scalar Value keeps a plain Python ``float`` in ``.data``; a tensor keeps an ``np.ndarray``.
Every operation is a `Primitive` of the op table (``ops.py``): the Value's operators call it,
`Primitive.__call__` runs the NumPy forward, and `_node` records the result. The reverse pass
is in ``backward.py``. Grad mode (`no_grad`, `enable_grad`) belongs to each thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from operator import attrgetter
from threading import get_ident
from typing import TYPE_CHECKING, Any

import numpy as np

__all__ = ["Value", "Primitive", "primitive", "no_grad", "enable_grad", "is_grad_enabled",
           "walk"]


#: The threads whose grad mode is off, by thread id. Grad mode belongs to each thread; it is
#: kept here rather than in a threading.local because the common case, no thread inside
#: no_grad, is then one truth test per node (`_recording`). Adding to and discarding from a set
#: are single steps under the GIL, so threads need no lock to change their own entry.
_off: set[int] = set()


#: The traces of `jit` running now, by thread id (a trace belongs to the thread that runs it).
#: Empty outside a trace, so each check below costs one truth test.
_tracing: dict[int, Any] = {}


class TraceError(RuntimeError):
    """What a compiled function's trace cannot see: the numbers of a traced Value read in
    Python (`jit` compiles the graph, not the Python around it)."""


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


def _traced(v: Value, what: str) -> None:
    """Refuse to read the numbers of ``v`` if this thread traces a graph that ``v`` is in."""
    trace = _tracing.get(get_ident())
    if trace is not None:
        trace.read(v, what)


def _recording() -> bool:
    """True when this thread's operations record a graph."""
    return not _off or get_ident() not in _off


class _mode:
    """The block of `no_grad` / `enable_grad`: this thread's grad mode set on entry and put
    back on exit. Each switch is one call of a C function (``set.add`` / ``set.discard``), so
    a KeyboardInterrupt can land before or after it, never half-way: it cannot leave the
    mode changed once the block is left."""

    __slots__ = ("enabled", "ident", "restore")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        ident = get_ident()  # the thread that entered: restored even if a generator moves
        self.ident = ident
        self.restore = _off.discard if ident not in _off else _off.add
        if self.enabled:
            _off.discard(ident)
        else:
            _off.add(ident)

    def __exit__(self, *exc: Any) -> None:
        self.restore(self.ident)

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """As a decorator (``@no_grad()``): ``f`` runs inside the block."""
        enabled = self.enabled

        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with _mode(enabled):
                return f(*args, **kwargs)

        return inner


def no_grad() -> Any:
    """Inside this block, in this thread, operations record no graph: results are leaves."""
    return _mode(False)


def enable_grad() -> Any:
    """Inside this block, in this thread, operations record a graph again (even in no_grad)."""
    return _mode(True)


def is_grad_enabled() -> bool:
    """True unless this thread is inside `no_grad()`."""
    return _recording()


_ndarray = np.ndarray
_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)  # (each the one dtype object of its kind)


def _describe(obj: object) -> str:
    """A short description of a bad input for error messages."""
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def _as_data(data: Any, what: str = "Value()") -> float | np.ndarray:
    """Validate user data: a float for scalars, a float ndarray for tensors."""
    kind = type(data)
    if kind is float:
        return data
    if kind is int or kind is bool:
        return _int_as_float(data, what)
    if isinstance(data, (np.floating, np.integer, np.bool_)):
        return float(data)
    if isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except ValueError as exc:  # ragged nesting
            raise TypeError(f"{what} needs numbers, got a ragged {kind.__name__}: {exc}") from None
        except TypeError:  # a Value that requires grad inside (see Value.__array__)
            raise TypeError(f"{what} needs numbers, got a {kind.__name__} holding Values that "
                            f"require grad; make one Value of them with stack(...)") from None
        if array.dtype == object and all([type(x) in (int, float, bool) for x in array.flat]):
            # ints beyond int64 (2**64): numpy keeps them as objects; convert as torch does
            # for a float64 tensor, with a clear error for what no float64 holds (10**400)
            array = np.array([_int_as_float(x, what) for x in array.flat]).reshape(
                array.shape)
    elif isinstance(data, np.ndarray):
        if kind is not np.ndarray and isinstance(data, np.ma.MaskedArray):
            raise TypeError(f"{what} got a masked array, whose mask would be lost; fill it "
                            f"first, e.g. a.filled(np.nan), or pass a.data for the raw values")
        array = data
    elif isinstance(data, Value):
        hint = ("assign its .data" if what == "Value.data" else
                "use .detach() for a new leaf with the same data")
        raise TypeError(f"{what} got a Value; {hint}")
    else:
        raise TypeError(f"{what} needs a number, list or ndarray, got {_describe(data)}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} needs numeric data, got an array of dtype {array.dtype}"
                        f" from {_describe(data)}")
    if array.ndim == 0:
        return float(array)
    if array.dtype == np.float32:
        return array.copy() if array is data else array
    return np.array(array, dtype=np.float64)


def _int_as_float(number: int, what: str) -> float:
    """A Python int as a float64 (2**64 too, as ``float()``); OverflowError naming ``what``
    for one that no float64 holds."""
    try:
        return float(number)
    except OverflowError:
        digits = len(str(abs(number)))
        raise OverflowError(f"{what} got an int of {digits} digits, too large for a float64 "
                            f"(at most about 1.8e308)") from None


def _like(value: Any, data: Any, what: str) -> Any:
    """``value`` as numbers of the kind and shape of ``data``: a float for a scalar, else an
    array of its dtype (the same array when it already is one). TypeError for what is not
    real numbers (complex ones too: their imaginary part would be lost), ValueError for a
    wrong shape; ``what`` names it in the message."""
    if type(value) is float and type(data) is float:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.number, list, tuple, np.ndarray)):
        raise TypeError(f"{what} must be a number or an array, got {_describe(value)}")
    if (isinstance(value, np.ndarray) and type(value) is not np.ndarray
            and isinstance(value, np.ma.MaskedArray)):
        raise TypeError(f"{what} must not be a masked array (its mask would be lost); fill it "
                        f"first, e.g. a.filled(0.0)")
    if type(data) is float and np.ndim(value) != 0:
        raise ValueError(f"{what} of a scalar must be a number, got {_describe(value)}")
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nesting
        raise TypeError(f"{what} must hold numbers, got {_describe(value)}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold real numbers, got dtype {array.dtype} from "
                        f"{_describe(value)}")
    if array.shape != np.shape(data):
        raise ValueError(f"{what} has shape {array.shape}, the Value has shape {np.shape(data)}")
    return float(array) if type(data) is float else array.astype(data.dtype, copy=False)


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
    # still to send a gradient in that pass, and its partial sum. Slots are few because the
    # cyclic garbage collector walks each one of every new Value while a graph is built (each
    # costs about 1.5 % of W1's step), and the operands are not one tuple: that would be one
    # more object for it to walk.
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
                            f"{_describe(requires_grad)}")
        if not isinstance(label, str):
            raise TypeError(f"Value(): label must be a str, got {_describe(label)}")
        self._data = _as_data(data)
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
        value = _like(value, self._data, "grad")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """True when backward passes compute this Value's gradient: a leaf made with
        ``requires_grad=True``, or a result computed from one while grad mode was on."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if type(value) is not bool and not isinstance(value, np.bool_):
            raise TypeError(f"requires_grad must be True or False, got {_describe(value)}")
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
            raise TypeError(f"label must be a str, got {_describe(value)}")
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

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's ufuncs on Values: ``arr + v``, ``np.exp(v)`` are the op table's operations.

        So ``ndarray @ Value`` is a Value, and a custom vjp written with ``np.exp`` runs on
        Values too (differentiable again). Other ufuncs and ``out=`` are a TypeError.
        """
        op = _ops.UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        return NotImplemented if op is None else op(*inputs)

    __hash__ = object.__hash__  # Values are dict keys in a backward pass (no __eq__ is defined)

    # No _repr_svg_: a notebook shows a Value as its text repr; `v.draw()` returns a Digraph,
    # which Jupyter displays inline, so the picture (and its layout time) is asked for.
    def draw(self, **kwargs: Any) -> Any:
        """The computation graph ending here, as a graphviz.Digraph (see viz.draw_graph)."""
        from .viz import draw_graph  # the one upward import of the core: drawing is a library

        return draw_graph(self, **kwargs)

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

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Reverse-mode pass from this Value; adds dself/dx into x.grad for every x in the graph.

        ``gradient`` is dL/dself (PyTorch's name): a scalar needs none (it is 1.0); a tensor
        needs one of its own shape, of real numbers. The walk is iterative, so graphs millions
        of nodes deep work. ``retain_graph`` is accepted for PyTorch's call form: a graph here
        is always kept, so a second ``backward`` adds again. ``.grad`` holds numbers, so
        ``create_graph=True`` is refused: `autograd.grad` returns differentiable gradients.
        """
        if retain_graph is not None and not isinstance(retain_graph, (bool, np.bool_)):
            raise TypeError(f"backward(): retain_graph must be True, False or None, got "
                            f"{_describe(retain_graph)}")
        if create_graph is not False:
            if not isinstance(create_graph, (bool, np.bool_)):
                raise TypeError(f"backward(): create_graph must be True or False, got "
                                f"{_describe(create_graph)}")
            if create_graph:
                raise ValueError("backward(create_graph=True): .grad holds numbers here, never"
                                 " a graph; use autograd.grad(out, inputs, create_graph=True)"
                                 " for gradients that can be differentiated again")
        if _tracing:
            _traced(self, "backward()")
        _backward.backward(self, gradient)

    # -- operations: the table is in ops.py ------------------------------------------------
    # + - * @ and their reflected forms are made from the op table below the class
    # (`_operator`), so that an operator costs one call before `_node`; declared here for
    # type checkers.
    if TYPE_CHECKING:
        def __add__(self, other: Any) -> Value: ...
        def __radd__(self, other: Any) -> Value: ...
        def __sub__(self, other: Any) -> Value: ...
        def __rsub__(self, other: Any) -> Value: ...
        def __mul__(self, other: Any) -> Value: ...
        def __rmul__(self, other: Any) -> Value: ...
        def __matmul__(self, other: Any) -> Value: ...
        def __rmatmul__(self, other: Any) -> Value: ...

    def __truediv__(self, other: Any) -> Value:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _ops.div(other, self)

    def __neg__(self) -> Value:
        return _ops.neg(self)

    def __pow__(self, other: Any) -> Value:
        return _ops.power(self, other)

    def __rpow__(self, other: Any) -> Value:
        return _ops.power(other, self)

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
        return _ops.clip_value(self, lo, hi)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Sum over ``axis`` (all axes by default)."""
        return _ops.sum(self, **_ops.reduction_params("sum", self, axis, keepdims))

    def mean(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Mean over ``axis`` (all axes by default); NaN over an empty slice, as NumPy."""
        return _ops.mean(self, **_ops.reduction_params("mean", self, axis, keepdims))

    def max(self, axis: Any = None, keepdims: bool = False) -> Value:
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return _ops.max(self, **_ops.reduction_params("max", self, axis, keepdims))

    def reshape(self, *shape: Any) -> Value:
        """The same elements in a new shape: ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape=_ops.check_shape("reshape", shape))

    def transpose(self, *axes: Any) -> Value:
        """Permute the axes (reverse them when none are given), like ``np.transpose``."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes=_ops.check_axes(self, axes))

    @property
    def T(self) -> Value:
        """The transpose (axes reversed)."""
        return _ops.transpose(self, axes=None)


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
            raise TypeError(f"{name}: its forward returned {_describe(out)}, not numbers")
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
    order: list[Value] = []
    done: set[int] = set()
    for root in roots:
        if not isinstance(root, Value):
            raise TypeError(f"walk() needs Values, got {_describe(root)}")
        if id(root) in done:
            continue
        stack: list[tuple[Value, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in done:
                continue
            done.add(id(node))
            stack.append((node, True))
            for parent in reversed(node._parents):
                if id(parent) not in done:
                    stack.append((parent, False))
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
            data = _as_data(x)
        except TypeError:
            raise TypeError(f"unsupported operand: {_describe(x)}") from None
    v = _node(None, data, None, None, None)
    if _tracing and isinstance(x, np.ndarray):  # a compiled function notes what it read
        trace = _tracing.get(get_ident())
        if trace is not None:
            trace.lifted[id(v)] = x
    return v


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
                            f"{_describe(forward)} and {_describe(vjp)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"primitive(): name must be a str, got {_describe(name)}")
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


_data = attrgetter("_data")


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
                             f" ({len(xs)}), got {_describe(sent)}")
        gs = list(sent) if index is None else [sent]
        inputs = xs if index is None else (xs[index],)
        for i, (g, x) in enumerate(zip(gs, inputs)):
            if values:
                if g is not None and not isinstance(g, Value):
                    raise TypeError(f"{name}: its vjp returned {_describe(g)}, not a Value, when"
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
    """Turn a NumPy function and its vector-Jacobian product into an operation on Values."""
    return Primitive(forward, vjp, name=name)


# The op table and the reverse pass need Value defined first; Value's methods call them.
from . import backward as _backward  # noqa: E402
from . import ops as _ops  # noqa: E402

# The operators of the class (declared in it for type checkers): a + b is add's fast path.
for _prim in (_ops.add, _ops.sub, _ops.mul, _ops.matmul):
    for _method in _operator(_prim):
        setattr(Value, _method.__name__, _method)
