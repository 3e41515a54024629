"""The seed blog's hand-derived backpropagation, in the blog's own layout.

Layout (as in the post): ``W[l]`` has shape ``(n_l, n_{l-1})``, ``b[l]`` shape ``(n_l, 1)``,
index 0 is unused, every layer is a sigmoid, activations are column vectors, and the loss
whose derivative the post uses (``cost_grad = a - y``) is L = ½·Σ(a − y)².

``faithful=True`` (the default) does exactly what the post's code does, quirks included: its
``W_grad[l] = a[l-1] · delta[l]ᵀ`` is the *transpose* of dL/dW[l], so for the output layer a
``(2, 1)`` gradient is subtracted from a ``(1, 2)`` weight and NumPy broadcasting turns
``W[2]`` into a ``(2, 2)`` matrix after the first iteration (see docs/xor.md).
``faithful=False`` uses the correct gradient ``delta[l] · a[l-1]ᵀ``.

Unlike the post, `backprop_iter` returns new lists and leaves the caller's untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sigmoid", "sigmoid_prime", "cost", "cost_grad", "forward_prop", "back_prop",
           "calc_gradient", "backprop_iter", "init_params", "train", "X", "y"]

#: The post's inputs and targets (``np.matrix('0 0; 1 0; 0 1; 1 1')`` as a plain ndarray).
X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
#: The post's targets, shape (4,).
y = np.array([0, 1, 1, 0])

Params = list[Any]  # index 0 is None, then one ndarray per layer


def sigmoid(z: Any) -> Any:
    """The post's sigmoid, 1 / (1 + exp(-z)), computed as the post does."""
    return 1 / (1 + np.exp(-z))


def sigmoid_prime(z: Any) -> Any:
    """The derivative of the sigmoid, sigmoid(z)·(1 − sigmoid(z))."""
    return np.multiply(sigmoid(z), 1 - sigmoid(z))


def cost(a: Any, target: Any) -> float:
    """The post's MSE: mean of (a − y)², with NumPy broadcasting as in the post."""
    return float(((np.asarray(a) - np.asarray(target)) ** 2).mean())


def cost_grad(a: Any, target: Any) -> Any:
    """The post's 'derivative of the MSE', a − y: the derivative of ½·(a − y)²."""
    return a - target


def _column(x: Any) -> np.ndarray:
    """One sample (a 1×n row, an ndarray row or a 1-D sequence) as an n×1 float column."""
    return np.asarray(x, dtype=np.float64).reshape(1, -1).T


def forward_prop(x: Any, W: Params, b: Params) -> tuple[list[Any], list[Any]]:
    """z[l] = W[l]·a[l-1] + b[l] and a[l] = sigmoid(z[l]) for every layer; a[0] is x as a column."""
    a: list[Any] = [None] * len(W)
    z: list[Any] = [None] * len(W)
    a[0] = _column(x)
    for l in range(1, len(a)):  # noqa: E741  (l is the layer, as in the post)
        z[l] = np.asarray(W[l]).dot(a[l - 1]) + np.asarray(b[l])
        a[l] = sigmoid(z[l])
    return a, z


def back_prop(a: list[Any], z: list[Any], W: Params, target: Any) -> list[Any]:
    """The error delta[l] = dL/dz[l] of every layer, for L = ½·Σ(a − y)² of one sample."""
    delta: list[Any] = [None] * len(a)
    end = len(a) - 1
    delta[end] = np.multiply(cost_grad(a[end], np.asarray(target)), sigmoid_prime(z[end]))
    for l in reversed(range(1, end)):  # noqa: E741  (l is the layer, as in the post)
        delta[l] = np.multiply(np.asarray(W[l + 1]).T.dot(delta[l + 1]), sigmoid_prime(z[l]))
    return delta


