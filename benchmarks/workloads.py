"""The benchmark's workloads: each backend of W1-W7 as a trainer, and the table of workloads.

A trainer runs `n` more steps of its workload and returns the loss after each one (W2: the
chain's value and gradient; W6, W7: the Hessian's entries, the Hessian-vector product); every
backend of a workload follows the same steps, so `harness.check` can compare their
trajectories. micrograd, JAX (the ``bench`` extra) and PyTorch (CPU) are optional.

Besides the eager engine, tinygrad_xor runs W1, W3, W5, W5', W6 and W7 compiled: the whole
step (loss, gradients and update; the Hessian; the Hessian-vector product) written as one
function and passed to `jit` once, the rows "tinygrad_xor (jit)". JAX runs the same functions
under ``jax.jit``, in float64. W3L is W3 as one call of ``compiled.loop(n)`` against JAX's
``jit`` called in a Python loop and JAX's ``lax.fori_loop``. W3 and W3L also run on jit's
numba backend where numba is installed, the rows "tinygrad_xor (jit, numba)" (W1's and W5's
graphs are far too large for it: numba's compile time grows faster than the lines).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from tinygrad_xor import Value, autograd, jit, value_and_grad

__all__ = ["WORKLOADS", "Workload", "Trainer", "OURS", "OURS_JIT", "OURS_NUMBA", "optional",
           "import_torch",
           "import_jax", "jit_backend", "two_moons"]

# A trainer runs `n` more steps of its workload and returns what each step computed.
Trainer = Callable[[int], list[float]]

OURS = "tinygrad_xor"
#: tinygrad_xor's compiled rows: the step passed to `jit` (its backend "auto" unless a trainer
#: is made with ``backend=``).
OURS_JIT = "tinygrad_xor (jit)"
#: The same step on jit's numba backend (the ``numba`` extra), for the tiny graphs of W3 and
#: W3L: the python backend's lines compiled to machine code (compiled in the warm-up).
OURS_NUMBA = "tinygrad_xor (jit, numba)"


def optional(name: str) -> Any:
    """The module `name`, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def import_torch() -> Any:
    """PyTorch, typed as Any so this file type-checks with or without it."""
    return importlib.import_module("torch")


def import_jax() -> Any:
    """JAX, with float64 switched on (``jax_enable_x64``, for this process): every workload
    here is checked in float64."""
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def jit_backend(compiled: Any) -> str:
    """The backend a compiled function's last traced signature runs on (what "auto" chose);
    ``"?"`` before its first call."""
    try:
        return str(compiled.backend_used)
    except AttributeError:
        return "?"


def two_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as sklearn's make_moons), labels -1 and +1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    x += rng.normal(scale=noise, size=x.shape)
    y = np.concatenate([-np.ones(n_out), np.ones(n_in)])
    return x, y


def _init_mlp(sizes: Sequence[int], seed: int, dtype: Any = np.float64,
              bias: str = "zeros") -> list[np.ndarray]:
    """Weights (in, out) and biases (out,), weights uniform in +-1/sqrt(fan_in) (+-1 if 'moons')."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        scale = 1.0 if bias == "moons" else 1.0 / np.sqrt(n_in)
        params.append(rng.uniform(-scale, scale, size=(n_in, n_out)).astype(dtype))
        if bias == "zeros" or bias == "moons":
            params.append(np.zeros(n_out, dtype=dtype))
        else:
            params.append(rng.uniform(-scale, scale, size=n_out).astype(dtype))
    return params


# -- W1: micrograd's demo step ------------------------------------------------------------------
# MLP 2 -> 16 -> 16 -> 1 of scalar Values on 100 two-moons points; max-margin loss + 1e-4 L2;
# learning rate 1 - 0.9 k / 100 (k counts steps, modulo 100 so long runs stay bounded).

_W1_ALPHA = 1e-4


def _w1_lr(k: int) -> float:
    return 1.0 - 0.9 * (k % 100) / 100


def w1_numpy(n_points: int = 100, hidden: int = 16, seed: int = 0) -> Trainer:
    """W1 in hand-written NumPy: the loss trajectory every other backend must follow."""
    x, y = two_moons(n_points, seed=seed)
    params = _init_mlp([2, hidden, hidden, 1], seed, bias="moons")
    k = 0

    def train(steps: int) -> list[float]:
        nonlocal k
        losses = []
        for _ in range(steps):
            w1, b1, w2, b2, w3, b3 = params
            h1 = x @ w1 + b1
            a1 = np.maximum(h1, 0)
            h2 = a1 @ w2 + b2
            a2 = np.maximum(h2, 0)
            s = (a2 @ w3 + b3)[:, 0]
            margin = 1 - y * s
            reg = sum(float(np.sum(p * p)) for p in params)
            losses.append(float(np.mean(np.maximum(margin, 0))) + _W1_ALPHA * reg)
            ds = (-(y * (margin > 0)) / len(y))[:, None]
            gw3, gb3 = a2.T @ ds, ds.sum(0)
            dh2 = (ds @ w3.T) * (h2 > 0)
            gw2, gb2 = a1.T @ dh2, dh2.sum(0)
            dh1 = (dh2 @ w2.T) * (h1 > 0)
            gw1, gb1 = x.T @ dh1, dh1.sum(0)
            lr = _w1_lr(k)
            for p, g in zip(params, (gw1, gb1, gw2, gb2, gw3, gb3)):
                p -= lr * (g + 2 * _W1_ALPHA * p)
            k += 1
        return losses

    return train


class _Neuron:
    """A neuron of scalar Values, written as micrograd's is, so both build the same graph."""

    def __init__(self, w: np.ndarray, b: float, nonlin: bool, value: Any) -> None:
        self.w = [value(float(wi)) for wi in w]
        self.b = value(float(b))
        self.nonlin = nonlin

    def __call__(self, x: list[Any]) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Any]:
        return self.w + [self.b]


def _scalar_mlp(params: list[np.ndarray], value: Any) -> tuple[Callable[[list[Any]], Any],
                                                                 list[Any]]:
    """A neuron-level MLP with these weights; returns (model, parameters)."""
    layers = []
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]
        layers.append([_Neuron(w[:, j], b[j], i != n_layers - 1, value)
                       for j in range(w.shape[1])])

    def model(x: list[Any]) -> Any:
        for layer in layers:
            out = [n(x) for n in layer]
            x = out[0] if len(out) == 1 else out
        return x

    return model, [p for layer in layers for n in layer for p in n.parameters()]


