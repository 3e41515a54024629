"""Many seeds of a recipe at once, as one batched tensor graph: `tinygrad-xor sweep`.

Seed ``s`` starts from exactly the weights `recipes.Recipe.build` gives for seed ``s``. The
seeds' weights are stacked along a leading axis (weights ``(S, in, out)``, biases
``(S, 1, out)``), the four XOR inputs go through all S networks with one batched ``@`` per
layer, and the loss is the sum over seeds of each seed's own loss, so one backward pass gives
every seed its own gradient and the (elementwise) optimizer updates each seed as if alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import Value, no_grad
from ..nn import activation
from . import X, Y
from .recipes import Recipe, get_recipe

__all__ = ["SweepResult", "run_sweep", "plot_sweep", "sweep_command"]

@dataclass
class SweepResult:
    """Per-seed outcome of a sweep."""

    recipe: str
    seeds: np.ndarray                 # (S,) the seeds
    steps: int
    final_loss: np.ndarray            # (S,) each seed's loss after training
    outputs: np.ndarray               # (S, 4) each network's outputs on X after training
    solved: np.ndarray                # (S,) bool: outputs thresholded at 0.5 equal 0 1 1 0
    curve_steps: np.ndarray           # (K,) the steps at which losses were recorded
    curves: np.ndarray                # (K, S) float32 losses at those steps
    seconds: float = 0.0
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # stacked final weights

    def state_dict(self, j: int) -> dict[str, np.ndarray]:
        """The j-th seed's final weights, keyed as its model's state_dict."""
        return {key: (w[j, 0] if key.endswith("bias") else w[j]).copy()
                for key, w in self.weights.items()}

    @property
    def success_rate(self) -> float:
        """Fraction of seeds whose network solves XOR."""
        return float(np.mean(self.solved)) if self.solved.size else 0.0


def _stack(recipe: Recipe, seeds: Sequence[int] | np.ndarray) -> list[Value]:
    """Each seed's initial weights, stacked: [W0 (S,in,out), b0 (S,1,out), W1, b1, ...]."""
    states = [recipe.init_state(np.random.default_rng(int(s))) for s in seeds]
    keys = list(states[0])
    params = []
    for key in keys:
        arr = np.stack([st[key] for st in states])
        if key.endswith("bias"):
            arr = arr[:, None, :]
        params.append(Value(arr, label=key))
    return params


def _forward(recipe: Recipe, params: list[Value], x: np.ndarray) -> Value:
    """All S networks on x: (S, n, out)."""
    h: Any = x
    n_layers = len(params) // 2
    hidden, output = activation(recipe.activation), activation(recipe.output_activation)
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        h = output(h) if i == n_layers - 1 else hidden(h)
    return h


