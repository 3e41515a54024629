"""The XOR study: the data and Goodfellow et al.'s exact solution.

The study stands on the library and the library never imports it. Beside this module:
`blog` (the post's algorithm), `blogcheck` (its gradients against autograd), `recipes`
(training recipes), `sweep` (many seeds at once), `draw` (the XOR pictures) and `demo`.
"""

from __future__ import annotations

import numpy as np

from ..nn import Linear, ReLU, Sequential

__all__ = ["X", "Y", "GOODFELLOW", "goodfellow_model", "solved"]

#: The four inputs, rows [0,0] [1,0] [0,1] [1,1] (read-only).
X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
#: The targets, shape (4, 1): 0 1 1 0 (read-only).
Y = np.array([[0.0], [1.0], [1.0], [0.0]])

#: Goodfellow et al.'s weights, keyed like goodfellow_model()'s state_dict (read-only).
GOODFELLOW = {
    "layers.0.weight": np.array([[1.0, 1.0], [1.0, 1.0]]),
    "layers.0.bias": np.array([0.0, -1.0]),
    "layers.2.weight": np.array([[1.0], [-2.0]]),
    "layers.2.bias": np.array([0.0]),
}
for _array in (X, Y, *GOODFELLOW.values()):
    _array.flags.writeable = False


def goodfellow_model() -> Sequential:
    """Linear(2, 2), ReLU, Linear(2, 1) with Goodfellow et al.'s exact XOR weights."""
    model = Sequential(Linear(2, 2, rng=0), ReLU(), Linear(2, 1, rng=0))
    model.load_state_dict(GOODFELLOW)
    return model


def solved(pred: np.ndarray) -> bool:
    """True when the outputs for X, thresholded at 0.5, are 0 1 1 0."""
    out = np.asarray(pred, dtype=np.float64).reshape(-1)
    return out.shape == (4,) and bool(np.array_equal(out > 0.5, Y.reshape(-1) > 0.5))