def _w1_scalar(value: Any, n_points: int, hidden: int, seed: int) -> Trainer:
    """W1 on a micrograd-style Value class (micrograd's or ours): the demo's loop, as written."""
    x, y = two_moons(n_points, seed=seed)
    rows = [[float(v) for v in row] for row in x]
    labels = [float(v) for v in y]
    model, parameters = _scalar_mlp(_init_mlp([2, hidden, hidden, 1], seed, bias="moons"), value)
    k = 0

    def train(steps: int) -> list[float]:
        nonlocal k
        losses = []
        for _ in range(steps):
            inputs = [list(map(value, row)) for row in rows]
            scores = list(map(model, inputs))
            margins = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
            data_loss = sum(margins) * (1.0 / len(margins))
            reg_loss = _W1_ALPHA * sum(p * p for p in parameters)
            total = data_loss + reg_loss
            for p in parameters:
                p.grad = 0.0
            total.backward()
            lr = _w1_lr(k)
            for p in parameters:
                p.data -= lr * p.grad
            losses.append(float(total.data))
            k += 1
        return losses

    return train


def w1_tinygrad(n_points: int = 100, hidden: int = 16, seed: int = 0) -> Trainer:
    """W1 on tinygrad_xor's scalar Values."""
    return _w1_scalar(Value, n_points, hidden, seed)


def w1_micrograd(n_points: int = 100, hidden: int = 16, seed: int = 0) -> Trainer:
    """W1 on micrograd's Values."""
    from micrograd.engine import Value as MicroValue

    return _w1_scalar(MicroValue, n_points, hidden, seed)


def w1_jit(n_points: int = 100, hidden: int = 16, seed: int = 0,
           backend: str = "auto") -> Trainer:
    """W1 compiled: one function of the parameters (a flat list of numbers, neuron by neuron,
    weights then bias) and the learning rate that builds the demo's scalar MLP on them, its
    loss, the gradients and the SGD update, passed to `jit` once."""
    x, y = two_moons(n_points, seed=seed)
    rows = [[float(v) for v in row] for row in x]
    labels = [float(v) for v in y]
    sizes = [2, hidden, hidden, 1]
    arrays = _init_mlp(sizes, seed, bias="moons")
    params: list[Any] = []
    for w, b in zip(arrays[::2], arrays[1::2]):
        for j in range(w.shape[1]):
            params += [float(v) for v in w[:, j]] + [float(b[j])]

    def step(ps: list[Value], lr: Value) -> tuple[Value, list[Value]]:
        it = iter(ps)
        layers = [[([next(it) for _ in range(n_in)], next(it)) for _ in range(n_out)]
                  for n_in, n_out in zip(sizes[:-1], sizes[1:])]

        def model(inputs: list[Any]) -> Any:
            for i, layer in enumerate(layers):
                acts = [sum((wi * xi for wi, xi in zip(w, inputs)), b) for w, b in layer]
                inputs = [a.relu() for a in acts] if i < len(layers) - 1 else acts
            return inputs[0]

        scores = [model(row) for row in rows]
        margins = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        data_loss = sum(margins) * (1.0 / len(margins))
        reg_loss = _W1_ALPHA * sum(p * p for p in ps)
        total = data_loss + reg_loss
        grads = autograd.grad(total, list(ps))
        return total, [p - lr * g for p, g in zip(ps, grads)]

    compiled = jit(step, backend=backend)
    k = 0

    def train(steps: int) -> list[float]:
        nonlocal k, params
        losses = []
        for _ in range(steps):
            loss, params = compiled(params, _w1_lr(k))
            losses.append(loss)
            k += 1
        return losses

    train.compiled = compiled  # type: ignore[attr-defined]
    return train


# -- W2: a chain x = x * 0.999 + 0.001, forward and backward ------------------------------------


def w2_floats(length: int = 10**6) -> Trainer:
    """W2 in plain Python floats: x_n and dx_n/dx_0 = 0.999**n."""

    def train(steps: int) -> list[float]:
        out = []
        for _ in range(steps):
            x, g = 1.0, 1.0
            for _ in range(length):
                x = x * 0.999 + 0.001
                g *= 0.999
            out += [x, g]
        return out

    return train


def w2_tinygrad(length: int = 10**6) -> Trainer:
    """W2 on tinygrad_xor's scalar Values."""

    def train(steps: int) -> list[float]:
        out = []
        for _ in range(steps):
            x0 = Value(1.0)
            x = x0
            for _ in range(length):
                x = x * 0.999 + 0.001
            x.backward()
            out += [x.data, x0.grad]
            del x
        return out

    return train


def w2_torch(length: int = 10**6) -> Trainer:
    """W2 on PyTorch 0-d float64 tensors."""
    torch = import_torch()

    def train(steps: int) -> list[float]:
        out = []
        for _ in range(steps):
            x0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
            x = x0
            for _ in range(length):
                x = x * 0.999 + 0.001
            x.backward()
            out += [float(x.item()), float(x0.grad.item())]
            del x
        return out

    return train


def _data(array: np.ndarray) -> Value:
    """Training data as a constant Value, made once, as the PyTorch versions make their tensors
    once (an ndarray operand would be copied into a new constant at every step)."""
    return Value(array, requires_grad=False)


def _values_sgd(params: list[Value], loss_of: Callable[[], Value], lr: float) -> Trainer:
    """W3-W5's training loop on tinygrad_xor: the loss, backward, then p -= lr * grad."""
    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            loss = loss_of()
            for p in params:
                p.grad = None
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
            losses.append(loss.item())
        return losses

    return train


def _torch_sgd(params: list[Any], loss_of: Callable[[], Any], lr: float) -> Trainer:
    """The same loop on PyTorch tensors."""
    torch = import_torch()

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            loss = loss_of()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
            losses.append(float(loss.item()))
        return losses

    return train


# -- W3: XOR 2 -> 2 -> 1, sigmoid, MSE, full batch, SGD lr 0.5 ----------------------------------

_XOR_X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
_XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])
_XOR_LR = 0.5


def _xor_init(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=(2, 1)),
            rng.normal(size=1)]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def w3_numpy(seed: int = 0) -> Trainer:
    """W3 in hand-written NumPy."""
    x, y = _XOR_X, _XOR_Y
    w1, b1, w2, b2 = _xor_init(seed)

    def train(steps: int) -> list[float]:
        nonlocal w1, b1, w2, b2
        losses = []
        for _ in range(steps):
            a1 = _sigmoid(x @ w1 + b1)
            a2 = _sigmoid(a1 @ w2 + b2)
            diff = a2 - y
            losses.append(float(np.mean(diff * diff)))
            d2 = (2 / diff.size) * diff * a2 * (1 - a2)
            d1 = (d2 @ w2.T) * a1 * (1 - a1)
            w2 -= _XOR_LR * (a1.T @ d2)
            b2 -= _XOR_LR * d2.sum(0)
            w1 -= _XOR_LR * (x.T @ d1)
            b1 -= _XOR_LR * d1.sum(0)
        return losses

    return train


