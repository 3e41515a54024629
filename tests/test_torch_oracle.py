"""Every primitive's first and second derivatives against PyTorch's, where PyTorch is installed.

For drawn inputs (the recipes of test_ops.py), both engines compute L = sum(out * u) for a random
u, its gradient g with respect to every input (with create_graph), and the gradient of
sum_i sum(g_i * v_i) for random v_i: a Hessian-vector product through each rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops import RECIPES  # tests/ is on sys.path (pytest rootdir)

import tinygrad_xor
from tinygrad_xor import Value, autograd
from tinygrad_xor.core.ops import PRIMITIVES

torch = pytest.importorskip("torch")


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _index(index, n):
    if isinstance(index, slice) and index.step is not None and index.step < 0:
        return torch.tensor(np.arange(n)[index].copy())  # torch slices only step forwards
    return torch.tensor(index) if isinstance(index, list) else index


TORCH = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "pow": lambda x, *, p: x ** p,
    "power": lambda a, b: a ** b,
    "matmul": lambda a, b: a @ b,
    "relu": lambda x: torch.relu(x),
    "sigmoid": lambda x: torch.sigmoid(x),
    "tanh": lambda x: torch.tanh(x),
    "exp": lambda x: torch.exp(x),
    "log": lambda x: torch.log(x),
    "abs": lambda x: torch.abs(x),
    "sqrt": lambda x: torch.sqrt(x),
    "sin": lambda x: torch.sin(x),
    "cos": lambda x: torch.cos(x),
    "clip": lambda x, *bounds, lo, hi: torch.clamp(x, *bounds) if bounds else torch.clamp(
        x, lo, hi),
    "maximum": lambda a, b: torch.maximum(a, b),
    "minimum": lambda a, b: torch.minimum(a, b),
    "where": lambda a, b, *, cond: torch.where(torch.tensor(cond), a, b),
    "sum": lambda x, *, axis, keepdims: (x.sum() if axis is None and not keepdims else
                                         x.sum(dim=_axis(axis), keepdim=keepdims)),
    "mean": lambda x, *, axis, keepdims: (x.mean() if axis is None and not keepdims else
                                          x.mean(dim=_axis(axis), keepdim=keepdims)),
    "max": lambda x, *, axis, keepdims: torch.amax(x, dim=() if axis is None else _axis(axis),
                                                   keepdim=keepdims),
    "reshape": lambda x, *, shape: x.reshape(shape),
    "transpose": lambda x, *, axes: x.permute(*(axes if axes is not None else
                                                range(x.ndim - 1, -1, -1))),
    "getitem": lambda x, *, index: x[_index(index, x.shape[0] if x.ndim else 0)],
    "concatenate": lambda *xs, axis: torch.cat(xs, dim=axis),
    "stack": lambda *xs, axis: torch.stack(xs, dim=axis),
    "broadcast_to": lambda x, *, shape: torch.broadcast_to(x, shape),
    # what rules read from the data: constants of the gradient, no gradient of their own
    # (plus 0 * each input: connected to them, with the zero gradient a mask has)
    "mask": lambda *xs, fn, **params: torch.as_tensor(
        np.asarray(fn(*[x.detach().numpy() for x in xs], **params), dtype=np.float64))
    + sum(0.0 * x for x in xs),
    "keep": lambda m, g: torch.where(m > 0.5, g, torch.zeros((), dtype=g.dtype)),
}


def test_every_primitive_but_scatter_has_a_torch_twin():
    # scatter is getitem's rule; its own derivatives are getitem's, checked there
    assert set(PRIMITIVES) - {"scatter"} == set(TORCH)


def _ours(f, inputs, u, vs):
    """The gradient of sum(f(*inputs) * u) and the gradient of sum_i sum(g_i * v_i)."""
    out = f(*inputs)
    loss = (out * u).sum()
    grads = autograd.grad(loss, inputs, create_graph=True, allow_unused=True)
    total = None
    for g, v in zip(grads, vs):
        term = (g * v).sum()
        total = term if total is None else total + term
    if not total.requires_grad:
        return [np.asarray(g.data) for g in grads], [np.zeros(x.shape) for x in inputs]
    second = autograd.grad(total, inputs, allow_unused=True)
    return [np.asarray(g.data) for g in grads], [np.asarray(h.data) for h in second]


def _torch(f, inputs, u, vs):
    """The same as `_ours` with PyTorch, for a function of tensors ``f``."""
    xs = [torch.tensor(np.asarray(x.data), dtype=torch.float64, requires_grad=True)
          for x in inputs]
    out = f(*xs)
    loss = (out * torch.tensor(u)).sum()
    grads = torch.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]
    total = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vs))
    if not total.requires_grad:
        return [g.detach().numpy() for g in grads], [np.zeros(x.shape) for x in inputs]
    second = torch.autograd.grad(total, xs, allow_unused=True)
    return ([g.detach().numpy() for g in grads],
            [np.zeros(x.shape) if h is None else h.numpy(force=True) for x, h in zip(xs, second)])


def _agree(ours, theirs, what):
    for order, (a_list, b_list) in enumerate(zip(ours, theirs), start=1):
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{what}: order {order}, input {i}")


@pytest.mark.parametrize("name", sorted(TORCH))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_first_and_second_derivatives_agree_with_pytorch(name, data):
    inputs, params = data.draw(RECIPES[name], label="inputs")
    out = PRIMITIVES[name](*inputs, **params)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    u = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(x.shape) for x in inputs]
    ours = _ours(lambda *xs: PRIMITIVES[name](*xs, **params), inputs, u, vs)
    theirs = _torch(lambda *xs: TORCH[name](*xs, **params), inputs, u, vs)
    _agree(ours, theirs, name)


# -- the edges where a rule has to choose: PyTorch's choice, at first and second order -------

NAN, INF = float("nan"), float("inf")


def _edge(f_ours, f_torch, *data, seed=0):
    """Values, gradients and second derivatives of ``f_ours`` equal PyTorch's of ``f_torch``
    at ``data`` (NaN where PyTorch's are NaN)."""
    inputs = [Value(np.asarray(d, dtype=np.float64)) for d in data]
    with np.errstate(all="ignore"):
        out = f_ours(*inputs)
        rng = np.random.default_rng(seed)
        u = rng.standard_normal(out.shape)
        vs = [rng.standard_normal(x.shape) for x in inputs]
        ours = _ours(f_ours, inputs, u, vs)
    tensors = [torch.tensor(np.asarray(d, dtype=np.float64)) for d in data]
    np.testing.assert_allclose(out.data, f_torch(*tensors).numpy(), rtol=1e-12)
    _agree(ours, _torch(f_torch, inputs, u, vs), "edge")


def test_a_negative_or_zero_base_with_a_value_exponent_is_pytorchs():
    a = [-2.0, -3.0, -2.0, 0.0, 0.0, 0.0, 0.0, 2.0, -1.5]
    b = [2.0, 2.0, 3.0, 0.0, 1.0, -1.0, 2.0, 0.5, 0.5]
    _edge(lambda a, b: a ** b, lambda a, b: a ** b, a, b)
    _edge(lambda b: (-2.0) ** b, lambda b: (-2.0) ** b, [2.0, 3.0])  # 4, -8; d/db NaN
    _edge(lambda b: 0.0 ** b, lambda b: 0.0 ** b, [0.0, 1.0, -1.0, 2.0])
    _edge(lambda a, b: a ** b, lambda a, b: a ** b, [-2.0, -3.0], [2.0, 2.0])
    _edge(lambda a, b: a ** b, lambda a, b: a ** b, -2.0, [1.0, 2.0, 3.0])  # broadcast base


@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_and_minimum_at_nan_and_ties_are_pytorchs_in_either_order(which):
    ours, theirs = getattr(tinygrad_xor, which), getattr(torch, which)
    a = [NAN, 1.0, NAN, 1.0, 2.0, INF, -INF, 0.0]
    b = [1.0, NAN, NAN, 1.0, 1.0, INF, -INF, -0.0]
    for x, y in ((a, b), (b, a)):
        _edge(ours, theirs, x, y)
        _edge(lambda x, y: ours(x * x, y * y), lambda x, y: theirs(x * x, y * y), x, y)
        _edge(lambda x: ours(x, 1.0), lambda x: theirs(x, torch.tensor(1.0)), x)


def test_clip_with_value_bounds_is_pytorchs_clamp_with_tensor_bounds():
    # below, at and above each bound, NaN, and lo == hi
    x = [-3.0, -1.0, 0.0, 1.0, 2.0, NAN, 0.5, 0.5, 2.0]
    lo = [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 0.5, 0.0]
    hi = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.5]
    _edge(lambda x, lo, hi: x.clip(lo, hi), torch.clamp, x, lo, hi)
    _edge(lambda x, lo, hi: x.clip(lo, hi) ** 2, lambda x, lo, hi: torch.clamp(x, lo, hi) ** 2,
          x, lo, hi)
    _edge(lambda x, lo: x.clip(lo) * x, lambda x, lo: torch.clamp(x, min=lo) * x, x, lo)
    _edge(lambda x, hi: x.clip(None, hi) * x, lambda x, hi: torch.clamp(x, max=hi) * x, x, hi)
    _edge(lambda x, lo: x.clip(lo, 1.0) * lo, lambda x, lo: torch.clamp(
        x, lo, torch.tensor(1.0)) * lo, x, 0.25)  # a scalar Value bound, broadcast


@pytest.mark.parametrize("method, axis", [("sum", 0), ("sum", -1), ("sum", (0,)), ("mean", 0),
                                          ("mean", -1), ("max", 0), ("max", -1)])
def test_a_value_of_shape_nothing_takes_axis_0_and_minus_1_as_pytorch(method, axis):
    twin = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}[method]
    for keep in (False, True):
        _edge(lambda x, keep=keep: getattr(x, method)(axis, keepdims=keep) ** 3,
              lambda x, keep=keep: twin(x, axis, keepdim=keep) ** 3, 1.5)


def test_a_value_of_shape_nothing_takes_new_axes_as_pytorch():
    _edge(lambda x: x[None] ** 2 * np.array([1.0, 2.0]),
          lambda x: x[None] ** 2 * torch.tensor([1.0, 2.0], dtype=torch.float64), 1.5)
    _edge(lambda x: x[None, None, ...] ** 3, lambda x: x[None, None, ...] ** 3, -0.5)
