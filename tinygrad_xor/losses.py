"""Loss functions built from primitives: mean squared error and binary cross-entropy.

``pred`` is a Value (scalar or tensor), or a list of scalar Values (what a ``scalar=True``
MLP returns for a batch); ``target`` is numbers of the same size (a ``(n,)`` target is
reshaped to a ``(n, 1)`` prediction, never broadcast against it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import checks as _checks
from .core import ops as _ops
from .core.value import Value

__all__ = ["mse", "binary_cross_entropy", "bce", "LOSSES", "get_loss"]

# Predictions are clamped to [e^-100, 1 - ...] inside the logs, so log() is at least -100,
# as PyTorch's BCELoss does: the loss stays finite for predictions of exactly 0 or 1.
_TINY = math.exp(-100.0)


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        out: list[Any] = []
        for item in x:
            out.extend(_flatten(item))
        return out
    return [x]


def _numbers(name: str, what: str, x: Any) -> np.ndarray:
    """x (numbers, an array or a Value) as a float64 array; TypeError if it is not numbers."""
    return _checks.numbers(name, what, x._data if isinstance(x, Value) else x)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _pair(pred: Any, target: Any, name: str) -> tuple[Any, Any, bool]:
    """(pred, target, is_list): a Value and an ndarray of its shape, or two flat lists."""
    if isinstance(pred, (list, tuple)):
        preds = _flatten(pred)
        for i, p in enumerate(preds):
            if isinstance(p, Value) and p.shape != ():
                raise ValueError(f"{name}: a list of predictions must hold scalar Values or "
                                 f"numbers; item {i} is a Value of shape {p.shape}")
            if not isinstance(p, Value):
                _numbers(name, f"prediction {i}", p)
        targets = _numbers(name, "target", target).ravel()
        if not preds:
            raise ValueError(f"{name}: no predictions (an empty list)")
        if len(preds) != targets.size:
            raise ValueError(f"{name}: {len(preds)} predictions but {targets.size} targets")
        return [p if isinstance(p, Value) else Value(p, requires_grad=False) for p in preds], \
            [float(t) for t in targets], True
    if not isinstance(pred, Value):
        pred = Value(_numbers(name, "prediction", pred), requires_grad=False)
    t = _numbers(name, "target", target)
    if pred.size == 0:
        raise ValueError(f"{name}: no predictions (shape {pred.shape})")
    if t.shape != pred.shape:
        if t.size != pred.size:
            raise ValueError(f"{name}: prediction of shape {pred.shape} and target of shape "
                             f"{t.shape} have different sizes")
        if _squeezed(t.shape) != _squeezed(pred.shape):
            raise ValueError(f"{name}: prediction of shape {pred.shape} and target of shape "
                             f"{t.shape} differ in more than axes of length 1")
        t = t.reshape(pred.shape)
    return pred, (float(t) if t.ndim == 0 else t), False


def _check_probabilities(name: str, what: str, data: np.ndarray, hint: str = "") -> None:
    """ValueError when an entry is outside [0, 1] or NaN (as PyTorch's BCELoss)."""
    bad = ~((data >= 0.0) & (data <= 1.0))
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {index}" if data.ndim else ""
        raise ValueError(f"{name}: every {what} must lie in [0, 1], got {float(data[index])!r}"
                         f"{where}{hint}")


def _reduce(elements: Any, is_list: bool, reduction: str) -> Any:
    if reduction == "none":
        return elements
    if is_list:
        total: Any = elements[0]
        for e in elements[1:]:
            total = total + e
        return total * (1.0 / len(elements)) if reduction == "mean" else total
    if reduction == "mean":
        return elements.mean() if elements.ndim else elements
    if reduction == "sum":
        return elements.sum() if elements.ndim else elements
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_reduction(reduction: Any) -> None:
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be 'mean', 'sum' or 'none', got "
                        f"{type(reduction).__name__}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse(pred: Any, target: Any, *, reduction: str = "mean") -> Any:
    """Mean squared error, mean over all elements: mean((pred − target)²)."""
    _check_reduction(reduction)
    p, t, is_list = _pair(pred, target, "mse")
    if is_list:
        elements = [(pi - ti) ** 2 for pi, ti in zip(p, t, strict=True)]
    else:
        elements = (p - t) ** 2
    return _reduce(elements, is_list, reduction)


def _clamped_log(p: Value) -> Value:
    """log(max(p, e^-100)), whose derivative is 1 / max(p, e^-100) everywhere.

    The clamp is a constant added to p (computed from its numbers), not a max, so the gradient
    at a prediction of exactly 0 or 1 keeps its sign and size order, as PyTorch's does (which
    divides by max(p (1 - p), 1e-12)); through a max the gradient there would be 0 and the
    other term's would stand alone, with the wrong sign.
    """
    # (the lift is read from the data through the op table's mask, so a compiled loss
    # computes it anew at every call, never a number frozen at its trace)
    return (p + _ops.mask(p, fn=lift_to_tiny)).log()


def lift_to_tiny(x: Any) -> Any:
    """What lifts ``x`` to at least e^-100: ``max(x, e^-100) - x``."""
    if type(x) is float:
        return _TINY - x if x < _TINY else 0.0
    return np.maximum(x, _TINY) - x


lift_to_tiny.elementwise = True  # type: ignore[attr-defined]  # (for jit's python backends)


def binary_cross_entropy(pred: Any, target: Any, *, reduction: str = "mean") -> Any:
    """Binary cross-entropy −[t·log p + (1 − t)·log(1 − p)], mean over all elements.

    Finite for predictions of exactly 0 or 1 (each log is at least −100, as in PyTorch);
    a prediction or a target outside [0, 1] (or NaN) raises ValueError, as in PyTorch.
    """
    _check_reduction(reduction)
    name = "binary_cross_entropy"
    p, t, is_list = _pair(pred, target, name)
    hint = " (a probability: does the model end in a sigmoid?)"
    if is_list:
        _check_probabilities(name, "prediction", np.array([pi._data for pi in p]), hint)
        _check_probabilities(name, "target", np.array(t))
    else:
        _check_probabilities(name, "prediction", np.asarray(p._data), hint)
        _check_probabilities(name, "target", np.asarray(t))
    if is_list:
        elements = [-(ti * _clamped_log(pi) + (1.0 - ti) * _clamped_log(1.0 - pi))
                    for pi, ti in zip(p, t, strict=True)]
    else:
        elements = -(t * _clamped_log(p) + (1.0 - t) * _clamped_log(1.0 - p))
    return _reduce(elements, is_list, reduction)


bce = binary_cross_entropy

#: Losses by the names `fit` accepts.
LOSSES = {"mse": mse, "bce": binary_cross_entropy, "binary_cross_entropy": binary_cross_entropy}


def get_loss(loss: Any) -> Any:
    """A loss function from a callable or a name ("mse", "bce")."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a function (pred, target) -> Value or one of "
                        f"{sorted(LOSSES)}, got {type(loss).__name__}")
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; use a function (pred, target) -> Value or "
                         f"one of {sorted(LOSSES)}") from None