def w3_tinygrad(seed: int = 0) -> Trainer:
    """W3 on tinygrad_xor's tensor Values, with a hand-written SGD step."""
    x, y = _data(_XOR_X), _data(_XOR_Y)
    params = [Value(p) for p in _xor_init(seed)]
    w1, b1, w2, b2 = params

    def loss_of() -> Value:
        out = ((x @ w1 + b1).sigmoid() @ w2 + b2).sigmoid()
        return ((out - y) ** 2).mean()

    return _values_sgd(params, loss_of, _XOR_LR)


def w3_torch(seed: int = 0) -> Trainer:
    """W3 on PyTorch float64 tensors."""
    torch = import_torch()

    x, y = torch.tensor(_XOR_X), torch.tensor(_XOR_Y)
    params = [torch.tensor(p, requires_grad=True) for p in _xor_init(seed)]
    w1, b1, w2, b2 = params

    def loss_of() -> Any:
        out = torch.sigmoid(torch.sigmoid(x @ w1 + b1) @ w2 + b2)
        return ((out - y) ** 2).mean()

    return _torch_sgd(params, loss_of, _XOR_LR)


# The compiled and JAX versions of W3 and W5: the loss of the four parameter arrays, and one SGD
# step (the loss at the parameters and the new parameters) as one function.


def _xor_loss(x: Any, y: Any, nets: bool) -> Callable[..., Value]:
    """W3's loss (the mean) or W5's (the sum of the networks' MSEs), of Values."""
    def loss(w1: Value, b1: Value, w2: Value, b2: Value) -> Value:
        out = ((x @ w1 + b1).sigmoid() @ w2 + b2).sigmoid()
        return ((out - y) ** 2).sum() * 0.25 if nets else ((out - y) ** 2).mean()

    return loss


def _sgd_step(loss: Callable[..., Value], lr: float) -> Callable[..., Any]:
    """``step(w1, b1, w2, b2) -> (loss, (w1', b1', w2', b2'))``: what `jit` compiles."""
    def step(w1: Value, b1: Value, w2: Value, b2: Value) -> tuple[Value, tuple[Value, ...]]:
        value, grads = value_and_grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
        return value, tuple(p - lr * g for p, g in zip((w1, b1, w2, b2), grads))

    return step


def _jit_sgd(step: Callable[..., Any], params: Sequence[np.ndarray], backend: str) -> Trainer:
    """Call the compiled step once per training step, as the eager loop runs one step."""
    compiled = jit(step, backend=backend)
    state = tuple(params)

    def train(steps: int) -> list[float]:
        nonlocal state
        losses = []
        for _ in range(steps):
            loss, state = compiled(*state)
            losses.append(loss)
        return losses

    train.compiled = compiled  # type: ignore[attr-defined]
    return train


def _jax_xor_step(nets: bool, lr: float) -> Callable[..., Any]:
    """The same SGD step in JAX, not yet jitted: ``step(params, x, y) -> (loss, params')``."""
    jax = import_jax()
    jnp = jax.numpy

    def loss(w1: Any, b1: Any, w2: Any, b2: Any, x: Any, y: Any) -> Any:
        out = jax.nn.sigmoid(jax.nn.sigmoid(x @ w1 + b1) @ w2 + b2)
        return jnp.sum((out - y) ** 2) * 0.25 if nets else jnp.mean((out - y) ** 2)

    value_and_grad_ = jax.value_and_grad(loss, argnums=(0, 1, 2, 3))

    def step(params: tuple[Any, ...], x: Any, y: Any) -> tuple[Any, tuple[Any, ...]]:
        value, grads = value_and_grad_(*params, x, y)
        return value, tuple(p - lr * g for p, g in zip(params, grads))

    return step


def _jax_sgd(x: np.ndarray, y: np.ndarray, params: Sequence[np.ndarray], nets: bool) -> Trainer:
    """The jitted JAX step called once per training step; the data are its arguments."""
    jax = import_jax()
    jnp = jax.numpy
    step = jax.jit(_jax_xor_step(nets, _XOR_LR))
    tx, ty = jnp.asarray(x), jnp.asarray(y)
    state = tuple(jnp.asarray(p) for p in params)

    def train(steps: int) -> list[float]:
        nonlocal state
        losses = []
        for _ in range(steps):
            loss, state = step(state, tx, ty)
            losses.append(loss)
        return [float(loss) for loss in losses]  # JAX dispatches asynchronously: wait here

    return train


def w3_jit(seed: int = 0, backend: str = "auto") -> Trainer:
    """W3 compiled: the loss, its gradients and the SGD update as one function, `jit`-ed."""
    step = _sgd_step(_xor_loss(_data(_XOR_X), _data(_XOR_Y), nets=False), _XOR_LR)
    return _jit_sgd(step, _xor_init(seed), backend)


def w3_jax(seed: int = 0) -> Trainer:
    """W3 as one ``jax.jit``-ed step (float64), called once per step."""
    return _jax_sgd(_XOR_X, _XOR_Y, _xor_init(seed), nets=False)


# -- W3L: W3 run as one loop of n steps ----------------------------------------------------------
# A trainer runs `n` steps in one call and returns the loss of the last step and the parameters
# after it (9 numbers), so the check compares where the loop ends, not only its losses.


def _xor_state(loss: Any, params: Sequence[Any]) -> list[float]:
    return [float(loss)] + np.concatenate([np.asarray(p).ravel() for p in params]).tolist()


def w3l_numpy(seed: int = 0) -> Trainer:
    """W3's hand-written NumPy step in a Python loop."""
    x, y = _XOR_X, _XOR_Y
    w1, b1, w2, b2 = _xor_init(seed)
    loss = 0.0

    def train(steps: int) -> list[float]:
        nonlocal w1, b1, w2, b2, loss
        for _ in range(steps):
            a1 = _sigmoid(x @ w1 + b1)
            a2 = _sigmoid(a1 @ w2 + b2)
            diff = a2 - y
            loss = float(np.mean(diff * diff))
            d2 = (2 / diff.size) * diff * a2 * (1 - a2)
            d1 = (d2 @ w2.T) * a1 * (1 - a1)
            w2 = w2 - _XOR_LR * (a1.T @ d2)
            b2 = b2 - _XOR_LR * d2.sum(0)
            w1 = w1 - _XOR_LR * (x.T @ d1)
            b1 = b1 - _XOR_LR * d1.sum(0)
        return _xor_state(loss, (w1, b1, w2, b2))

    return train


