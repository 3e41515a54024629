"""PyTorch's and JAX's call forms: backward(retain_graph=, create_graph=),
autograd.grad(retain_graph=), has_aux, vjp, float(Value), np.asarray(Value), grad-mode blocks
as decorators; against torch.func where PyTorch is installed."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_xor import (
    Value,
    autograd,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    value_and_grad,
    vjp,
)


def test_backward_takes_torchs_keywords():
    x = Value(2.0)
    y = x ** 3
    y.backward(retain_graph=True)
    y.backward(gradient=None, retain_graph=False)  # the graph is always kept: adds again
    assert x.grad == 24.0
    with pytest.raises(ValueError, match="autograd.grad"):
        y.backward(create_graph=True)
    with pytest.raises(TypeError, match="retain_graph"):
        y.backward(retain_graph="yes")
    (g,) = autograd.grad(y, x, retain_graph=True)
    assert g.data == 12.0
    with pytest.raises(TypeError, match="retain_graph"):
        autograd.grad(y, x, retain_graph=1)


def test_has_aux():
    f = lambda x: ((x ** 2).sum(), {"double": x * 2.0, "n": 3})  # noqa: E731
    g, aux = grad(f, has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [2.0, 4.0])
    np.testing.assert_array_equal(aux["double"], [2.0, 4.0])
    assert aux["n"] == 3
    (value, aux), g = value_and_grad(f, has_aux=True)(np.array([1.0, 2.0]))
    assert value == 5.0 and isinstance(aux["double"], np.ndarray)
    with pytest.raises(TypeError, match="grad: with has_aux=True, f must return a pair"):
        grad(lambda x: x * 2.0, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="has_aux must be True or False"):
        grad(lambda x: x, has_aux="yes")
    w = Value(3.0)  # aux connected to a parameter stays a Value
    g, aux = grad(lambda x: (x * w, x * w), has_aux=True)(2.0)
    assert isinstance(aux, Value) and aux.requires_grad


def test_vjp():
    out, f = vjp(lambda x, y: x * y, np.array([1.0, 2.0]), 3.0)
    np.testing.assert_array_equal(out, [3.0, 6.0])
    gx, gy = f(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(gx, [3.0, 3.0])
    assert gy == 3.0
    gx, gy = f(np.array([2.0, 0.0]))  # called again on the same graph
    np.testing.assert_array_equal(gx, [6.0, 0.0])
    assert gy == 2.0
    with pytest.raises(ValueError, match="vjp: the cotangent"):
        f(np.ones(3))
    with pytest.raises(ValueError, match="vjp: no primals"):
        vjp(lambda: Value(1.0))


def test_against_torch_func():
    torch = pytest.importorskip("torch")
    t = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    x = t.numpy().copy()
    tg, taux = torch.func.grad(lambda x: ((x.sin() * x).sum(), x.cos()), has_aux=True)(t)
    g, aux = grad(lambda x: ((x.sin() * x).sum(), x.cos()), has_aux=True)(x)
    np.testing.assert_allclose(g, tg.numpy(), rtol=1e-14)
    np.testing.assert_allclose(aux, taux.numpy(), rtol=1e-14)
    u = np.array([1.0, -2.0, 0.5])
    tout, tfn = torch.func.vjp(lambda x: x.tanh() * x, t)
    out, fn = vjp(lambda x: x.tanh() * x, x)
    np.testing.assert_allclose(out, tout.numpy(), rtol=1e-14)
    np.testing.assert_allclose(fn(u)[0], tfn(torch.tensor(u))[0].numpy(), rtol=1e-14)


def test_float_and_asarray():
    v = Value(np.array([2.5]))
    assert float(v) == 2.5 and float(Value(1.5)) == 1.5
    with pytest.raises(ValueError, match="one element"):
        float(Value(np.ones(2)))
    with pytest.raises(TypeError, match="use v.data"):
        np.asarray(v)
    np.testing.assert_array_equal(np.asarray(v.detach()), [2.5])
    a = Value(np.array([1.0, 2.0]), requires_grad=False)
    assert np.asarray(a, dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="stack"):
        Value([Value(1.0), Value(2.0)])


def test_grad_mode_blocks_as_decorators():
    @no_grad()
    def off():
        return is_grad_enabled()

    @enable_grad()
    def on():
        return is_grad_enabled()

    assert off() is False and is_grad_enabled()
    with no_grad():
        assert on() is True and not is_grad_enabled()
