"""Optimizers with PyTorch's update rules: SGD (with momentum) and Adam."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .core import checks as _checks
from .core.value import Value

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
        name = type(self).__name__
        if isinstance(params, Value) or not isinstance(params, Iterable) \
                or isinstance(params, (str, bytes)):
            raise TypeError(f"{name}: params must be an iterable of Values (e.g. "
                            f"model.parameters()), got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{name}: optimizer parameters must be Values, parameter {i} is "
                                f"{type(p).__name__}")
            if p.op:
                raise ValueError(f"{name}: parameter {i} is the result of an operation "
                                 f"({p.op!r}), not a leaf Value; it cannot be optimized")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} is the same Value as parameter "
                                 f"{seen[id(p)]}; a duplicate would be stepped twice")
            seen[id(p)] = i
        self.lr = _check_lr(lr)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter from its .grad."""
        raise NotImplementedError

    # -- the update as a function, for `fit(jit=True)`: numbers in, numbers out, and the same
    # on Values (traced). `step` runs the same rule on the parameters' numbers.
    def _scalars(self) -> tuple[float, ...]:
        """This step's numbers that change from step to step (Adam's bias corrections)."""
        return ()

    def _state(self) -> list[Any]:
        """The per-parameter state the rule carries (velocities, moments)."""
        return [None] * len(self.params)

    def _store(self, state: list[Any]) -> None:
        """Keep the state a compiled step returned, so that `step` can go on from it."""

    def _rule(self, p: Any, g: Any, state: Any, scalars: tuple[float, ...]) -> tuple[Any, Any]:
        """``(new p, new state)`` for one parameter: numbers or Values alike."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule: v = μ·v + g, p -= lr·v."""

    def __init__(self, params: Iterable[Value], lr: float = 0.01, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _checks.number("SGD", "momentum", momentum, low=0.0, high=1.0,
                                       high_open=True)
        # (None: no buffer yet, PyTorch's first step; without momentum there is none: 0.0)
        self._velocity: list[Any] = [None if self.momentum else 0.0] * len(self.params)

    def step(self) -> None:
        """One update of every parameter."""
        scalars = self._scalars()
        for i, p in enumerate(self.params):
            new, self._velocity[i] = self._rule(p.data, p.grad, self._velocity[i], scalars)
            p.data = _like(p.data, new)

    def _scalars(self) -> tuple[float, ...]:
        return (_check_lr(self.lr),)

    def _state(self) -> list[Any]:
        return list(self._velocity)

    def _store(self, state: list[Any]) -> None:
        self._velocity = list(state)

    def _rule(self, p: Any, g: Any, v: Any, scalars: tuple[float, ...]) -> tuple[Any, Any]:
        (lr,) = scalars
        mu = self.momentum
        if not mu:
            return p - lr * g, 0.0  # (no buffer: 0.0 stands for it)
        v = g if v is None else mu * v + g   # PyTorch: the first buffer is g itself
        return p - lr * v, v


class Adam(Optimizer):
    """Adam with bias correction, PyTorch's rule.

    m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g²,
    p -= lr/(1 − β1ᵗ) · m / (sqrt(v)/sqrt(1 − β2ᵗ) + eps).
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = (_checks.number("Adam", f"betas[{i}]", b, low=0.0, high=1.0,
                                       high_open=True) for i, b in enumerate(betas))
        self.betas = (beta1, beta2)
        self.eps = _checks.number("Adam", "eps", eps, low=0.0, low_open=True)
        self.t = 0
        self._m: list[Any] = [0.0] * len(self.params)
        self._v: list[Any] = [0.0] * len(self.params)

    def step(self) -> None:
        """One update of every parameter."""
        scalars = self._scalars()
        for i, p in enumerate(self.params):
            new, (self._m[i], self._v[i]) = self._rule(p.data, p.grad, (self._m[i], self._v[i]),
                                                       scalars)
            p.data = _like(p.data, new)

    def _scalars(self) -> tuple[float, ...]:
        lr = _check_lr(self.lr)
        beta1, beta2 = self.betas
        self.t += 1
        correction1 = 1.0 - beta1 ** self.t
        return lr / correction1, math.sqrt(1.0 - beta2 ** self.t)

    def _state(self) -> list[Any]:
        return list(zip(self._m, self._v))

    def _store(self, state: list[Any]) -> None:
        self._m = [m for m, _ in state]
        self._v = [v for _, v in state]

    def _rule(self, p: Any, g: Any, mv: Any, scalars: tuple[float, ...]) -> tuple[Any, Any]:
        step_size, correction2_sqrt = scalars
        beta1, beta2 = self.betas
        m = beta1 * mv[0] + (1.0 - beta1) * g
        v = beta2 * mv[1] + (1.0 - beta2) * (g * g)
        denom = np.sqrt(v) / correction2_sqrt + self.eps
        return p - step_size * (m / denom), (m, v)
