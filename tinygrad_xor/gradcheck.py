"""Compare reverse-mode gradients with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import autograd
from .core import checks as _checks
from .core.mode import enable_grad
from .core.value import Value, walk

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


def _arguments(where: str, f: Any, inputs: tuple[Any, ...]) -> tuple[Value, ...]:
    """The inputs, after checking that f is callable, that they are Values and one requires
    grad."""
    if not callable(f):
        raise TypeError(f"{where}: f must be a function of Values, got {type(f).__name__}")
    inputs = _inputs(where, inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"{where}: input {i} must be a Value, got {type(x).__name__}"
                            f" (wrap it: Value(...))")
    if not any(x.requires_grad for x in inputs):
        raise ValueError(f"{where}: no input requires grad, so there is nothing to check")
    return inputs


def _options(where: str, eps: Any, atol: Any, rtol: Any, seed: Any,
             raise_exception: Any) -> tuple[float, float, float, int, bool]:
    """The options shared by gradcheck and gradgradcheck, checked (TypeError, ValueError)."""
    eps = _checks.number(where, "eps", eps, low=0.0, low_open=True)
    atol = _checks.number(where, "atol", atol, low=0.0)
    rtol = _checks.number(where, "rtol", rtol, low=0.0)
    if atol == 0.0 and rtol == 0.0:
        raise ValueError(f"{where}: atol and rtol are both 0, so no finite difference could "
                         f"ever agree; give a tolerance > 0")
    seed = _checks.integer(where, "seed", seed, minimum=0)
    raise_exception = _checks.boolean(where, "raise_exception", raise_exception)
    return eps, atol, rtol, seed, raise_exception


@contextmanager
def _float64(inputs: tuple[Value, ...]) -> Iterator[None]:
    """Inside, the inputs hold float64 copies of their data; afterwards their own data again."""
    saved = [x.data for x in inputs]
    try:
        for x in inputs:
            if type(x.data) is not float:
                x.data = np.array(x.data, dtype=np.float64)
        yield
    finally:
        for x, data in zip(inputs, saved):
            x.data = data


def _upstream(rng: np.random.Generator, shape: tuple[int, ...]) -> Any:
    """A random upstream gradient of an output's shape (a float for a scalar output).

    Its entries are 1.5 to 3 in size, of random sign: far from 0 and 1, where a vjp that is not
    linear in its upstream gradient (``g * g * cos(x)`` for sin) agrees with a linear one.
    """
    u = rng.uniform(1.5, 3.0, shape) * rng.choice((-1.0, 1.0), shape)
    return u if shape else float(u)


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-4, fast: bool = False, seed: int = 0,
              raise_exception: bool = True, fast_mode: bool | None = None) -> bool:
    """Check the gradients of ``f`` at ``inputs`` against central finite differences.

    Args:
        f: takes the input Values and returns a Value (scalar or tensor), or a tuple or list
            of Values (several outputs, numbered from 0). It runs with grad mode on (also
            when gradcheck is called under `no_grad`), so it may differentiate inside, with
            `autograd.grad` and ``create_graph=True``.
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
        seed: seeds the random vectors: the fast mode's, and the random upstream gradient of
            the full check.
        raise_exception: when False, return False instead of raising `GradcheckError`.
        fast_mode: PyTorch's name for ``fast``; give one or the other (or both, equal).

    The full check builds each Jacobian row by row with unit upstream gradients (one backward
    per output element), then runs one more backward per output with a random upstream
    gradient ``u`` (a random factor for a scalar output) and compares its result with
    ``u^T J`` from the finite differences: a vjp that is not linear in its upstream gradient
    can be right for every unit one, and is caught there.

    Returns:
        True when every entry agrees.

    Raises:
        GradcheckError: naming the output and input (0-based positions), the output and input
            elements, the analytic and the numeric value and the largest difference, with both
            Jacobians (or their worst entries when large); or saying that a vjp is not linear
            in its upstream gradient. Also when ``f`` returns NaN or inf.
        TypeError: when ``f`` is not callable, an input is not a Value, ``f`` does not
            return Values, or an option has the wrong type (a str for ``eps``, ...).
        ValueError: when no input requires grad (nothing would be checked), or ``eps`` is not
            a finite number > 0, ``atol`` or ``rtol`` not a finite number >= 0 (both 0 is
            refused), or ``seed`` is negative.

    The data and grads of the inputs, and of every Value ``f`` uses, are left as they were.
    """
    inputs = _arguments("gradcheck", f, inputs)
    eps, atol, rtol, seed, raise_exception = _options("gradcheck", eps, atol, rtol, seed,
                                                      raise_exception)
    fast = _checks.boolean("gradcheck", "fast", fast)
    if fast_mode is not None:
        fast_mode = _checks.boolean("gradcheck", "fast_mode", fast_mode)
        if fast and not fast_mode:
            raise ValueError("gradcheck: fast=True and fast_mode=False disagree; fast_mode is "
                             "PyTorch's name for fast, give one of them")
        fast = fast_mode
    rng = np.random.default_rng(seed)
    try:
        with _float64(inputs):
            outs = _outputs("gradcheck", f, inputs)
            _finite("gradcheck", outs)
            if fast:
                _check_fast(f, inputs, outs, eps, atol, rtol, rng)
            else:
                _check_full(f, inputs, outs, eps, atol, rtol, rng)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _outputs(where: str, f: Callable[..., Any], inputs: tuple[Value, ...]) -> list[Value]:
    """f's outputs as a list of Values (one Value, or a tuple/list of them).

    f runs with grad mode on, for the finite differences too: a function that differentiates
    inside (`autograd.grad` with ``create_graph=True``) needs the graph of its own operations.
    """
    with enable_grad():
        out = f(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for k, o in enumerate(outs):
        if not isinstance(o, Value):
            which = "" if len(outs) == 1 and not isinstance(out, (tuple, list)) else f" {k}"
            raise TypeError(f"{where}: f must return a Value (or a tuple of Values); output"
                            f"{which} is {type(o).__name__} {o!r:.60}")
    return outs


def _finite(where: str, outs: list[Value]) -> None:
    for k, out in enumerate(outs):
        if not np.all(np.isfinite(np.asarray(out.data))):
            raise GradcheckError(f"{where}: output {k} of f has non-finite entries at the"
                                 f" given inputs, so no gradient can be checked: {out!r}")


def _check_full(f: Callable[..., Any], inputs: tuple[Value, ...], outs: list[Value],
                eps: float, atol: float, rtol: float, rng: np.random.Generator) -> None:
    """Every Jacobian entry, then one vjp per output with a random upstream gradient."""
    analytic = _analytic_jacobians(outs, inputs)
    us = [_upstream(rng, out.shape) for out in outs]
    random_vjps = [_vjps(out, inputs, u) for out, u in zip(outs, us)]
    graphs = [_graph_ids(out) for out in outs]
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        numeric = _numeric_jacobians(f, inputs, i, eps, [o.size for o in outs])
        for k, out in enumerate(outs):
            _compare(analytic[k][i], numeric[k], k, i, out.shape, x.shape, atol, rtol,
                     detached=id(x) not in graphs[k])
        for k in range(len(outs)):
            _compare_vjp(f"gradcheck failed: the vjp of output {k} with respect to input {i} "
                         f"is not linear in its upstream gradient: it agrees with the finite "
                         f"differences for every unit upstream gradient, but its result for a "
                         f"random upstream gradient u disagrees with u^T J",
                         random_vjps[k][i], [(us[k], numeric[k])], x.shape, atol, rtol)


def _graph_ids(root: Value) -> set[int]:
    """ids of the Values in the graph that ends in root (to tell a cut graph in the report)."""
    return {id(v) for v in walk(root)}


def _vjps(out: Value, inputs: tuple[Value, ...], u: Any) -> list[np.ndarray]:
    """``J^T u`` for every input, flat (zeros for one that requires no grad): one reverse pass
    (`autograd.grad`, which changes no ``.grad``)."""
    result = [np.zeros(x.size) for x in inputs]
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]
    if out.requires_grad:  # else f's output does not depend on any input that requires grad
        grads = autograd.grad(out, [inputs[i] for i in wrt], u, allow_unused=True)
        for i, g in zip(wrt, grads):
            result[i] = np.asarray(g.data, dtype=np.float64).reshape(-1)
    return result


def _analytic_jacobians(outs: list[Value], inputs: tuple[Value, ...]) -> list[list[np.ndarray]]:
    """jac[k][i]: rows are elements of output k, columns elements of input i.

    One reverse pass with a unit upstream gradient per output element fills the rows of every
    input at once.
    """
    jac = [[np.zeros((out.size, x.size)) for x in inputs] for out in outs]
    for k, out in enumerate(outs):
        for j in range(out.size if out.requires_grad else 0):
            unit = np.zeros(out.size)
            unit[j] = 1.0
            rows = _vjps(out, inputs, unit.reshape(out.shape) if out.shape else 1.0)
            for i, row in enumerate(rows):
                jac[k][i][j] = row
    return jac


def _evaluate(f: Callable[..., Any], inputs: tuple[Value, ...]) -> list[np.ndarray]:
    return [np.array(o.data, dtype=np.float64).reshape(-1)
            for o in _outputs("gradcheck", f, inputs)]


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


def _compare_vjp(headline: str, vjp: np.ndarray, terms: list[tuple[Any, np.ndarray]],
                 in_shape: tuple[int, ...], atol: float, rtol: float) -> None:
    """A vjp with random upstream gradients against ``sum_k u_k^T J_k`` from finite differences.

    ``terms`` pairs each upstream gradient ``u_k`` with its numeric Jacobian ``J_k``. The
    tolerance of an entry is that of the Jacobian entries it sums, weighted by ``|u_k|``: a
    linear vjp whose Jacobian passed `_compare` passes here too.
    """
    expected, tolerance = np.zeros(vjp.size), np.zeros(vjp.size)
    for u, jac in terms:
        weights = np.reshape(u, -1)
        expected += weights @ jac
        tolerance += np.abs(weights) @ (atol + rtol * np.abs(jac))
    with np.errstate(invalid="ignore"):
        excess = np.abs(vjp - expected) - tolerance
    excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side is a failure
    if excess.size == 0 or excess.max() <= 0:
        return
    e = int(np.argmax(excess))
    a, n = float(vjp[e]), float(expected[e])
    lines = [
        headline,
        f"  worst at input element {_index(in_shape, e)} (input shape {in_shape}): "
        f"vjp(u) {a!r}, u^T J (numeric) {n!r}",
        f"  |difference| {abs(a - n):.6g} > tolerance {float(tolerance[e]):.3g} (atol + rtol * "
        f"|numeric| of the Jacobian entries, weighted by |u|); {int((excess > 0).sum())} of "
        f"{excess.size} entries out of tolerance",
    ]
    if vjp.size <= _SHOWN:
        lines += ["vjp(u):", _matrix(vjp), "u^T J (numeric):", _matrix(expected)]
    for k, (u, _) in enumerate(terms):
        if np.size(u) <= _SHOWN:
            lines += [f"u{f' for output {k}' if len(terms) > 1 else ''}:", _matrix(np.asarray(u))]
    raise GradcheckError("\n".join(lines))


def _check_fast(f: Callable[..., Any], inputs: tuple[Value, ...], outs: list[Value],
                eps: float, atol: float, rtol: float, rng: np.random.Generator) -> None:
    """Check u^T J v for one random u over the outputs and one random v per input."""
    us = [_upstream(rng, o.shape) for o in outs]
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

    The first-order gradient, as `autograd.grad` builds it with ``create_graph=True``, weighted
    by a fixed random upstream gradient (a random vector over a tensor output's elements, as
    PyTorch's gradgradcheck does, a random factor for a scalar output), is itself checked with
    `gradcheck`: its reverse-mode gradient against finite differences of it. Before that, this
    first-order gradient is compared with the same weighting of finite differences of ``f``,
    which catches a vjp that is not linear in its upstream gradient (right for 1, wrong for
    others), and a wrong first derivative. A mismatch raises `GradcheckError` naming the input
    and element. The options are gradcheck's, checked the same way (TypeError, ValueError).
    Like `gradcheck`, it changes no data and no ``.grad``, and takes PyTorch's form
    ``gradgradcheck(f, (x, y))`` too.
    """
    inputs = _arguments("gradgradcheck", f, inputs)
    eps, atol, rtol, seed, raise_exception = _options("gradgradcheck", eps, atol, rtol, seed,
                                                      raise_exception)
    rng = np.random.default_rng(seed)
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]
    weights: list[Any] = []

    def first_derivatives(*xs: Value) -> tuple[Value, ...]:
        outs = _outputs("gradgradcheck", f, xs)
        if not weights:  # drawn once, so every evaluation differentiates the same function
            weights.extend(_upstream(rng, o.shape) for o in outs)
        live = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
        if not live:
            return tuple(Value(np.zeros_like(xs[i].data) if xs[i].shape else 0.0)
                         for i in wrt)
        return autograd.grad([o for o, _ in live], [xs[i] for i in wrt], [w for _, w in live],
                             create_graph=True, allow_unused=True)

    try:
        with _float64(inputs):
            _check_first_derivatives(f, first_derivatives, inputs, weights, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return gradcheck(first_derivatives, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception)


def _check_first_derivatives(f: Callable[..., Any], first_derivatives: Callable[..., Any],
                             inputs: tuple[Value, ...], weights: list[Any], eps: float,
                             atol: float, rtol: float) -> None:
    """gradgradcheck's first step: the first derivatives it goes on to differentiate, against
    finite differences of f weighted the same way (two forwards per input element)."""
    _finite("gradgradcheck", _outputs("gradgradcheck", f, inputs))
    grads = iter(_outputs("gradgradcheck", first_derivatives, inputs))  # draws the weights
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        g = next(grads)
        vjp = np.asarray(g.data, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(vjp)):
            raise GradcheckError(f"gradgradcheck: the first derivative of f with respect to "
                                 f"input {i} has non-finite entries at the given inputs, so no "
                                 f"second derivative can be checked: {g!r}")
        numeric = _numeric_jacobians(f, inputs, i, eps, [int(np.size(w)) for w in weights])
        _compare_vjp(f"gradgradcheck failed: the first derivative of f with respect to input "
                     f"{i}, with the random upstream gradients u the check differentiates it "
                     f"with, disagrees with u^T J from finite differences of f: a vjp is not "
                     f"linear in its upstream gradient, or the first derivative is wrong "
                     f"(gradcheck(f, ...) names the entry)",
                     vjp, list(zip(weights, numeric)), x.shape, atol, rtol)
