"""tinygrad_xor.xor: the data and Goodfellow's exact weights."""

from __future__ import annotations

import numpy as np

from tinygrad_xor import losses, nn
from tinygrad_xor.xor import X, Y, goodfellow_model, solved


def test_data():
    np.testing.assert_array_equal(X, [[0, 0], [1, 0], [0, 1], [1, 1]])
    np.testing.assert_array_equal(Y, [[0], [1], [1], [0]])
    assert X.dtype == np.float64 and X.shape == (4, 2) and Y.shape == (4, 1)
    assert not X.flags.writeable


def test_goodfellow_is_exact():
    model = goodfellow_model()
    assert isinstance(model, nn.Sequential)
    assert [type(layer) for layer in model.layers] == [nn.Linear, nn.ReLU, nn.Linear]
    out = model(X)
    assert out.data.ravel().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert losses.mse(out, Y).item() == 0.0
    state = model.state_dict()
    np.testing.assert_array_equal(state["layers.0.weight"], [[1, 1], [1, 1]])
    np.testing.assert_array_equal(state["layers.0.bias"], [0, -1])
    np.testing.assert_array_equal(state["layers.2.weight"], [[1], [-2]])
    np.testing.assert_array_equal(state["layers.2.bias"], [0])
    # the hidden layer is the blog's a(1) = ReLU(X W1 + b1)
    hidden = model.layers[1](model.layers[0](X))
    np.testing.assert_array_equal(hidden.data, [[0, 0], [1, 0], [1, 0], [2, 1]])


def test_solved():
    assert solved(np.array([0.1, 0.9, 0.6, 0.4]))
    assert not solved(np.array([0.1, 0.9, 0.6, 0.6]))
    assert not solved(np.array([0.1, 0.9, 0.6]))
