"""tinygrad_xor.optim: PyTorch's SGD and Adam rules, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_xor import Value, optim


def test_sgd_plain():
    p = Value(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([0.5, -1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, -1.9])


def test_sgd_momentum_pytorch_rule():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    expected, v = 1.0, None
    for g in [1.0, 2.0, -1.0]:
        p.grad = g
        opt.step()
        v = g if v is None else 0.9 * v + g       # torch: buf = g on the first step
        expected -= 0.1 * v
        assert type(p.data) is float
        assert p.data == pytest.approx(expected, abs=1e-15)


def test_adam_pytorch_rule():
    p = Value(np.array([0.5]))
    opt = optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    m = v = 0.0
    x = 0.5
    for t, g in enumerate([0.3, -0.1, 0.7, 0.2], start=1):
        p.grad = np.array([g])
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x -= 0.01 / (1 - 0.9 ** t) * m / (math.sqrt(v) / math.sqrt(1 - 0.999 ** t) + 1e-8)
        assert p.data[0] == pytest.approx(x, abs=1e-14)
    # Adam's first step moves every coordinate by about lr, whatever the gradient's size
    q = Value(np.array([0.0, 0.0]))
    o = optim.Adam([q], lr=0.01)
    q.grad = np.array([1e-3, 1e3])
    o.step()
    np.testing.assert_allclose(q.data, [-0.01, -0.01], rtol=1e-4)


def test_zero_grad():
    p = Value(np.ones(2))
    p.grad = np.ones(2)
    optim.SGD([p]).zero_grad()
    np.testing.assert_array_equal(p.grad, 0)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_bad_learning_rate(cls, lr):
    with pytest.raises(ValueError, match="learning rate"):
        cls([Value(1.0)], lr=lr)


def test_lr_checked_at_step_too():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1)
    opt.lr = -1.0
    p.grad = 1.0
    with pytest.raises(ValueError, match="learning rate"):
        opt.step()
    assert p.data == 1.0


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([Value(1.0)], momentum=-0.5)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([Value(1.0)], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    with pytest.raises(TypeError, match="Values"):
        optim.SGD([np.ones(2)])  # type: ignore[list-item]
