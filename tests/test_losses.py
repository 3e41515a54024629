"""tinygrad_xor.losses: values, gradients, stability at 0 and 1."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_xor import Value, gradcheck, losses


def test_mse_value_and_grad():
    p = Value(np.array([[0.2], [0.7], [1.0]]))
    L = losses.mse(p, [0, 1, 1])  # a (3,) target is reshaped, not broadcast to (3, 3)
    assert L.item() == pytest.approx((0.04 + 0.09 + 0.0) / 3)
    L.backward()
    np.testing.assert_allclose(p.grad, 2 * (p.data - [[0], [1], [1]]) / 3)


def test_bce_value():
    p = np.array([0.1, 0.8, 0.6])
    t = np.array([0.0, 1.0, 1.0])
    expected = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert losses.binary_cross_entropy(Value(p), t).item() == pytest.approx(expected, rel=1e-12)


def test_bce_finite_at_exact_zero_and_one():
    p = Value(np.array([0.0, 1.0, 0.0, 1.0]))
    L = losses.binary_cross_entropy(p, [0, 1, 1, 0])
    assert np.isfinite(L.item())
    assert L.item() == pytest.approx(100.0 / 2)   # two wrong predictions cost 100 each
    L.backward()
    assert np.all(np.isfinite(p.grad))
    perfect = losses.bce(Value(np.array([0.0, 1.0])), [0, 1])
    assert perfect.item() == 0.0


def test_gradients_match_finite_differences():
    p = Value(np.array([0.2, 0.9, 0.5]))
    t = np.array([0.0, 1.0, 0.3])
    assert gradcheck(lambda q: losses.binary_cross_entropy(q, t), p)
    assert gradcheck(lambda q: losses.mse(q, t), p)


def test_list_of_scalar_values():
    ps = [Value(0.25), Value(0.5)]
    L = losses.mse(ps, [0, 1])
    assert L.item() == pytest.approx((0.0625 + 0.25) / 2)
    L.backward()
    assert ps[0].grad == pytest.approx(0.25) and ps[1].grad == pytest.approx(-0.5)
    B = losses.binary_cross_entropy([Value(0.25), Value(0.5)], [0, 1])
    tensor = losses.binary_cross_entropy(Value(np.array([0.25, 0.5])), [0, 1])
    assert B.item() == pytest.approx(tensor.item(), rel=1e-14)


def test_reductions_and_errors():
    p = Value(np.array([1.0, 3.0]))
    assert losses.mse(p, [0, 0], reduction="sum").item() == 10.0
    np.testing.assert_array_equal(losses.mse(p, [0, 0], reduction="none").data, [1.0, 9.0])
    with pytest.raises(ValueError, match="different sizes"):
        losses.mse(p, [0, 0, 0])
    with pytest.raises(ValueError, match="reduction"):
        losses.mse(p, [0, 0], reduction="max")
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_loss("hinge")


def test_bce_gradient_at_a_prediction_of_exactly_0_or_1_points_the_right_way():
    # PyTorch: (p - t) / max(p (1 - p), 1e-12); here 1 / max(p, e^-100) for each log: both huge,
    # with the sign that moves the prediction towards the target
    p = Value(np.array([0.0, 1.0, 0.0]))
    loss = losses.binary_cross_entropy(p, np.array([1.0, 0.0, 0.3]))
    assert loss.data == pytest.approx(200.0 / 3 + 30.0 / 3)
    loss.backward()
    assert p.grad[0] < -1e11 and p.grad[1] > 1e11 and p.grad[2] < -1e11
    assert np.all(np.isfinite(p.grad))
