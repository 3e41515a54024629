"""Optimizers with PyTorch's update rules: SGD (with momentum) and Adam."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .engine import Value

__all__ = ["Optimizer", "SGD", "Adam"]


def _check_lr(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    lr = float(lr)
    if not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"learning rate must be a finite number > 0, got {lr}")
    return lr


def _like(data: Any, value: Any) -> Any:
    """Keep a scalar parameter's data a Python float."""
    return float(value) if type(data) is float else value


class Optimizer:
    """Base class: holds the parameters and the learning rate."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"optimizer parameters must be Values, got {type(p).__name__}")
        self.lr = _check_lr(lr)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter from its .grad."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule: v = μ·v + g, p -= lr·v."""

    def __init__(self, params: Iterable[Value], lr: float = 0.01, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if not momentum >= 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        self.momentum = float(momentum)
        self._velocity: list[Any] = [None] * len(self.params)

    def step(self) -> None:
        """One update of every parameter."""
        lr = _check_lr(self.lr)
        mu = self.momentum
        for i, p in enumerate(self.params):
            g = p.grad
            if mu:
                v = self._velocity[i]
                v = g if v is None else mu * v + g   # PyTorch: the first buffer is g itself
                self._velocity[i] = v
                g = v
            p.data = _like(p.data, p.data - lr * g)


class Adam(Optimizer):
    """Adam with bias correction, PyTorch's rule.

    m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g²,
    p -= lr/(1 − β1ᵗ) · m / (sqrt(v)/sqrt(1 − β2ᵗ) + eps).
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        beta1, beta2 = (float(b) for b in betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.betas = (beta1, beta2)
        self.eps = float(eps)
        self.t = 0
        self._m: list[Any] = [0.0] * len(self.params)
        self._v: list[Any] = [0.0] * len(self.params)

    def step(self) -> None:
        """One update of every parameter."""
        lr = _check_lr(self.lr)
        beta1, beta2 = self.betas
        self.t += 1
        correction1 = 1.0 - beta1 ** self.t
        correction2_sqrt = math.sqrt(1.0 - beta2 ** self.t)
        step_size = lr / correction1
        for i, p in enumerate(self.params):
            g = p.grad
            m = beta1 * self._m[i] + (1.0 - beta1) * g
            v = beta2 * self._v[i] + (1.0 - beta2) * (g * g)
            self._m[i], self._v[i] = m, v
            denom = np.sqrt(v) / correction2_sqrt + self.eps
            p.data = _like(p.data, p.data - step_size * (m / denom))
