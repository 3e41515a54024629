"""The XOR data and Goodfellow et al.'s exact solution."""

from __future__ import annotations

import numpy as np

from .nn import Linear, ReLU, Sequential

__all__ = ["X", "Y", "goodfellow_model", "solved"]

#: The four inputs, rows [0,0] [1,0] [0,1] [1,1] (read-only).
X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
#: The targets, shape (4, 1): 0 1 1 0 (read-only).
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
X.flags.writeable = False
Y.flags.writeable = False


def goodfellow_model() -> Sequential:
    """Linear(2, 2), ReLU, Linear(2, 1) with Goodfellow et al.'s exact XOR weights."""
    model = Sequential(Linear(2, 2, rng=0), ReLU(), Linear(2, 1, rng=0))
    model.load_state_dict({
        "layers.0.weight": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "layers.0.bias": np.array([0.0, -1.0]),
        "layers.2.weight": np.array([[1.0], [-2.0]]),
        "layers.2.bias": np.array([0.0]),
    })
    return model


def solved(pred: np.ndarray) -> bool:
    """True when the outputs for X, thresholded at 0.5, are 0 1 1 0."""
    out = np.asarray(pred, dtype=np.float64).reshape(-1)
    return out.shape == (4,) and bool(np.array_equal(out > 0.5, Y.reshape(-1) > 0.5))
