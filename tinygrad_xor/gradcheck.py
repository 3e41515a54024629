"""Compare reverse-mode gradients with central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _checks, autograd
from .engine import Value, enable_grad, no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]

_SHOWN = 64  # Jacobians with at most this many entries are printed whole, else the worst ones
_WORST = 5


class GradcheckError(AssertionError):
    """A reverse-mode gradient disagrees with its finite-difference estimate."""


def _index(shape: tuple[int, ...], flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _matrix(m: np.ndarray) -> str:
    text = np.array2string(m, precision=6, suppress_small=True, max_line_width=100)
    return "\n".join("  " + line for line in text.splitlines())


def _inputs(where: str, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """PyTorch's form ``f, (x, y)``: a single tuple or list of inputs stands for the inputs."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        if not inputs[0]:
            raise ValueError(f"{where}: the tuple of inputs is empty")
        return tuple(inputs[0])
    return inputs


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-4, fast: bool = False, seed: int = 0,
              raise_exception: bool = True, fast_mode: bool | None = None) -> bool:
    """Check the gradients of ``f`` at ``inputs`` against central finite differences.

    Args:
        f: takes the input Values and returns a Value (scalar or tensor), or a tuple or list
            of Values (several outputs, numbered from 0).
        *inputs: the Values to differentiate with respect to; those with
            ``requires_grad=False`` are passed to ``f`` but not checked. PyTorch's form, one
            tuple or list of Values (``gradcheck(f, (x, y))``), means the same as
            ``gradcheck(f, x, y)``. Data is taken as
            float64 for the check (float32 inputs too).
        eps: the finite-difference step.
        atol: the absolute tolerance: an analytic entry ``a`` passes when
            ``|a - n| <= atol + rtol * |n|`` for the numeric entry ``n``.
        rtol: the relative tolerance in that test.
        fast: instead of the full Jacobians (one backward per output element and two forwards
            per input element), check one random product ``u^T J v`` per input, with ``u`` a
            random vector over the outputs: one backward and two forwards per input. For large
            inputs; it catches a wrong gradient with probability 1, but names no element.
        seed: seeds the random vectors of the fast mode.
        raise_exception: when False, return False instead of raising `GradcheckError`.
        fast_mode: PyTorch's name for ``fast``; give one or the other (or both, equal).

    Returns:
        True when every entry agrees.

    Raises:
        GradcheckError: naming the output and input (0-based positions), the output and input
            elements, the analytic and the numeric value and the largest difference, with both
            Jacobians (or their worst entries when large). Also when ``f`` returns NaN or inf.
        TypeError: when ``f`` is not callable, an input is not a Value, ``f`` does not
            return Values, or an option has the wrong type (a str for ``eps``, ...).
        ValueError: when no input requires grad (nothing would be checked), or ``eps`` is not
            a finite number > 0, ``atol`` or ``rtol`` not a finite number >= 0 (both 0 is
            refused), or ``seed`` is negative.

    The inputs' data and grads are left as they were.
    """
    if not callable(f):
        raise TypeError(f"gradcheck: f must be a function of Values, got {type(f).__name__}")
    eps = _checks.number("gradcheck", "eps", eps, low=0.0, low_open=True)
    atol = _checks.number("gradcheck", "atol", atol, low=0.0)
    rtol = _checks.number("gradcheck", "rtol", rtol, low=0.0)
    if atol == 0.0 and rtol == 0.0:
        raise ValueError("gradcheck: atol and rtol are both 0, so no finite difference could "
                         "ever agree; give a tolerance > 0")
    fast = _checks.boolean("gradcheck", "fast", fast)
    if fast_mode is not None:
        fast_mode = _checks.boolean("gradcheck", "fast_mode", fast_mode)
        if fast and not fast_mode:
            raise ValueError("gradcheck: fast=True and fast_mode=False disagree; fast_mode is "
                             "PyTorch's name for fast, give one of them")
        fast = fast_mode
    inputs = _inputs("gradcheck", inputs)
    seed = _checks.integer("gradcheck", "seed", seed, minimum=0)
    raise_exception = _checks.boolean("gradcheck", "raise_exception", raise_exception)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradcheck: input {i} must be a Value, got {type(x).__name__}"
                            f" (wrap it: Value(...))")
    if not any(x.requires_grad for x in inputs):
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    saved = [x.data for x in inputs]
    try:
        for x in inputs:
            if type(x.data) is not float:
                x.data = np.array(x.data, dtype=np.float64)
        outs = _outputs(f, inputs)
        for k, out in enumerate(outs):
            data = np.asarray(out.data)
            if not np.all(np.isfinite(data)):
                raise GradcheckError(f"gradcheck: output {k} of f has non-finite entries at the"
                                     f" given inputs, so no gradient can be checked: {out!r}")
        if fast:
            _check_fast(f, inputs, outs, eps, atol, rtol, np.random.default_rng(seed))
        else:
            analytic = _analytic_jacobians(outs, inputs)
            graphs = [_graph_ids(out) for out in outs]
            for i, x in enumerate(inputs):
                if x.requires_grad:
                    numeric = _numeric_jacobians(f, inputs, i, eps, [o.size for o in outs])
                    for k, out in enumerate(outs):
                        _compare(analytic[k][i], numeric[k], k, i, out.shape, x.shape,
                                 atol, rtol, detached=id(x) not in graphs[k])
    except GradcheckError:
        if raise_exception:
            raise
        return False
    finally:
        for x, data in zip(inputs, saved):
            x.data = data
    return True