def w3l_jit(seed: int = 0, backend: str = "auto") -> Trainer:
    """W3 compiled, run as ``compiled.loop(n, *state)``: the step takes and returns the four
    parameters and the loss (of the step before), so its results are its next arguments."""
    loss = _xor_loss(_data(_XOR_X), _data(_XOR_Y), nets=False)

    def step(w1: Value, b1: Value, w2: Value, b2: Value, previous: Value) -> tuple[Value, ...]:
        value, grads = value_and_grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
        return (*(p - _XOR_LR * g for p, g in zip((w1, b1, w2, b2), grads)), value)

    compiled = jit(step, backend=backend)
    state: tuple[Any, ...] = (*_xor_init(seed), 0.0)

    def train(steps: int) -> list[float]:
        nonlocal state
        state = compiled.loop(steps, *state)
        return _xor_state(state[4], state[:4])

    train.compiled = compiled  # type: ignore[attr-defined]
    return train


def w3l_jax_loop(seed: int = 0) -> Trainer:
    """W3's ``jax.jit``-ed step called n times in a Python loop (W3's JAX row, run as W3L)."""
    jax = import_jax()
    jnp = jax.numpy
    step = jax.jit(_jax_xor_step(False, _XOR_LR))
    x, y = jnp.asarray(_XOR_X), jnp.asarray(_XOR_Y)
    params = tuple(jnp.asarray(p) for p in _xor_init(seed))
    loss: Any = 0.0

    def train(steps: int) -> list[float]:
        nonlocal params, loss
        for _ in range(steps):
            loss, params = step(params, x, y)
        return _xor_state(loss, params)

    return train


def w3l_jax_fori(seed: int = 0) -> Trainer:
    """W3's JAX step inside ``lax.fori_loop``, the whole loop one ``jax.jit``-ed call."""
    jax = import_jax()
    jnp = jax.numpy
    step = _jax_xor_step(False, _XOR_LR)

    @jax.jit
    def run(n: Any, state: tuple[Any, ...], x: Any, y: Any) -> tuple[Any, ...]:
        def body(i: Any, s: tuple[Any, ...]) -> tuple[Any, ...]:
            value, params = step(s[:4], x, y)
            return (*params, value)

        return jax.lax.fori_loop(0, n, body, state)

    x, y = jnp.asarray(_XOR_X), jnp.asarray(_XOR_Y)
    # the loss as a float64 array from the start: a weakly typed 0.0 would compile run again
    # on its second call, when the state comes back strongly typed
    state = (*(jnp.asarray(p) for p in _xor_init(seed)), jnp.zeros((), jnp.float64))

    def train(steps: int) -> list[float]:
        nonlocal state
        state = run(steps, state, x, y)
        return _xor_state(state[4], state[:4])

    train.jitted = run  # type: ignore[attr-defined]
    return train


# -- W4: MLP 784 -> 256 -> 256 -> 10, batch 4096, ReLU, MSE, SGD --------------------------------

_W4_LR = 0.01


def _w4_data(batch: int, sizes: Sequence[int], dtype: Any, seed: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(batch, sizes[0])).astype(dtype)
    y = rng.normal(size=(batch, sizes[-1])).astype(dtype)
    return x, y, _init_mlp(sizes, seed, dtype, bias="uniform")


def w4_numpy(batch: int = 4096, sizes: Sequence[int] = (784, 256, 256, 10),
             dtype: Any = np.float32, seed: int = 0) -> Trainer:
    """W4 in hand-written NumPy."""
    x, y, params = _w4_data(batch, sizes, dtype, seed)
    n_layers = len(params) // 2

    def train(steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            acts, pre = [x], []
            for i in range(n_layers):
                h = acts[-1] @ params[2 * i] + params[2 * i + 1]
                pre.append(h)
                acts.append(np.maximum(h, 0) if i < n_layers - 1 else h)
            diff = acts[-1] - y
            losses.append(float(np.mean(diff * diff)))
            d = diff * dtype(2 / diff.size)
            for i in reversed(range(n_layers)):
                if i < n_layers - 1:
                    d = d * (pre[i] > 0)
                gw, gb = acts[i].T @ d, d.sum(0)
                if i > 0:
                    d = d @ params[2 * i].T
                params[2 * i] -= dtype(_W4_LR) * gw
                params[2 * i + 1] -= dtype(_W4_LR) * gb
        return losses

    return train


def w4_tinygrad(batch: int = 4096, sizes: Sequence[int] = (784, 256, 256, 10),
                dtype: Any = np.float32, seed: int = 0) -> Trainer:
    """W4 on tinygrad_xor's tensor Values, with a hand-written SGD step."""
    x, y, arrays = _w4_data(batch, sizes, dtype, seed)
    x, y = _data(x), _data(y)
    params = [Value(p) for p in arrays]
    n_layers = len(params) // 2

    def loss_of() -> Value:
        h: Any = x
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = h.relu()
        return ((h - y) ** 2).mean()

    return _values_sgd(params, loss_of, _W4_LR)


def w4_torch(batch: int = 4096, sizes: Sequence[int] = (784, 256, 256, 10),
             dtype: Any = np.float32, seed: int = 0) -> Trainer:
    """W4 on PyTorch tensors."""
    torch = import_torch()

    x, y, arrays = _w4_data(batch, sizes, dtype, seed)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    params = [torch.tensor(p, requires_grad=True) for p in arrays]
    n_layers = len(params) // 2

    def loss_of() -> Any:
        h = tx
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = torch.relu(h)
        return ((h - ty) ** 2).mean()

    return _torch_sgd(params, loss_of, _W4_LR)


# -- W5: many independent XOR networks at once, with batched @ ----------------------------------
# Network i has W1[i] (2, 2), b1[i] (1, 2), W2[i] (2, 1), b2[i] (1, 1); the loss is the sum of the
# networks' MSEs, so each network's gradient is its own.


def _w5_init(nets: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(nets, 2, 2)), rng.normal(size=(nets, 1, 2)),
            rng.normal(size=(nets, 2, 1)), rng.normal(size=(nets, 1, 1))]


def _w5_inputs(nets: int, seed: int, per_net: bool) -> np.ndarray:
    """W5's inputs: the four XOR rows shared by every network, or (W5') for each network its
    own: the rows plus noise of its own (normal, sigma 0.1), shape (nets, 4, 2)."""
    if not per_net:
        return _XOR_X
    rng = np.random.default_rng(seed + 5)
    return _XOR_X + rng.normal(scale=0.1, size=(nets, 4, 2))