def calc_gradient(W: Params, b: Params, a: list[Any], delta: list[Any], *,
                  faithful: bool = True) -> tuple[list[Any], list[Any]]:
    """One sample's (W_grad, b_grad); faithful=True keeps the post's transposed W_grad."""
    W_grad: list[Any] = [None] * len(W)
    b_grad: list[Any] = [None] * len(b)
    for l in range(1, len(W)):  # noqa: E741  (l is the layer, as in the post)
        if faithful:
            W_grad[l] = a[l - 1].dot(delta[l].T)     # the post: (n_{l-1}, n_l), transposed
        else:
            W_grad[l] = delta[l].dot(a[l - 1].T)     # dL/dW[l]: (n_l, n_{l-1})
        b_grad[l] = delta[l].copy()
    return W_grad, b_grad


def backprop_iter(X: Any, y: Any, W: Params, b: Params, eta: float, *,
                  faithful: bool = True) -> tuple[list[Any], list[Any], np.ndarray, float]:
    """One full-batch iteration: forward, back-propagate and sum over the samples, update.

    Returns new lists ``(W, b, y_pred, mse)``: W[l] -= eta/n·ΣW_grad, b[l] -= eta/n·Σb_grad,
    y_pred the network's outputs before the update (the post's ``np.max(a[-1])`` per sample)
    and mse their mean squared error.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"backprop_iter: X must be n×n_0, got shape {X.shape}")
    targets = np.asarray(y)
    n = X.shape[0]
    if len(targets) != n:
        raise ValueError(f"backprop_iter: X has {n} rows but y has {len(targets)} targets")
    W = [None if w is None else np.array(w, dtype=np.float64) for w in W]
    b = [None if v is None else np.array(v, dtype=np.float64) for v in b]
    y_pred = np.zeros(n)
    W_sum: list[Any] = []
    b_sum: list[Any] = []
    for i in range(n):
        a, z = forward_prop(X[i:i + 1, :], W, b)
        y_pred[i] = np.max(a[-1])
        delta = back_prop(a, z, W, targets[i])
        W_grad, b_grad = calc_gradient(W, b, a, delta, faithful=faithful)
        if i == 0:
            W_sum, b_sum = W_grad, b_grad
        else:
            for l in range(1, len(W_grad)):  # noqa: E741  (l is the layer, as in the post)
                W_sum[l] = W_sum[l] + W_grad[l]
                b_sum[l] = b_sum[l] + b_grad[l]
    new_W: list[Any] = [None] * len(W)
    new_b: list[Any] = [None] * len(b)
    for l in range(1, len(W)):  # noqa: E741  (l is the layer, as in the post)
        # faithful=True: (1, 2) minus (2, 1) broadcasts to (2, 2), exactly as in the post.
        new_W[l] = W[l] - (eta / n) * W_sum[l]
        new_b[l] = b[l] - (eta / n) * b_sum[l]
    # The post's y is (n,); a (n, 1) y would broadcast against y_pred to (n, n), so flatten.
    mse = cost(y_pred, targets.reshape(n) if targets.size == n else targets)
    return new_W, new_b, y_pred, mse


def init_params(layer_sizes: list[int], rng: np.random.Generator | int | None = None
                ) -> tuple[list[Any], list[Any]]:
    """The post's initialisation: W[l] then b[l], uniform in [0, 1), layer by layer."""
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    W: list[Any] = [None] * len(layer_sizes)
    b: list[Any] = [None] * len(layer_sizes)
    for l in range(1, len(layer_sizes)):  # noqa: E741  (l is the layer, as in the post)
        W[l] = gen.random((layer_sizes[l], layer_sizes[l - 1]))
        b[l] = gen.random((layer_sizes[l], 1))
    return W, b


def train(X: Any = X, y: Any = y, W: Params | None = None, b: Params | None = None, *,
          eta: float = 0.1, n_iter: int = 100, faithful: bool = True, seed: int = 0
          ) -> tuple[list[Any], list[Any], list[float]]:
    """The post's loop: ``n_iter + 1`` iterations (as ``range(n_iter+1)``); returns W, b, MSEs."""
    if W is None or b is None:
        W, b = init_params([np.asarray(X).shape[1], 2, 1], seed)
    losses = []
    for _ in range(n_iter + 1):
        W, b, _, mse = backprop_iter(X, y, W, b, eta, faithful=faithful)
        losses.append(mse)
    return W, b, losses
