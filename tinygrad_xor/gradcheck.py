"""Compare reverse-mode gradients with central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import Value, no_grad


class GradcheckError(AssertionError):
    """A reverse-mode gradient disagrees with its finite-difference estimate."""


def _index(shape: tuple[int, ...], flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _matrix(m: np.ndarray) -> str:
    return np.array2string(m, precision=6, suppress_small=True, max_line_width=100)


def gradcheck(f: Callable[..., Value], *inputs: Value, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-4, fast: bool = False, seed: int = 0) -> bool:
    """Check the gradients of ``f`` at ``inputs`` against central finite differences.

    Args:
        f: takes the input Values and returns a Value (scalar or tensor).
        *inputs: the Values to differentiate with respect to; those with
            ``requires_grad=False`` are left out. Data is taken as float64 for the check.
        eps: the finite-difference step.
        atol, rtol: an analytic entry ``a`` passes when ``|a - n| <= atol + rtol * |n|``
            for the numeric entry ``n``.
        fast: instead of the full Jacobian (one backward per output element and two forwards
            per input element), check one random vector-Jacobian-vector product ``u^T J v``
            per input: one backward and two forwards each. For large inputs.
        seed: seeds the random vectors of the fast mode.

    Returns:
        True when every entry agrees.

    Raises:
        GradcheckError: naming the input and output (0-based positions), the element index,
            the analytic and the numeric value, with both Jacobians (or their worst entries).
        TypeError: when an input is not a Value or ``f`` does not return one.

    The inputs' data and grads are left as they were.
    """
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradcheck: input {i} must be a Value, got {type(x).__name__}")
    saved = [(x.data, x._grad) for x in inputs]
    try:
        for x in inputs:
            if type(x.data) is not float:
                x.data = np.array(x.data, dtype=np.float64)
        out = f(*inputs)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        if fast:
            _check_fast(f, inputs, out, eps, atol, rtol, np.random.default_rng(seed))
        else:
            for i, x in enumerate(inputs):
                if x.requires_grad:
                    analytic = _analytic_jacobian(out, inputs, i)
                    numeric = _numeric_jacobian(f, inputs, i, eps)
                    _compare(analytic, numeric, i, out.shape, x.shape, atol, rtol)
    finally:
        for x, (data, grad) in zip(inputs, saved):
            x.data, x._grad = data, grad
    return True


def _flat_grad(x: Value) -> np.ndarray:
    return np.array(x.grad, dtype=np.float64).reshape(-1)


def _analytic_jacobian(out: Value, inputs: tuple[Value, ...], i: int) -> np.ndarray:
    """Rows: output elements; columns: elements of input i. One backward per row."""
    x = inputs[i]
    jac = np.zeros((out.size, x.size))
    if not out.requires_grad:
        return jac  # f does not depend on any input that requires grad
    for j in range(out.size):
        for v in inputs:
            v._grad = None
        if out.shape == ():
            out.backward()
        else:
            seed = np.zeros(out.size)
            seed[j] = 1.0
            out.backward(seed.reshape(out.shape))
        jac[j] = _flat_grad(x)
    return jac


def _evaluate(f: Callable[..., Value], inputs: tuple[Value, ...]) -> np.ndarray:
    with no_grad():
        return np.array(f(*inputs).data, dtype=np.float64).reshape(-1)


def _numeric_jacobian(f: Callable[..., Value], inputs: tuple[Value, ...], i: int,
                      eps: float) -> np.ndarray:
    """Central differences, one input element at a time."""
    x = inputs[i]
    columns = []
    if type(x.data) is float:
        x0 = x.data
        x.data = x0 + eps
        plus = _evaluate(f, inputs)
        x.data = x0 - eps
        minus = _evaluate(f, inputs)
        x.data = x0
        columns.append((plus - minus) / (2 * eps))
    else:
        flat = x.data.reshape(-1)  # a view of our float64 copy
        for k in range(flat.size):
            x0 = flat[k]
            flat[k] = x0 + eps
            plus = _evaluate(f, inputs)
            flat[k] = x0 - eps
            minus = _evaluate(f, inputs)
            flat[k] = x0
            columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _compare(analytic: np.ndarray, numeric: np.ndarray, i: int, out_shape: tuple[int, ...],
             in_shape: tuple[int, ...], atol: float, rtol: float) -> None:
    with np.errstate(invalid="ignore"):
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side is a failure
    if excess.size == 0 or excess.max() <= 0:
        return
    j, k = np.unravel_index(int(np.argmax(excess)), excess.shape)
    a, n = analytic[j, k], numeric[j, k]
    lines = [
        f"gradcheck failed: input {i}, output {j} (index {_index(out_shape, int(j))}), "
        f"element {_index(in_shape, int(k))}: analytic {a!r}, numeric {n!r} "
        f"(|difference| {abs(a - n):.3g} > tolerance {atol + rtol * abs(n):.3g})",
        f"max |difference| over input {i}: {np.nanmax(np.abs(analytic - numeric)):.6g}; "
        f"{int((excess > 0).sum())} of {excess.size} entries out of tolerance",
    ]
    if analytic.size <= 64:
        lines += ["analytic Jacobian (rows: outputs, columns: input elements):",
                  _matrix(analytic), "numeric Jacobian:", _matrix(numeric)]
    else:
        lines.append("worst entries (output, element): analytic vs numeric")
        for flat in np.argsort(excess, axis=None)[::-1][:5]:
            jj, kk = np.unravel_index(int(flat), excess.shape)
            lines.append(f"  {int(jj)}, {_index(in_shape, int(kk))}: {analytic[jj, kk]!r} vs "
                         f"{numeric[jj, kk]!r}")
    raise GradcheckError("\n".join(lines))


def _check_fast(f: Callable[..., Value], inputs: tuple[Value, ...], out: Value, eps: float,
                atol: float, rtol: float, rng: np.random.Generator) -> None:
    """Check u^T J v for one random u over the outputs and one random v per input."""
    u = rng.standard_normal(out.shape) if out.shape else float(rng.standard_normal())
    for v in inputs:
        v._grad = None
    if out.requires_grad:
        out.backward(u)
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        direction: Any = rng.standard_normal(x.shape) if x.shape else float(rng.standard_normal())
        analytic = float(np.sum(np.asarray(x.grad) * direction)) if out.requires_grad else 0.0
        x0 = x.data
        x.data = x0 + eps * direction
        plus = _evaluate(f, inputs)
        x.data = x0 - eps * direction
        minus = _evaluate(f, inputs)
        x.data = x0
        numeric = float(np.sum((plus - minus) / (2 * eps) * np.reshape(u, -1)))
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck (fast) failed: input {i}, output all (a random combination), "
                f"element all (a random direction): analytic u^T J v {analytic!r}, numeric "
                f"{numeric!r} (|difference| {abs(analytic - numeric):.3g} > tolerance "
                f"{atol + rtol * abs(numeric):.3g}); run with fast=False for the element")