def _w5_numpy(x: np.ndarray, nets: int, seed: int) -> Trainer:
    y = _XOR_Y
    w1, b1, w2, b2 = _w5_init(nets, seed)
    xt = np.swapaxes(x, -1, -2)

    def train(steps: int) -> list[float]:
        nonlocal w1, b1, w2, b2
        losses = []
        for _ in range(steps):
            a1 = _sigmoid(x @ w1 + b1)                      # (nets, 4, 2)
            a2 = _sigmoid(a1 @ w2 + b2)                     # (nets, 4, 1)
            diff = a2 - y
            losses.append(float(np.sum(diff * diff)) / 4)
            d2 = 0.5 * diff * a2 * (1 - a2)
            d1 = (d2 @ w2.transpose(0, 2, 1)) * a1 * (1 - a1)
            w2 -= _XOR_LR * (a1.transpose(0, 2, 1) @ d2)
            b2 -= _XOR_LR * d2.sum(1, keepdims=True)
            w1 -= _XOR_LR * (xt @ d1)
            b1 -= _XOR_LR * d1.sum(1, keepdims=True)
        return losses

    return train


def _w5_tinygrad(x: np.ndarray, nets: int, seed: int) -> Trainer:
    params = [Value(p) for p in _w5_init(nets, seed)]
    loss = _xor_loss(_data(x), _data(_XOR_Y), nets=True)
    return _values_sgd(params, lambda: loss(*params), _XOR_LR)


def _w5_torch(x: np.ndarray, nets: int, seed: int) -> Trainer:
    torch = import_torch()

    tx, y = torch.tensor(x), torch.tensor(_XOR_Y)
    params = [torch.tensor(p, requires_grad=True) for p in _w5_init(nets, seed)]
    w1, b1, w2, b2 = params

    def loss_of() -> Any:
        out = torch.sigmoid(torch.sigmoid(tx @ w1 + b1) @ w2 + b2)
        return ((out - y) ** 2).sum() * 0.25

    return _torch_sgd(params, loss_of, _XOR_LR)


