"""`fit`: train a model on (X, y) with a loss and an optimizer, with a progress bar."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import checks as _checks
from .core.value import Value
from .losses import binary_cross_entropy, get_loss
from .optim import Optimizer

__all__ = ["compiled_step", "History", "fit", "predict"]


@dataclass
class History:
    """What `fit` saw: one loss and one accuracy per epoch."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def __repr__(self) -> str:
        if not self.loss:
            return "History(epochs=0)"
        return (f"History(epochs={len(self.loss)}, loss={self.loss[-1]:.6g}, "
                f"accuracy={self.accuracy[-1]:.3g})")


def predict(output: Any) -> np.ndarray:
    """A model's output (a Value, or lists of scalar Values) as a float ndarray."""
    if isinstance(output, Value):
        return np.asarray(output.data, dtype=np.float64)
    if isinstance(output, (list, tuple)):
        return np.array([predict(item) for item in output], dtype=np.float64)
    return np.asarray(output, dtype=np.float64)


def _as_2d(name: str, data: Any) -> np.ndarray:
    if isinstance(data, Value):
        data = data.data
    array = _checks.numbers("fit", name, data)
    if array.ndim == 1 and name == "y":
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"fit: {name} must be 2-D (samples × features), got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"fit: {name} has no columns (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise ValueError(f"fit: {name} contains {bad}")
    return array


def _validate(model: Any, X: Any, y: Any, optimizer: Any, epochs: Any,
              batch_size: Any) -> tuple[np.ndarray, np.ndarray]:
    if not callable(model):
        raise TypeError(f"fit: model must be a module or a function of X, got "
                        f"{type(model).__name__}")
    for method in ("zero_grad", "step"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"fit: optimizer must have zero_grad() and step() (e.g. optim.SGD), "
                            f"got {type(optimizer).__name__}")
    Xa = _as_2d("X", X)
    ya = _as_2d("y", y)
    if len(Xa) != len(ya):
        raise ValueError(f"fit: X has {len(Xa)} samples but y has {len(ya)}")
    if len(Xa) == 0:
        raise ValueError("fit: X has no samples")
    expected = model.input_size() if hasattr(model, "input_size") else None
    if expected is not None and expected != Xa.shape[1]:
        raise ValueError(f"fit: the model expects {expected} input features, X has "
                         f"{Xa.shape[1]}")
    lr = getattr(optimizer, "lr", None)
    if lr is not None and not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"fit: the learning rate must be a finite number > 0, got {lr}")
    _checks.integer("fit", "epochs", epochs, minimum=0)
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"fit: batch_size must be a positive integer or None, got "
                            f"{type(batch_size).__name__} {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"fit: batch_size must be a positive integer or None, got "
                             f"{batch_size!r}")
    return Xa, ya


def _duration(seconds: float) -> str:
    """``seconds`` for a person: "40 s", "3 min 5 s", "2 h 10 min"."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class _TextProgress:
    """Plain-text progress for when tqdm is not installed: about ten lines per run, each with
    the count, the time so far and an estimate of the time left."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.every = max(1, total // 10)
        self.n = 0
        self.start = time.perf_counter()

    def update(self, n: int = 1, loss: float | None = None) -> None:
        before, self.n = self.n, self.n + n
        if self.n // self.every == before // self.every and self.n < self.total:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed * max(0, self.total - self.n) / max(self.n, 1)
        text = f"{self.desc}: {self.unit} {self.n:,}/{self.total:,}"
        if loss is not None:
            text += f"  loss {loss:.6g}"
        print(f"{text}  ({_duration(elapsed)}, about {_duration(left)} left)", file=sys.stderr)

    def close(self) -> None:
        pass


