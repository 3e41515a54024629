"""``autograd.grad``: gradients as return values, to any order (as ``torch.autograd.grad``).

Imports: ``checks``, ``mode``, ``value``, ``backward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import get_ident
from typing import Any

import numpy as np

from .backward import backprop, seed
from .checks import describe
from .mode import _tracing
from .value import Value

__all__ = ["grad"]


def _values(xs: Any, what: str) -> tuple[Value, ...]:
    if isinstance(xs, Value):
        return (xs,)
    if isinstance(xs, Sequence) and not isinstance(xs, str) and xs:
        for i, x in enumerate(xs):
            if not isinstance(x, Value):
                raise TypeError(f"autograd.grad(): {what} {i} must be a Value, got "
                                f"{describe(x)}")
        return tuple(xs)
    raise TypeError(f"autograd.grad(): {what}s must be a Value or a non-empty sequence of "
                    f"Values, got {describe(xs)}")


def _weights(grad_outputs: Any, outputs: Any, outs: tuple[Value, ...]) -> list[Any]:
    """``grad_outputs`` as one weight per output. As torch, a sequence of weights or, for one
    output, a single one: an array, a Value or a number. For one output given as a Value, a
    list of one weight (an array, a Value or a number) is taken as the sequence, any other list
    as the weight's numbers."""
    if grad_outputs is None:
        return [None] * len(outs)
    if isinstance(grad_outputs, (Value, np.ndarray, int, float, np.number)):
        return [grad_outputs]
    if isinstance(grad_outputs, Sequence) and not isinstance(grad_outputs, str):
        if isinstance(outputs, Sequence) or (
                len(grad_outputs) == 1 and isinstance(
                    grad_outputs[0], (Value, np.ndarray, int, float, np.number))):
            return list(grad_outputs)
    return [grad_outputs]


def grad(outputs: Value | Sequence[Value], inputs: Value | Sequence[Value],
         grad_outputs: Any = None, *, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Value, ...]:
    """The gradients of ``outputs`` with respect to each of ``inputs``, one Value per input.

    ``grad_outputs`` (one per output: data or Values) weights the outputs; it may be left out
    for outputs of one element. No ``.grad`` changes. With ``create_graph=True`` the gradients
    have their own graph, which depends on the inputs, so they can be differentiated again. An
    input the outputs do not depend on raises ValueError unless ``allow_unused=True``, which
    gives it a zero gradient. ``retain_graph`` is accepted for PyTorch's call form: graphs are
    always kept here.
    """
    outs = _values(outputs, "output")
    ins = _values(inputs, "input")
    if retain_graph is not None and not isinstance(retain_graph, (bool, np.bool_)):
        raise TypeError(f"autograd.grad(): retain_graph must be True, False or None, got "
                        f"{describe(retain_graph)}")
    if not isinstance(create_graph, (bool, np.bool_)):
        raise TypeError(f"autograd.grad(): create_graph must be True or False, got "
                        f"{describe(create_graph)}")
    if _tracing and get_ident() in _tracing:  # a compiled function: every gradient a graph
        create_graph = True
    weights = _weights(grad_outputs, outputs, outs)
    if len(weights) != len(outs):
        raise ValueError(f"autograd.grad(): {len(weights)} grad_outputs for {len(outs)} outputs")
    seeds = []
    for k, (out, w) in enumerate(zip(outs, weights)):
        if w is None and out.size == 1 and out.shape != ():
            w = np.ones(out.shape)
        what = f"autograd.grad() output {k}"
        if create_graph and isinstance(w, Value):
            if w.shape != out.shape:
                raise ValueError(f"{what}: grad_outputs has shape {w.shape}, the output has "
                                 f"shape {out.shape}")
            seeds.append(w)
            continue
        s = seed(out, w, what)
        seeds.append(Value(s, requires_grad=False) if create_graph else s)
    grads = backprop(outs, tuple(seeds), create_graph=bool(create_graph), wanted=ins) or {}
    result = []
    for i, x in enumerate(ins):
        g = grads.get(x)
        if g is None:
            if not allow_unused:
                raise ValueError(f"autograd.grad(): the outputs do not depend on input {i} "
                                 f"({'it does not require grad' if not x.requires_grad else x!r})"
                                 f"; pass allow_unused=True for a zero gradient")
            g = np.zeros_like(x._data) if x.shape else 0.0
        if not isinstance(g, Value):
            g = Value(g, requires_grad=False)  # a copy: pass arrays may be shared
        result.append(g)
    return tuple(result)
