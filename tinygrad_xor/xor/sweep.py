"""Many seeds of a recipe at once, as one batched tensor graph: `tinygrad-xor sweep`.

Seed ``s`` starts from exactly the weights `recipes.Recipe.build` gives for seed ``s``. The
seeds' weights are stacked along a leading axis (`study.stacked_params`: weights
``(S, in, out)``, biases ``(S, 1, out)``), the four XOR inputs go through all S networks with
one batched ``@`` per layer, and the loss is the sum over seeds of each seed's own loss, so
one backward pass gives every seed its own gradient and the (elementwise) optimizer updates
each seed as if alone.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import Value, no_grad
from ..train import _progress, compiled_step
from . import X, Y, study
from .recipes import Recipe, _count, get_recipe
from .study import new_figure, seeds_text, stacked_forward, stacked_params, tick, write_plot

__all__ = ["SweepResult", "run_sweep", "plot_sweep", "sweep_figure", "sweep_command", "CHUNK"]

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


#: Seeds trained together as one batched graph; a bigger sweep runs chunk after chunk, so its
#: memory is that of one chunk plus about 50 bytes of results per seed.
CHUNK = 10_000


def run_sweep(recipe: Recipe | str, seeds: int | Sequence[int] = 1000,
              steps: int | None = None, *, curve_points: int = 200, chunk: int = CHUNK,
              keep_weights: bool | None = None, progress: bool = True,
              desc: str = "sweep", jit: bool = False) -> SweepResult:
    """Train one network per seed (seeds 0..N-1 for an int), all at once; see the module doc.

    The seeds are trained ``chunk`` at a time (each chunk one batched graph): the loss curves
    are those of the first chunk, and the final weights are kept when ``keep_weights`` (by
    default when there is a single chunk). ``steps`` defaults to the recipe's epochs (one step
    an epoch: the batch is the four XOR samples); the goodfellow recipe is never trained, and
    its result says 0 steps whatever ``steps`` is. ``progress`` shows a bar over the steps,
    labelled ``desc``, where someone can see it (a notebook, a terminal; as `fit` does).
    ``jit`` compiles the batched training step once (`tinygrad_xor.jit`: the same operations
    in the same order, so the same numbers, but for a division of the optimizer's, which is
    ``a * b ** -1`` on Values: Adam's results then agree to rounding) and runs it without
    graphs.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    seed_list = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seed_list.size == 0:
        raise ValueError("run_sweep needs at least one seed")
    if int(chunk) < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    n_steps = recipe.epochs if steps is None else int(steps)
    if recipe.init == "goodfellow":
        n_steps = 0
    if n_steps < 0:
        raise ValueError(f"steps must be >= 0, got {n_steps}")
    keep = seed_list.size <= chunk if keep_weights is None else bool(keep_weights)
    start = time.perf_counter()
    every = max(1, -(-n_steps // curve_points)) if n_steps else 1
    record = list(range(0, n_steps, every))
    final = np.empty(seed_list.size)
    outputs = np.empty((seed_list.size, np.asarray(Y).size))
    curves = np.empty((len(record), 0), dtype=np.float32)
    weights: dict[str, list[np.ndarray]] = {}
    n_chunks = -(-seed_list.size // chunk)
    label = desc if n_chunks == 1 else f"{desc}, {n_chunks} chunks of {chunk:,} seeds"
    bar = _progress(n_chunks * n_steps, desc=label, unit="step", mininterval=0) \
        if progress and n_steps else None
    try:
        for lo in range(0, seed_list.size, chunk):
            part = seed_list[lo:lo + chunk]
            params, part_curves, part_final, part_out = _train_chunk(
                recipe, part, n_steps, every, len(record), bar, jit=jit)
            final[lo:lo + part.size] = part_final
            outputs[lo:lo + part.size] = part_out
            if lo == 0:
                curves = part_curves
            if keep:
                for p in params:
                    weights.setdefault(p.label or "", []).append(p.data)
            del params, part_curves
    finally:
        if bar is not None:
            bar.close()
    target = np.asarray(Y)
    ok = np.all((outputs > 0.5) == (target.reshape(1, -1) > 0.5), axis=1)
    return SweepResult(recipe.name, seed_list, n_steps, final, outputs, ok,
                       np.asarray(record, dtype=int), curves,
                       seconds=time.perf_counter() - start,
                       weights={k: np.concatenate(v) for k, v in weights.items()})


def _train_chunk(recipe: Recipe, seed_list: np.ndarray, n_steps: int, every: int,
                 n_records: int, bar: Any = None, *, jit: bool = False
                 ) -> tuple[list[Value], np.ndarray, np.ndarray, np.ndarray]:
    """Train one chunk of seeds as one batched graph: (params, curves, final losses, outputs);
    ``bar`` (if not None) hears of the steps; ``jit`` compiles the step."""
    params = stacked_params(recipe, seed_list)
    loss_fn = recipe.loss_fn()
    target = np.asarray(Y)
    curves = np.empty((n_records, seed_list.size), dtype=np.float32)
    if n_steps:
        opt = recipe.make_optimizer(params)
        x = np.asarray(X)
        targets = np.broadcast_to(target, (seed_list.size, *target.shape))

        def model(x: Any) -> Value:
            return stacked_forward(recipe, params, x)

        def per_seed_loss(pred: Value, y: Any) -> Value:
            return loss_fn(pred, y, reduction="none").mean(axis=(1, 2))

        run = compiled_step(model, per_seed_loss, opt) if jit else None
        row = 0
        for step in range(n_steps):
            if run is not None:
                losses, _ = run(x, targets)
            else:
                opt.zero_grad()
                per_seed = per_seed_loss(model(x), targets)
                losses = per_seed.data
                per_seed.sum().backward()
                opt.step()
            if step % every == 0:
                curves[row] = losses
                row += 1
            tick(bar, step + 1, n_steps)
    with no_grad():
        out = stacked_forward(recipe, params, np.asarray(X))
        final = loss_fn(out, np.broadcast_to(target, out.shape),
                        reduction="none").mean(axis=(1, 2))
    return (params, curves, np.asarray(final.data).reshape(-1),
            np.asarray(out.data).reshape(seed_list.size, -1))


def __getattr__(name: str) -> Any:
    """`InlineFigure` (now `study.InlineFigure`), the class of the figures, made on first use
    (it needs matplotlib)."""
    if name == "InlineFigure":
        return study.InlineFigure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def plot_sweep(result: SweepResult, path: str, *, max_curves: int = 100) -> str:
    """Write a figure: the final-loss distribution and some loss curves (needs matplotlib).

    The figure is a `matplotlib.figure.Figure` of its own, never pyplot's: the backend and the
    figures of a notebook or script that calls this are left as they were.
    """
    fig = sweep_figure(result, max_curves=max_curves)
    fig.savefig(path)
    return path


def sweep_figure(result: SweepResult, *, max_curves: int = 100) -> Any:
    """The figure of `plot_sweep` as a `matplotlib.figure.Figure` of its own (an
    `InlineFigure`: Jupyter shows it inline, pyplot imported or not)."""
    fig = new_figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
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
        label = ("median of all seeds" if result.curves.shape[1] == result.seeds.size
                 else f"median of the first {result.curves.shape[1]:,} seeds")
        ax2.plot(result.curve_steps, np.median(result.curves, axis=1), color="black", lw=2,
                 label=label)
        ax2.set_yscale("log")
        ax2.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("loss")
    ax2.set_title(f"loss curves of the first {min(max_curves, result.seeds.size)} seeds")
    fig.tight_layout()
    return fig


def sweep_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor sweep --recipe NAME`: train many seeds, print the fraction that solve XOR."""
    recipe = get_recipe(args.recipe)  # the parser has checked the name and the --plot file
    trained = recipe.init != "goodfellow"
    print(f"recipe {recipe.name}: {recipe.describe(args.steps if trained else None, unit='step')}",
          flush=True)
    if not trained and args.steps:
        print("  (--steps ignored: the Goodfellow weights are not trained)", flush=True)
    result = run_sweep(recipe, args.seeds, args.steps, keep_weights=False,
                       jit=bool(getattr(args, "jit", False)))
    final = result.final_loss
    graphs = ("one batched graph" if result.seeds.size <= CHUNK else
              f"batched graphs of {CHUNK:,} seeds")
    print(f"{seeds_text(result.seeds.size)}, {_count(result.steps, 'step')} each, {graphs}: "
          f"{result.seconds:.2f} s")
    print(f"solved XOR: {int(result.solved.sum())} of {result.seeds.size} "
          f"({result.success_rate:.2%})")
    q = np.quantile(final, [0.0, 0.25, 0.5, 0.75, 1.0])
    print("final loss: min {:.3g}  25% {:.3g}  median {:.3g}  75% {:.3g}  max {:.3g}".format(*q))
    if args.plot:
        return write_plot("sweep", plot_sweep, result, args.plot)
    return 0