class _TqdmProgress:
    def __init__(self, tqdm: Any, total: int, desc: str, unit: str, options: Any) -> None:
        self.bar = tqdm(total=total, desc=desc, unit=unit, leave=True, **options)

    def update(self, n: int = 1, loss: float | None = None) -> None:
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def _in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel: ipykernel is loaded and the IPython shell
    is attached to a running kernel. Jupyter, Colab, Kaggle and VS Code all run ipykernel,
    each with a shell class of its own (Colab's is ``Shell``), so the class name says nothing.
    """
    if "ipykernel" not in sys.modules:  # imported by every Jupyter kernel; never by us
        return False
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return getattr(shell, "kernel", None) is not None


def _output_kind() -> str | None:
    """"notebook" in a Jupyter kernel, "terminal" when stderr is a terminal, else None."""
    if _in_kernel():
        return "notebook"
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return "terminal" if callable(isatty) and isatty() else None
    except ValueError:  # a closed stream
        return None


def _progress(total: int, *, desc: str = "fit", unit: str = "epoch", **options: Any) -> Any:
    """A progress bar of ``total`` units where someone can see it: tqdm's widget in a notebook
    (with the ``progress`` extra's ipywidgets; tqdm's text bar without them, so no "IProgress
    not found" warning), tqdm's bar on a terminal, plain lines without tqdm; None elsewhere (a
    pipe, a file, a test run): nothing is printed. ``options`` go to tqdm (``mininterval=0``:
    draw at every update, for a caller that updates a hundred times a run). Its
    ``update(n=1, loss=None)`` counts ``n`` units done; ``close()`` ends it."""
    kind = _output_kind()
    if kind is None:
        return None
    try:
        if kind == "notebook":
            try:
                import ipywidgets  # noqa: F401
                from tqdm.notebook import tqdm
            except ImportError:
                from tqdm import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return _TextProgress(total, desc, unit)
    return _TqdmProgress(tqdm, total, desc, unit, options)


def compiled_step(model: Any, loss_fn: Any, optimizer: Any) -> Any:
    """``run(xb, yb) -> (loss, predictions)``: one compiled training step (`jit`) that updates
    the optimizer's parameters and state in place, as ``zero_grad``, ``backward`` and ``step``
    do. ``model(xb)`` predicts, ``loss_fn(pred, yb)`` is the loss: one element, or several
    (one per network of a batch, say), whose sum is differentiated and which are returned."""
    from . import autograd
    from .compiler import jit as compile_step

    params = list(optimizer.params)
    if type(optimizer)._rule is Optimizer._rule:
        raise TypeError(f"fit(jit=True): {type(optimizer).__name__} has no update rule that "
                        f"can be compiled; use optim.SGD or optim.Adam, or jit=False")

    def step(xb: Any, yb: Any, state: Any, scalars: Any, first: bool) -> Any:
        pred = model(xb)
        value = loss_fn(pred, yb)
        grads = autograd.grad(value.sum() if value.size > 1 else value, params,
                              allow_unused=True)
        new = [optimizer._rule(p, g, None if first else s, scalars)
               for p, g, s in zip(params, grads, state)]
        return value, pred, [p for p, _ in new], [s for _, s in new]

    compiled = compile_step(step, static_argnums=(4,))
    compiled._bound = params

    def run(xb: Any, yb: Any) -> tuple[float, Any]:
        state = optimizer._state()
        first = any(s is None for s in state)
        if first:  # (SGD's first momentum buffer is the gradient itself)
            state = [_zeros_like(p) for p in params]
        value, pred, new, state = compiled(xb, yb, state, optimizer._scalars(), first)
        for p, data in zip(params, new):
            p.data = data if type(p._data) is float else np.asarray(data, dtype=p._data.dtype)
        optimizer._store(state)
        return value, pred

    return run


def _zeros_like(p: Value) -> Any:
    return 0.0 if type(p._data) is float else np.zeros_like(p._data)


def fit(model: Any, X: Any, y: Any, *, loss: Any, optimizer: Any, epochs: int,
        batch_size: int | None = None, progress: bool = True, jit: bool = False) -> History:
    """Train ``model`` on ``(X, y)`` and return a `History`.

    Args:
        model: a module (e.g. `nn.MLP`) mapping an (n, features) array to predictions.
        X: inputs, shape (n, features).
        y: targets, shape (n,) or (n, outputs).
        loss: a function ``(pred, target) -> Value`` or the name "mse" / "bce".
        optimizer: e.g. `optim.SGD(model.parameters(), lr=0.1)`.
        epochs: passes over the data.
        batch_size: samples per step, in order; None is the full batch.
        progress: show a progress bar where it can be seen: in a Jupyter notebook (tqdm's
            widget) or when stderr is a terminal (tqdm's bar, or plain lines without tqdm);
            elsewhere, and with False, nothing is printed.
        jit: compile the training step (forward, backward and the optimizer's update)
            once per batch shape with `tinygrad_xor.jit` and run it without building graphs;
            the model's parameters and the optimizer's state are updated as without it. Needs
            the optimizer's rule as a function (`optim.SGD`, `optim.Adam`).

    Each epoch's loss is the sample-weighted mean of its steps' losses, and its accuracy the
    fraction of samples whose outputs, thresholded at 0.5, equal the targets, both taken
    from the predictions before each step's update (as Keras reports them). Bad input raises
    TypeError (a wrong kind of argument) or ValueError (a wrong value) before any step.
    """
    loss_fn = get_loss(loss)
    progress = _checks.boolean("fit", "progress", progress)
    Xa, ya = _validate(model, X, y, optimizer, epochs, batch_size)
    if loss_fn is binary_cross_entropy and not np.all((ya >= 0) & (ya <= 1)):
        raise ValueError(f"fit: loss 'bce' needs targets in [0, 1], y has values in "
                         f"[{ya.min():g}, {ya.max():g}]")
    jit = _checks.boolean("fit", "jit", jit)
    n = len(Xa)
    size = n if batch_size is None else min(int(batch_size), n)
    history = History()
    run = compiled_step(model, loss_fn, optimizer) if jit else None
    bar = _progress(int(epochs)) if progress else None
    try:
        for _ in range(int(epochs)):
            total, correct = 0.0, 0
            for start in range(0, n, size):
                xb, yb = Xa[start:start + size], ya[start:start + size]
                if run is not None:
                    number, pred = run(xb, yb)
                else:
                    optimizer.zero_grad()
                    pred = model(xb)
                    value = loss_fn(pred, yb)
                    value.backward()
                    optimizer.step()
                    number = value.item()
                out = predict(pred).reshape(yb.shape)
                total += float(number) * len(xb)
                correct += int(np.sum(np.all((out > 0.5) == (yb > 0.5), axis=1)))
            history.loss.append(total / n)
            history.accuracy.append(correct / n)
            if bar is not None:
                bar.update(loss=history.loss[-1])
    finally:
        if bar is not None:
            bar.close()
    return history