def _outputs(f: Callable[..., Any], inputs: tuple[Value, ...]) -> list[Value]:
    """f's outputs as a list of Values (one Value, or a tuple/list of them)."""
    out = f(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for k, o in enumerate(outs):
        if not isinstance(o, Value):
            where = "" if len(outs) == 1 and not isinstance(out, (tuple, list)) else f" {k}"
            raise TypeError(f"gradcheck: f must return a Value (or a tuple of Values); output"
                            f"{where} is {type(o).__name__} {o!r:.60}")
    return outs


def _graph_ids(root: Value) -> set[int]:
    """ids of the Values in the graph that ends in root (to tell a cut graph in the report)."""
    seen, stack = {id(root)}, [root]
    while stack:
        for parent in stack.pop()._parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return seen


def _analytic_jacobians(outs: list[Value], inputs: tuple[Value, ...]) -> list[list[np.ndarray]]:
    """jac[k][i]: rows are elements of output k, columns elements of input i.

    One reverse pass (`autograd.grad`, which changes no ``.grad``) per output element fills the
    rows of every input at once.
    """
    jac = [[np.zeros((out.size, x.size)) for x in inputs] for out in outs]
    wrt = [x for x in inputs if x.requires_grad]
    for k, out in enumerate(outs):
        if not out.requires_grad:
            continue  # f's output does not depend on any input that requires grad
        for j in range(out.size):
            seed = np.zeros(out.size)
            seed[j] = 1.0
            grads = iter(autograd.grad(out, wrt, seed.reshape(out.shape) if out.shape else 1.0,
                                       allow_unused=True))
            for i, x in enumerate(inputs):
                if x.requires_grad:
                    jac[k][i][j] = np.asarray(next(grads).data, dtype=np.float64).reshape(-1)
    return jac


def _evaluate(f: Callable[..., Any], inputs: tuple[Value, ...]) -> list[np.ndarray]:
    with no_grad():
        out = f(*inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [np.array(o.data, dtype=np.float64).reshape(-1) for o in outs]


def _numeric_jacobians(f: Callable[..., Any], inputs: tuple[Value, ...], i: int, eps: float,
                       sizes: list[int]) -> list[np.ndarray]:
    """Central differences for input i, one element at a time; one matrix per output."""
    x = inputs[i]
    jac = [np.zeros((n, x.size)) for n in sizes]
    if type(x.data) is float:
        x0 = x.data
        x.data = x0 + eps
        plus = _evaluate(f, inputs)
        x.data = x0 - eps
        minus = _evaluate(f, inputs)
        x.data = x0
        for k in range(len(sizes)):
            jac[k][:, 0] = (plus[k] - minus[k]) / (2 * eps)
        return jac
    flat = x.data.reshape(-1)  # a view of our float64 copy
    for e in range(flat.size):
        x0 = flat[e]
        flat[e] = x0 + eps
        plus = _evaluate(f, inputs)
        flat[e] = x0 - eps
        minus = _evaluate(f, inputs)
        flat[e] = x0
        for k in range(len(sizes)):
            jac[k][:, e] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _compare(analytic: np.ndarray, numeric: np.ndarray, k: int, i: int,
             out_shape: tuple[int, ...], in_shape: tuple[int, ...], atol: float,
             rtol: float, detached: bool = False) -> None:
    with np.errstate(invalid="ignore"):
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side is a failure
    if excess.size == 0 or excess.max() <= 0:
        return
    j, e = (int(t) for t in np.unravel_index(int(np.argmax(excess)), excess.shape))
    a, n = float(analytic[j, e]), float(numeric[j, e])
    with np.errstate(invalid="ignore"):
        biggest = float(np.nanmax(np.abs(analytic - numeric)))
    lines = [
        f"gradcheck failed: Jacobian mismatch for output {k} with respect to input {i}",
        f"  worst at output element {_index(out_shape, j)} (output shape {out_shape}), "
        f"input element {_index(in_shape, e)} (input shape {in_shape}): "
        f"analytic {a!r}, numeric {n!r}",
        f"  |difference| {abs(a - n):.6g} > tolerance {atol + rtol * abs(n):.3g} "
        f"(atol {atol:g} + rtol {rtol:g} * |numeric|); max |difference| {biggest:.6g}; "
        f"{int((excess > 0).sum())} of {excess.size} entries out of tolerance",
    ]
    if detached:
        lines.append(f"  note: input {i} is not in the graph of output {k}, so its analytic "
                     f"gradient is 0; does f use a copy of it (Value(x.data), x.detach(), "
                     f"no_grad())?")
    if analytic.size <= _SHOWN:
        lines += [f"analytic Jacobian (rows: output elements, columns: input elements), shape "
                  f"{analytic.shape}:", _matrix(analytic), "numeric Jacobian:", _matrix(numeric)]
    else:
        lines.append(f"worst {_WORST} of the {analytic.shape} Jacobian entries "
                     f"(output element, input element): analytic vs numeric")
        for flat in np.argsort(excess, axis=None)[::-1][:_WORST]:
            jj, ee = (int(t) for t in np.unravel_index(int(flat), excess.shape))
            lines.append(f"  {_index(out_shape, jj)}, {_index(in_shape, ee)}: "
                         f"{float(analytic[jj, ee])!r} vs {float(numeric[jj, ee])!r}")
    raise GradcheckError("\n".join(lines))


def _check_fast(f: Callable[..., Any], inputs: tuple[Value, ...], outs: list[Value],
                eps: float, atol: float, rtol: float, rng: np.random.Generator) -> None:
    """Check u^T J v for one random u over the outputs and one random v per input."""
    us: list[Any] = [rng.standard_normal(o.shape) if o.shape else float(rng.standard_normal())
                     for o in outs]
    wrt = [x for x in inputs if x.requires_grad]
    live = [(out, u) for out, u in zip(outs, us) if out.requires_grad]
    if live:  # sum_k J_k^T u_k for every input, in one pass
        grads = autograd.grad([o for o, _ in live], wrt, [u for _, u in live], allow_unused=True)
    else:
        grads = tuple(Value(np.zeros_like(x.data) if x.shape else 0.0) for x in wrt)
    vjps = dict(zip(map(id, wrt), grads))
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        direction: Any = rng.standard_normal(x.shape) if x.shape else float(rng.standard_normal())
        analytic = float(np.sum(np.asarray(vjps[id(x)].data, dtype=np.float64) * direction))
        x0 = x.data
        x.data = x0 + eps * direction
        plus = _evaluate(f, inputs)
        x.data = x0 - eps * direction
        minus = _evaluate(f, inputs)
        x.data = x0
        numeric = float(sum(np.sum((p - m) / (2 * eps) * np.reshape(u, -1))
                            for p, m, u in zip(plus, minus, us)))
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck (fast) failed: Jacobian mismatch with respect to input {i} (shape "
                f"{x.shape}), all outputs and input elements combined (u^T J v with random u, "
                f"v): analytic {analytic!r}, numeric {numeric!r} (|difference| "
                f"{abs(analytic - numeric):.6g} > tolerance {atol + rtol * abs(numeric):.3g});"
                f" run with fast=False to see the output and input element")


def gradgradcheck(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check the second derivatives of ``f`` at ``inputs`` against central finite differences.

    The first-order gradient, as `autograd.grad` builds it with ``create_graph=True`` (for a
    tensor output, weighted by a fixed random vector over its elements, as PyTorch's
    gradgradcheck does), is itself checked with `gradcheck`: its reverse-mode gradient against
    finite differences of it. A mismatch raises `GradcheckError` naming the input and element.
    Like `gradcheck`, it changes no data and no ``.grad``, and takes PyTorch's form
    ``gradgradcheck(f, (x, y))`` too.
    """
    if not callable(f):
        raise TypeError(f"gradgradcheck: f must be a function of Values, got {type(f).__name__}")
    inputs = _inputs("gradgradcheck", inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradgradcheck: input {i} must be a Value, got {type(x).__name__}"
                            f" (wrap it: Value(...))")
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    rng = np.random.default_rng(seed)
    weights: dict[int, list[Any]] = {}

    def first_derivatives(*xs: Value) -> tuple[Value, ...]:
        with enable_grad():  # gradcheck evaluates this under no_grad for finite differences
            out = f(*xs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        for k, o in enumerate(outs):
            if not isinstance(o, Value):
                raise TypeError(f"gradgradcheck: f must return a Value (or a tuple of Values);"
                                f" output {k} is {type(o).__name__}")
        if not weights:  # drawn once, so every evaluation differentiates the same function
            weights[0] = [rng.standard_normal(o.shape) if o.shape else 1.0 for o in outs]
        live = [(o, w) for o, w in zip(outs, weights[0]) if o.requires_grad]
        if not live:
            return tuple(Value(np.zeros_like(xs[i].data) if xs[i].shape else 0.0)
                         for i in wrt)
        return autograd.grad([o for o, _ in live], [xs[i] for i in wrt], [w for _, w in live],
                             create_graph=True, allow_unused=True)

    return gradcheck(first_derivatives, *inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