def w5_numpy(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5 in hand-written NumPy, with np.matmul on the stacks of small matrices."""
    return _w5_numpy(_w5_inputs(nets, seed, False), nets, seed)


def w5_tinygrad(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5 on tinygrad_xor's tensor Values, with a hand-written SGD step."""
    return _w5_tinygrad(_w5_inputs(nets, seed, False), nets, seed)


def w5_torch(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5 on PyTorch float64 tensors."""
    return _w5_torch(_w5_inputs(nets, seed, False), nets, seed)


def w5_jit(nets: int = 10_000, seed: int = 0, backend: str = "auto") -> Trainer:
    """W5 compiled: the loss, its gradients and the SGD update as one function, `jit`-ed."""
    x = _w5_inputs(nets, seed, False)
    step = _sgd_step(_xor_loss(_data(x), _data(_XOR_Y), nets=True), _XOR_LR)
    return _jit_sgd(step, _w5_init(nets, seed), backend)


def w5_jax(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5 as one ``jax.jit``-ed step (float64) over the stacks of networks."""
    return _jax_sgd(_w5_inputs(nets, seed, False), _XOR_Y, _w5_init(nets, seed), nets=True)


# W5': each network has inputs of its own, (nets, 4, 2), so x @ W1 is a stack times a stack.


def w5p_numpy(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5' in hand-written NumPy."""
    return _w5_numpy(_w5_inputs(nets, seed, True), nets, seed)


def w5p_tinygrad(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5' on tinygrad_xor's tensor Values, with a hand-written SGD step."""
    return _w5_tinygrad(_w5_inputs(nets, seed, True), nets, seed)


def w5p_torch(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5' on PyTorch float64 tensors."""
    return _w5_torch(_w5_inputs(nets, seed, True), nets, seed)


def w5p_jit(nets: int = 10_000, seed: int = 0, backend: str = "auto") -> Trainer:
    """W5' compiled: the loss, its gradients and the SGD update as one function, `jit`-ed."""
    x = _w5_inputs(nets, seed, True)
    step = _sgd_step(_xor_loss(_data(x), _data(_XOR_Y), nets=True), _XOR_LR)
    return _jit_sgd(step, _w5_init(nets, seed), backend)


def w5p_jax(nets: int = 10_000, seed: int = 0) -> Trainer:
    """W5' as one ``jax.jit``-ed step (float64) over the stacks of networks."""
    return _jax_sgd(_w5_inputs(nets, seed, True), _XOR_Y, _w5_init(nets, seed), nets=True)


# -- W6: the Hessian of the XOR loss (W3's network) with respect to its 9 parameters ------------
# Every backend computes the Hessian at a point, then moves the point a fixed small step along a
# fixed direction (the same for all), so that each step is a new point; a step returns the 81
# entries of the 9 x 9 Hessian, ordered as the flat vector (W1 (2, 2), b1 (2,), W2 (2, 1), b2).
# Ours and PyTorch's differentiate a function of the four arrays (argnums / a tuple of inputs) and
# assemble the blocks; the NumPy baseline is the complex step of W3's hand-written gradient, which
# is exact to rounding (no subtraction), and independent of any autodiff engine.

_XOR_SHAPES = ((2, 2), (2,), (2, 1), (1,))
_COMPLEX_STEP = 1e-30


def _split(flat: Any, shapes: Sequence[tuple[int, ...]]) -> list[Any]:
    """Views of ``flat`` with these shapes, one after the other."""
    out, i = [], 0
    for shape in shapes:
        k = int(np.prod(shape))
        out.append(flat[i:i + k].reshape(shape))
        i += k
    return out


def _blocks_to_matrix(blocks: Sequence[Sequence[Any]], sizes: Sequence[int]) -> np.ndarray:
    """Hessian blocks H[i][j] (shape x_i.shape + x_j.shape) as one (n, n) matrix."""
    return np.block([[np.asarray(b).reshape(si, sj) for b, sj in zip(row, sizes)]
                     for row, si in zip(blocks, sizes)])


def _w6_point(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The starting point (W3's initial weights, flat) and the direction it moves along."""
    p = np.concatenate([a.ravel() for a in _xor_init(seed)])
    d = np.random.default_rng(seed + 1).normal(size=p.size)
    return p, 0.01 * d / np.linalg.norm(d)


def _xor_grad(w1: Any, b1: Any, w2: Any, b2: Any) -> np.ndarray:
    """W3's hand-written gradient (flat), for parameters with any leading batch axes; it only
    multiplies and adds, so complex parameters give the complex-step derivative."""
    x, y = _XOR_X, _XOR_Y
    a1 = 1 / (1 + np.exp(-(x @ w1 + b1[..., None, :])))
    a2 = 1 / (1 + np.exp(-(a1 @ w2 + b2[..., None, :])))
    diff = a2 - y
    d2 = (2 / y.size) * diff * a2 * (1 - a2)
    d1 = (d2 @ np.swapaxes(w2, -1, -2)) * a1 * (1 - a1)
    grads = [x.T @ d1, d1.sum(-2), np.swapaxes(a1, -1, -2) @ d2, d2.sum(-2)]
    lead = w1.shape[:-2]
    return np.concatenate([g.reshape(lead + (-1,)) for g in grads], axis=-1)


def w6_numpy(seed: int = 0) -> Trainer:
    """W6 by the complex step of the hand-written gradient, all 9 columns at once."""
    p, d = _w6_point(seed)
    n = p.size

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            z = p + 1j * _COMPLEX_STEP * np.eye(n)        # row j: p + i h e_j
            h = _xor_grad(*_split_batched(z, _XOR_SHAPES)).imag / _COMPLEX_STEP
            out += h.T.ravel().tolist()                   # H[i, j] = d grad_i / d p_j
            p = p + d
        return out

    return train


def _split_batched(z: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """``_split`` of each row of ``z``: arrays of shape (rows,) + shape."""
    out, i = [], 0
    for shape in shapes:
        k = int(np.prod(shape))
        out.append(z[:, i:i + k].reshape((z.shape[0],) + shape))
        i += k
    return out


def w6_tinygrad(seed: int = 0) -> Trainer:
    """W6 with ``tinygrad_xor.hessian`` over the four arrays (argnums=(0, 1, 2, 3))."""
    from tinygrad_xor import hessian

    x, y = _data(_XOR_X), _data(_XOR_Y)
    p, d = _w6_point(seed)
    sizes = [int(np.prod(s)) for s in _XOR_SHAPES]

    def loss(w1: Value, b1: Value, w2: Value, b2: Value) -> Value:
        out = ((x @ w1 + b1).sigmoid() @ w2 + b2).sigmoid()
        return ((out - y) ** 2).mean()

    hess = hessian(loss, argnums=(0, 1, 2, 3))

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            blocks = hess(*_split(p, _XOR_SHAPES))
            out += _blocks_to_matrix(blocks, sizes).ravel().tolist()
            p = p + d
        return out

    return train


def w6_torch(seed: int = 0) -> Trainer:
    """W6 with ``torch.autograd.functional.hessian`` over the four tensors (float64)."""
    torch = import_torch()

    x, y = torch.tensor(_XOR_X), torch.tensor(_XOR_Y)
    p, d = _w6_point(seed)
    sizes = [int(np.prod(s)) for s in _XOR_SHAPES]

    def loss(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        out = torch.sigmoid(torch.sigmoid(x @ w1 + b1) @ w2 + b2)
        return ((out - y) ** 2).mean()

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            inputs = tuple(torch.from_numpy(a) for a in _split(p, _XOR_SHAPES))
            blocks = torch.autograd.functional.hessian(loss, inputs)
            out += _blocks_to_matrix([[b.numpy() for b in row] for row in blocks],
                                     sizes).ravel().tolist()
            p = p + d
        return out

    return train


def _w6_trainer(hess: Callable[..., Any], seed: int, convert: Callable[[Any], Any]) -> Trainer:
    """Call ``hess(W1, b1, W2, b2)`` (nested blocks) at each point, as w6_tinygrad does."""
    p, d = _w6_point(seed)
    sizes = [int(np.prod(s)) for s in _XOR_SHAPES]

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            blocks = hess(*_split(p, _XOR_SHAPES))
            out += _blocks_to_matrix([[convert(b) for b in row] for row in blocks],
                                     sizes).ravel().tolist()
            p = p + d
        return out

    return train


def w6_jit(seed: int = 0, backend: str = "auto") -> Trainer:
    """W6 compiled: ``jit(hessian(loss, argnums=(0, 1, 2, 3)))``."""
    from tinygrad_xor import hessian

    loss = _xor_loss(_data(_XOR_X), _data(_XOR_Y), nets=False)
    compiled = jit(hessian(loss, argnums=(0, 1, 2, 3)), backend=backend)
    train = _w6_trainer(compiled, seed, lambda b: b)
    train.compiled = compiled  # type: ignore[attr-defined]
    return train


def _jax_xor_hessian() -> Callable[..., Any]:
    """``jax.jit(jax.hessian(loss, argnums=(0, 1, 2, 3)))`` of W3's loss, the data as
    arguments."""
    jax = import_jax()
    jnp = jax.numpy

    def loss(w1: Any, b1: Any, w2: Any, b2: Any, x: Any, y: Any) -> Any:
        out = jax.nn.sigmoid(jax.nn.sigmoid(x @ w1 + b1) @ w2 + b2)
        return jnp.mean((out - y) ** 2)

    return jax.jit(jax.hessian(loss, argnums=(0, 1, 2, 3)))


def w6_jax(seed: int = 0) -> Trainer:
    """W6 with ``jax.jit(jax.hessian(loss, argnums=(0, 1, 2, 3)))`` (float64)."""
    jnp = import_jax().numpy
    hess = _jax_xor_hessian()
    x, y = jnp.asarray(_XOR_X), jnp.asarray(_XOR_Y)
    return _w6_trainer(lambda *params: hess(*params, x, y), seed, np.asarray)


# -- W7: a Hessian-vector product on W4's MLP (784-256-256-10, ReLU, MSE), float64 ---------------
# f is the loss as a function of one flat vector of all the parameters (sliced into W1, b1, ...
# inside f), as hvp(f, x, v) and torch.autograd.functional.hvp(f, x, v) take one x. Each step
# computes H v at the current point, then moves the point a fixed small step (as W6), and returns
# H v. The NumPy baseline is the complex step of W4's hand-written gradient along v.


def _w7_problem(batch: int, sizes: Sequence[int], seed: int) -> tuple[Any, ...]:
    """(x, y, parameter shapes, flat parameters, v, step direction), all float64."""
    x, y, arrays = _w4_data(batch, sizes, np.float64, seed)
    shapes = [a.shape for a in arrays]
    p = np.concatenate([a.ravel() for a in arrays])
    rng = np.random.default_rng(seed + 2)
    v = rng.normal(size=p.size)
    d = rng.normal(size=p.size)
    return x, y, shapes, p, v, 1e-3 * d / np.linalg.norm(d)


def w7_numpy(batch: int = 1024, sizes: Sequence[int] = (784, 256, 256, 10),
             seed: int = 0) -> Trainer:
    """W7 by the complex step of W4's hand-written gradient: Im(grad(p + i h v)) / h."""
    x, y, shapes, p, v, d = _w7_problem(batch, sizes, seed)
    n_layers = len(shapes) // 2

    def grad_at(q: np.ndarray) -> np.ndarray:
        params = _split(q, shapes)
        acts, pre = [x], []
        for i in range(n_layers):
            h = acts[-1] @ params[2 * i] + params[2 * i + 1]
            pre.append(h)
            acts.append(h * (h.real > 0) if i < n_layers - 1 else h)
        g = (acts[-1] - y) * (2 / y.size)
        grads: list[np.ndarray] = []
        for i in reversed(range(n_layers)):
            if i < n_layers - 1:
                g = g * (pre[i].real > 0)
            grads[:0] = [(acts[i].T @ g).ravel(), g.sum(0)]
            if i > 0:
                g = g @ params[2 * i].T
        return np.concatenate(grads)

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            out += (grad_at(p + 1j * _COMPLEX_STEP * v).imag / _COMPLEX_STEP).tolist()
            p = p + d
        return out

    return train


def w7_tinygrad(batch: int = 1024, sizes: Sequence[int] = (784, 256, 256, 10),
                seed: int = 0) -> Trainer:
    """W7 with ``tinygrad_xor.hvp``."""
    from tinygrad_xor import hvp

    xs, ys, shapes, p, v, d = _w7_problem(batch, sizes, seed)
    x, y = _data(xs), _data(ys)
    n_layers = len(shapes) // 2

    def loss(q: Value) -> Value:
        params = _split(q, shapes)
        h: Any = x
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = h.relu()
        return ((h - y) ** 2).mean()

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            out += hvp(loss, p, v).tolist()
            p = p + d
        return out

    return train


def w7_torch(batch: int = 1024, sizes: Sequence[int] = (784, 256, 256, 10),
             seed: int = 0) -> Trainer:
    """W7 with ``torch.autograd.functional.hvp`` (float64)."""
    torch = import_torch()

    xs, ys, shapes, p, v, d = _w7_problem(batch, sizes, seed)
    x, y, tv = torch.from_numpy(xs), torch.from_numpy(ys), torch.from_numpy(v)
    n_layers = len(shapes) // 2

    def loss(q: Any) -> Any:
        params = _split(q, shapes)
        h = x
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = torch.relu(h)
        return ((h - y) ** 2).mean()

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            out += torch.autograd.functional.hvp(loss, torch.from_numpy(p), tv)[1].tolist()
            p = p + d
        return out

    return train


def w7_jit(batch: int = 1024, sizes: Sequence[int] = (784, 256, 256, 10), seed: int = 0,
           backend: str = "auto") -> Trainer:
    """W7 compiled: ``jit(lambda q, v: hvp(loss, q, v))``."""
    from tinygrad_xor import hvp

    xs, ys, shapes, p, v, d = _w7_problem(batch, sizes, seed)
    x, y = _data(xs), _data(ys)
    n_layers = len(shapes) // 2

    def loss(q: Value) -> Value:
        params = _split(q, shapes)
        h: Any = x
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = h.relu()
        return ((h - y) ** 2).mean()

    compiled = jit(lambda q, u: hvp(loss, q, u), backend=backend)

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            out += compiled(p, v).tolist()
            p = p + d
        return out

    train.compiled = compiled  # type: ignore[attr-defined]
    return train


def w7_jax(batch: int = 1024, sizes: Sequence[int] = (784, 256, 256, 10),
           seed: int = 0) -> Trainer:
    """W7 with JAX: ``jax.jit`` of forward-over-reverse, ``jvp(grad(f), (q,), (v,))``, as JAX's
    documentation writes a Hessian-vector product (float64; the data as arguments)."""
    jax = import_jax()
    jnp = jax.numpy

    xs, ys, shapes, p, v, d = _w7_problem(batch, sizes, seed)
    n_layers = len(shapes) // 2

    def loss(q: Any, x: Any, y: Any) -> Any:
        params = _split(q, shapes)
        h = x
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = jax.nn.relu(h)
        return jnp.mean((h - y) ** 2)

    @jax.jit
    def hvp(q: Any, u: Any, x: Any, y: Any) -> Any:
        return jax.jvp(lambda r: jax.grad(loss)(r, x, y), (q,), (u,))[1]

    x, y, tv = jnp.asarray(xs), jnp.asarray(ys), jnp.asarray(v)

    def train(steps: int) -> list[float]:
        nonlocal p
        out: list[float] = []
        for _ in range(steps):
            out += np.asarray(hvp(p, tv, x, y)).tolist()
            p = p + d
        return out

    return train


# -- first calls: the time of tracing and generating (ours), tracing and compiling (JAX) ----------


def _first_call(f: Callable[..., Any], args: Sequence[Any],
                wait: Callable[[Any], Any] = lambda out: out) -> float:
    """Seconds of ``f(*args)``'s first call (``wait`` blocks until its results exist)."""
    start = time.perf_counter()
    wait(f(*args))
    return time.perf_counter() - start


def w3_jit_first_call(backend: str = "auto") -> float:
    """A freshly `jit`-ed W3 step's first call: the trace, the code written and compiled."""
    step = _sgd_step(_xor_loss(_data(_XOR_X), _data(_XOR_Y), nets=False), _XOR_LR)
    return _first_call(jit(step, backend=backend), _xor_init(0))


def w3_jax_first_call() -> float:
    """A freshly ``jax.jit``-ed W3 step's first call: JAX's trace, lowering and XLA compile."""
    jax = import_jax()
    jnp = jax.numpy
    args = (tuple(jnp.asarray(p) for p in _xor_init(0)), jnp.asarray(_XOR_X),
            jnp.asarray(_XOR_Y))
    return _first_call(jax.jit(_jax_xor_step(False, _XOR_LR)), args, jax.block_until_ready)


def w6_jit_first_call(backend: str = "auto") -> float:
    """A freshly `jit`-ed ``hessian(loss, argnums=(0, 1, 2, 3))``'s first call."""
    from tinygrad_xor import hessian

    loss = _xor_loss(_data(_XOR_X), _data(_XOR_Y), nets=False)
    compiled = jit(hessian(loss, argnums=(0, 1, 2, 3)), backend=backend)
    return _first_call(compiled, _split(_w6_point(0)[0], _XOR_SHAPES))


def w6_jax_first_call() -> float:
    """A freshly ``jax.jit``-ed ``jax.hessian``'s first call."""
    jax = import_jax()
    jnp = jax.numpy
    args = (*_split(_w6_point(0)[0], _XOR_SHAPES), jnp.asarray(_XOR_X), jnp.asarray(_XOR_Y))
    return _first_call(_jax_xor_hessian(), args, jax.block_until_ready)


# -- the workloads ------------------------------------------------------------------------------


@dataclass
class Workload:
    """One benchmark workload: its backends, the baseline they are checked against, targets."""

    id: str
    title: str
    baseline: str                                   # the backend every other one must follow
    backends: dict[str, Callable[..., Trainer]]     # name -> factory(**params) -> trainer
    modules: dict[str, str]                         # backend -> module it needs ("" for none)
    targets: dict[str, float]                       # reference -> target for ours / reference
    jit_targets: dict[str, float] = field(default_factory=dict)  # the same for OURS_JIT
    # backend -> the seconds of a freshly made compiled function's first call, and its target
    first_calls: dict[str, Callable[[], float]] = field(default_factory=dict)
    first_call_target: float | None = None
    full: dict[str, Any] = field(default_factory=dict)    # parameters of the timed run
    quick: dict[str, Any] = field(default_factory=dict)   # parameters of a --quick run
    tiny: dict[str, Any] = field(default_factory=dict)    # parameters of the correctness check
    block: int = 1          # steps timed together as one sample (per-step time = sample / block)
    quick_block: int = 1
    unit: str = "step"


_JAX = {"jax": "jax"}

WORKLOADS: dict[str, Workload] = {w.id: w for w in [
    Workload("W1", "micrograd demo step: scalar MLP 2-16-16-1, 100 two-moons points",
             baseline="numpy",
             backends={"numpy": w1_numpy, OURS: w1_tinygrad, OURS_JIT: w1_jit,
                       "micrograd": w1_micrograd},
             modules={"numpy": "", OURS: "", OURS_JIT: "", "micrograd": "micrograd"},
             targets={"micrograd": 0.2}, jit_targets={"micrograd": 0.01},
             quick={"n_points": 30}, tiny={"n_points": 6, "hidden": 4}),
    Workload("W2", "chain x = x*0.999 + 0.001, 1e6 steps, forward + backward",
             baseline="floats",
             backends={"floats": w2_floats, OURS: w2_tinygrad, "torch": w2_torch},
             modules={"floats": "", OURS: "", "torch": "torch"},
             targets={"torch": 0.5},
             full={"length": 10**6}, quick={"length": 10**5}, tiny={"length": 300},
             unit="chain"),
    Workload("W3", "XOR 2-2-1 sigmoid MSE, full batch SGD, tensor Values",
             baseline="numpy",
             backends={"numpy": w3_numpy, OURS: w3_tinygrad, OURS_JIT: w3_jit,
                       OURS_NUMBA: partial(w3_jit, backend="numba"), "torch": w3_torch,
                       "jax": w3_jax},
             modules={"numpy": "", OURS: "", OURS_JIT: "", OURS_NUMBA: "numba", "torch": "torch",
                      **_JAX},
             targets={"numpy": 2.0, "torch": 0.3}, jit_targets={"jax": 1.0},
             first_calls={OURS_JIT: w3_jit_first_call, "jax": w3_jax_first_call},
             first_call_target=0.05,
             block=2000, quick_block=500),
    Workload("W3L", "W3 as one loop of 2000 steps: compiled.loop(n) against JAX's jitted step "
             "in a Python loop and in lax.fori_loop",
             baseline="numpy",
             backends={"numpy": w3l_numpy, OURS_JIT: w3l_jit,
                       OURS_NUMBA: partial(w3l_jit, backend="numba"),
                       "jax (Python loop)": w3l_jax_loop, "jax (fori_loop)": w3l_jax_fori},
             modules={"numpy": "", OURS_JIT: "", OURS_NUMBA: "numba", "jax (Python loop)": "jax",
                      "jax (fori_loop)": "jax"},
             targets={}, jit_targets={"jax (Python loop)": 0.3},
             block=2000, quick_block=500),
    Workload("W4", "MLP 784-256-256-10, batch 4096, float32, ReLU, MSE, SGD",
             baseline="numpy",
             backends={"numpy": w4_numpy, OURS: w4_tinygrad, "torch": w4_torch},
             modules={"numpy": "", OURS: "", "torch": "torch"},
             targets={"numpy": 1.15, "torch": 1.2},
             quick={"batch": 1024},
             tiny={"batch": 8, "sizes": (5, 4, 3, 2), "dtype": np.float64},
             block=2, quick_block=2),
    Workload("W5", "10,000 XOR 2-2-1 networks at once, batched @, 500 steps",
             baseline="numpy",
             backends={"numpy": w5_numpy, OURS: w5_tinygrad, OURS_JIT: w5_jit,
                       "torch": w5_torch, "jax": w5_jax},
             modules={"numpy": "", OURS: "", OURS_JIT: "", "torch": "torch", **_JAX},
             targets={"numpy": 1.0, "torch": 1.0},
             quick={"nets": 10_000}, tiny={"nets": 7},
             block=100, quick_block=20),
    Workload("W5'", "10,000 XOR 2-2-1 networks at once, each with its own inputs (the XOR "
             "rows plus noise), batched @",
             baseline="numpy",
             backends={"numpy": w5p_numpy, OURS: w5p_tinygrad, OURS_JIT: w5p_jit,
                       "torch": w5p_torch, "jax": w5p_jax},
             modules={"numpy": "", OURS: "", OURS_JIT: "", "torch": "torch", **_JAX},
             targets={}, jit_targets={"jax": 1.0},
             tiny={"nets": 7},
             block=100, quick_block=20),
    Workload("W6", "Hessian of the XOR loss (W3's network), 9 parameters, float64",
             baseline="numpy",
             backends={"numpy": w6_numpy, OURS: w6_tinygrad, OURS_JIT: w6_jit,
                       "torch": w6_torch, "jax": w6_jax},
             modules={"numpy": "", OURS: "", OURS_JIT: "", "torch": "torch", **_JAX},
             targets={"torch": 1.0}, jit_targets={"jax": 1.0},
             first_calls={OURS_JIT: w6_jit_first_call, "jax": w6_jax_first_call},
             first_call_target=0.05,
             block=200, quick_block=50, unit="Hessian"),
    Workload("W7", "Hessian-vector product, MLP 784-256-256-10, batch 1024, float64, ReLU, MSE",
             baseline="numpy",
             backends={"numpy": w7_numpy, OURS: w7_tinygrad, OURS_JIT: w7_jit,
                       "torch": w7_torch, "jax": w7_jax},
             modules={"numpy": "", OURS: "", OURS_JIT: "", "torch": "torch", **_JAX},
             targets={"torch": 1.5}, jit_targets={"jax": 1.2},
             quick={"batch": 256}, tiny={"batch": 8, "sizes": (5, 4, 3, 2)},
             unit="product"),
]}