def run_sweep(recipe: Recipe | str, seeds: int | Sequence[int] = 1000,
              steps: int | None = None, *, curve_points: int = 200) -> SweepResult:
    """Train one network per seed (seeds 0..N-1 for an int), all at once; see the module doc."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    seed_list = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seed_list.size == 0:
        raise ValueError("run_sweep needs at least one seed")
    n_steps = recipe.epochs if steps is None else int(steps)
    if recipe.init == "goodfellow":
        n_steps = 0
    if n_steps < 0:
        raise ValueError(f"steps must be >= 0, got {n_steps}")
    start = time.perf_counter()
    params = _stack(recipe, seed_list)
    loss_fn = recipe.loss_fn()
    target = np.asarray(Y)
    every = max(1, -(-n_steps // curve_points)) if n_steps else 1
    record = list(range(0, n_steps, every))
    curves = np.empty((len(record), seed_list.size), dtype=np.float32)
    if n_steps:
        opt = recipe.make_optimizer(params)
        x = np.asarray(X)
        row = 0
        for step in range(n_steps):
            opt.zero_grad()
            per_seed = loss_fn(_forward(recipe, params, x),
                               np.broadcast_to(target, (seed_list.size, *target.shape)),
                               reduction="none").mean(axis=(1, 2))
            if step % every == 0:
                curves[row] = per_seed.data
                row += 1
            per_seed.sum().backward()
            opt.step()
    with no_grad():
        out = _forward(recipe, params, np.asarray(X))
        final = loss_fn(out, np.broadcast_to(target, out.shape),
                        reduction="none").mean(axis=(1, 2))
    outputs = np.asarray(out.data).reshape(seed_list.size, -1)
    ok = np.all((outputs > 0.5) == (target.reshape(1, -1) > 0.5), axis=1)
    return SweepResult(recipe.name, seed_list, n_steps, np.asarray(final.data).reshape(-1),
                       outputs, ok, np.asarray(record, dtype=int), curves,
                       seconds=time.perf_counter() - start,
                       weights={p.label: p.data for p in params})


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'tinygrad_xor[plot]'") \
            from None
    return matplotlib


def _check_plot_path(path: str) -> None:
    """Raise RuntimeError unless matplotlib is there, knows the suffix and the folder exists."""
    from pathlib import Path

    _matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in kinds:
        raise RuntimeError(f"--plot {path}: the file name must end in one of "
                           + ", ".join(f".{k}" for k in sorted(kinds)))
    if not Path(path).parent.is_dir():
        raise RuntimeError(f"--plot {path}: the folder {Path(path).parent} does not exist")


def plot_sweep(result: SweepResult, path: str, *, max_curves: int = 100) -> str:
    """Write a figure: the final-loss distribution and some loss curves (needs matplotlib)."""
    _matplotlib().use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    final = np.maximum(result.final_loss, 1e-12)
    bins = np.logspace(np.log10(final.min()), np.log10(final.max()) + 1e-9, 60)
    ax1.hist(final[result.solved], bins=bins, color="tab:green", alpha=0.7, label="solved")
    ax1.hist(final[~result.solved], bins=bins, color="tab:red", alpha=0.7, label="not solved")
    ax1.set_xscale("log")
    ax1.set_xlabel("final loss")
    ax1.set_ylabel("seeds")
    ax1.set_title(f"{result.recipe}: {result.success_rate:.1%} of {result.seeds.size} seeds "
                  "solve XOR")
    ax1.legend()
    if result.curves.size:
        shown = min(max_curves, result.curves.shape[1])
        for j in range(shown):
            color = "tab:green" if result.solved[j] else "tab:red"
            ax2.plot(result.curve_steps, result.curves[:, j], color=color, alpha=0.3, lw=0.8)
        ax2.plot(result.curve_steps, np.median(result.curves, axis=1), color="black", lw=2,
                 label="median of all seeds")
        ax2.set_yscale("log")
        ax2.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("loss")
    ax2.set_title(f"loss curves of the first {min(max_curves, result.seeds.size)} seeds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def sweep_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor sweep --recipe NAME`: train many seeds, print the fraction that solve XOR."""
    recipe = get_recipe(args.recipe)  # the parser has checked the name
    if args.plot:
        try:
            _check_plot_path(args.plot)  # before the sweep, not after it has run
        except RuntimeError as exc:
            print(f"tinygrad-xor sweep: error: {exc}", file=sys.stderr)
            return 1
    result = run_sweep(recipe, args.seeds, args.steps)
    final = result.final_loss
    print(f"recipe {recipe.name}: {recipe.describe()}")
    print(f"seeds 0..{result.seeds.size - 1}, {result.steps} steps each, one batched graph: "
          f"{result.seconds:.2f} s")
    print(f"solved XOR: {int(result.solved.sum())} of {result.seeds.size} "
          f"({result.success_rate:.2%})")
    q = np.quantile(final, [0.0, 0.25, 0.5, 0.75, 1.0])
    print("final loss: min {:.3g}  25% {:.3g}  median {:.3g}  75% {:.3g}  max {:.3g}".format(*q))
    if args.plot:
        try:
            print(f"plot: {plot_sweep(result, args.plot)}")
        except (RuntimeError, OSError) as exc:
            print(f"tinygrad-xor sweep: error: cannot write the plot {args.plot}: {exc}",
                  file=sys.stderr)
            return 1
    return 0
