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
from test_ops import RECIPES  # noqa: E402  (tests/ is on sys.path: rootdir conftest)

from tinygrad_xor import autograd
from tinygrad_xor.ops import PRIMITIVES

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
    "clip": lambda x, *, lo, hi: torch.clamp(x, lo, hi),
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
    "getitem": lambda x, *, index: x[_index(index, x.shape[0])],
    "concatenate": lambda *xs, axis: torch.cat(xs, dim=axis),
    "stack": lambda *xs, axis: torch.stack(xs, dim=axis),
    "broadcast_to": lambda x, *, shape: torch.broadcast_to(x, shape),
}


def test_every_primitive_but_scatter_has_a_torch_twin():
    # scatter is getitem's rule; its own derivatives are getitem's, checked there
    assert set(PRIMITIVES) - {"scatter"} == set(TORCH)


def _ours(name, inputs, params, u, vs):
    out = PRIMITIVES[name](*inputs, **params)
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


def _torch(name, inputs, params, u, vs):
    xs = [torch.tensor(np.asarray(x.data), dtype=torch.float64, requires_grad=True)
          for x in inputs]
    out = TORCH[name](*xs, **params)
    loss = (out * torch.tensor(u)).sum()
    grads = torch.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]
    total = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vs))
    if not total.requires_grad:
        return [g.detach().numpy() for g in grads], [np.zeros(x.shape) for x in inputs]
    second = torch.autograd.grad(total, xs, allow_unused=True)
    return ([g.detach().numpy() for g in grads],
            [np.zeros(x.shape) if h is None else h.numpy(force=True) for x, h in zip(xs, second)])


@pytest.mark.parametrize("name", sorted(TORCH))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_first_and_second_derivatives_agree_with_pytorch(name, data):
    inputs, params = data.draw(RECIPES[name], label="inputs")
    out = PRIMITIVES[name](*inputs, **params)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    u = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(x.shape) for x in inputs]
    ours, theirs = _ours(name, inputs, params, u, vs), _torch(name, inputs, params, u, vs)
    for order, (a_list, b_list) in enumerate(zip(ours, theirs), start=1):
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name}: order {order}, input {i}")
