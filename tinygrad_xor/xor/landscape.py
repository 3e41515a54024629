"""Where XOR training stalls, from curvature: `tinygrad-xor landscape`.

Many seeds of a recipe are trained at once (`sweep`). At the end point of every run that does
not solve XOR, the gradient and the Hessian of that network's own loss are computed, batched:
the loss of all stalled networks is the sum of their losses, so its gradient (built with
``create_graph=True``) holds every network's gradient, and one reverse pass over that gradient
per parameter slot, with a one-hot direction in that slot of every network, gives row k of
every network's Hessian at once (the Hessian of the sum is block diagonal). Nine passes give
all the 9x9 Hessians of 2-2-1 networks; ``np.linalg.eigh`` does the (n, 9, 9) stack.

Each end point is then classified (`classify`):

- *not stationary*: ``|grad| > grad_rtol * loss``, the run was still moving;
- *saddle*: the gradient is small and some eigenvalue is below ``-eig_rtol * max|eig|``;
- *strict minimum*: the gradient is small and every eigenvalue is above ``eig_rtol * max|eig|``;
- *flat*: the gradient is small, no eigenvalue is clearly negative and some are (near) zero:
  a non-strict minimum or plateau, typically with saturated hidden units.

The way out, each followed by the recipe's own optimiser again, against that optimiser alone:
`escape`, a step along the most negative-curvature eigenvector (the best of a few lengths,
either sign), and `saddle_free_newton`, a few Newton steps with |eigenvalues|.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import Value, autograd, hessian, no_grad
from ..train import _progress
from . import X, Y
from .recipes import Recipe, _count, get_recipe
from .study import new_figure, seeds_text, stacked_forward, tick, write_plot
from .sweep import CHUNK, run_sweep

__all__ = ["CLASSES", "Thresholds", "SETTLE_STEPS", "LandscapeResult", "flatten", "unflatten",
           "param_shapes", "stacked_loss", "network_loss", "network_hessian", "batched_hessian",
           "classify", "train_stacked", "solves", "losses_of", "escape", "saddle_free_newton",
           "default_steps", "run_landscape", "line_profile", "plot_landscape", "report",
           "landscape_command"]

#: The classes, in the order of `classify`'s codes.
CLASSES = ("strict minimum", "saddle", "flat", "not stationary")
STRICT, SADDLE, FLAT, MOVING = range(4)

#: Steps after which the runs of a recipe have stopped moving, in the sense that matters here:
#: doubling them adds less than 1.5 points to the fraction solved (over 10,000 seeds: blog
#: 81.83% after 50,000 steps, +1.2 points after 50,000 more; sigmoid-momentum 86.47%, +0.1;
#: keras 23.60%, +0). Ten times the recipe's own epochs for the others.
SETTLE_STEPS = {"blog": 50_000, "sigmoid-momentum": 10_000, "keras": 20_000}

#: The lengths tried for the escape step along the most negative-curvature direction.
ESCAPE_LENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Thresholds:
    """When a gradient is small and an eigenvalue is zero; see docs/why-xor-stalls.md.

    grad_rtol: the gradient is small when ``|grad| <= grad_rtol * loss``: a step of length 1 in
        parameter space (the weights are O(1) to O(10)) would change the loss by at most that
        fraction of itself, to first order.
    eig_rtol: an eigenvalue is zero when ``|eig| <= eig_rtol * max|eig|`` of that Hessian (the
        scale of the curvature at that point; float64 rounding is ~1e-16 of it).
    """

    grad_rtol: float = 1e-3
    eig_rtol: float = 1e-3


def param_shapes(recipe: Recipe) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape of one network's parameter) in state_dict order."""
    state = recipe.init_state(0)
    return [(key, value.shape) for key, value in state.items()]


def flatten(recipe: Recipe, weights: dict[str, np.ndarray]) -> np.ndarray:
    """Stacked weights (as `SweepResult.weights`) as one (S, P) array, state_dict order."""
    parts = [np.asarray(weights[key]).reshape(len(weights[key]), -1)
             for key, _ in param_shapes(recipe)]
    return np.concatenate(parts, axis=1)


def unflatten(recipe: Recipe, theta: np.ndarray) -> dict[str, np.ndarray]:
    """(S, P) back to stacked weights: weights (S, in, out), biases (S, 1, out)."""
    theta = np.asarray(theta, dtype=np.float64)
    out, k = {}, 0
    for key, shape in param_shapes(recipe):
        n = int(np.prod(shape))
        block = theta[:, k:k + n]
        out[key] = block.reshape(len(theta), 1, n) if key.endswith("bias") else \
            block.reshape(len(theta), *shape)
        k += n
    return out


def stacked_loss(recipe: Recipe, params: Sequence[Any]) -> Value:
    """Each stacked network's own loss on XOR, shape (S,)."""
    out = stacked_forward(recipe, list(params), np.asarray(X))
    target = np.broadcast_to(np.asarray(Y), out.shape)
    return recipe.loss_fn()(out, target, reduction="none").mean(axis=(1, 2))


def network_loss(recipe: Recipe | str) -> Any:
    """``f(*params)``: the loss of one network from its parameters in state_dict order and
    shapes (numbers, arrays or Values), for `tinygrad_xor.hessian` and friends."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    shapes = param_shapes(recipe)

    def f(*params: Any) -> Any:
        stacked = [p.reshape(1, 1, *shape) if key.endswith("bias") else p.reshape(1, *shape)
                   for (key, shape), p in zip(shapes, params, strict=True)]
        return stacked_loss(recipe, stacked).sum()

    return f


def network_hessian(recipe: Recipe | str, theta: np.ndarray) -> np.ndarray:
    """The (P, P) Hessian of one network's loss at its (P,) flat parameters, by
    `tinygrad_xor.hessian` over the parameter arrays (a check of `batched_hessian`)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    shapes = param_shapes(recipe)
    args, k = [], 0
    for _, shape in shapes:
        n = int(np.prod(shape))
        args.append(np.asarray(theta[k:k + n], dtype=np.float64).reshape(shape))
        k += n
    blocks = hessian(network_loss(recipe), argnums=tuple(range(len(args))))(*args)
    return np.block([[np.asarray(b).reshape(a.size, c.size) for b, c in zip(row, args,
                                                                            strict=True)]
                     for row, a in zip(blocks, args, strict=True)])


def batched_hessian(recipe: Recipe | str, theta: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss (S,), gradient (S, P), Hessian (S, P, P)) of every network of the (S, P) stack,
    in P + 1 reverse passes (see the module doc)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
    s, p = theta.shape
    params = [Value(w) for w in unflatten(recipe, theta).values()]
    per_net = stacked_loss(recipe, params)
    grads = autograd.grad(per_net.sum(), params, create_graph=True)
    gflat = np.concatenate([np.asarray(g.data).reshape(s, -1) for g in grads], axis=1)
    hess = np.empty((s, p, p))
    for k in range(p):
        onehot = np.zeros((s, p))
        onehot[:, k] = 1.0
        rows = autograd.grad(list(grads), params,
                             grad_outputs=list(unflatten(recipe, onehot).values()),
                             allow_unused=True)
        hess[:, k, :] = np.concatenate([np.asarray(r.data).reshape(s, -1) for r in rows],
                                       axis=1)
    return np.asarray(per_net.data).reshape(s), gflat, 0.5 * (hess + hess.transpose(0, 2, 1))


def classify(loss: np.ndarray, grad_norm: np.ndarray, eigvals: np.ndarray,
             thresholds: Thresholds = Thresholds()) -> np.ndarray:
    """A class code per point (index into CLASSES) from its loss, |gradient| and eigenvalues
    (n, P); see the module doc."""
    loss = np.atleast_1d(np.asarray(loss, dtype=np.float64))
    grad_norm = np.atleast_1d(np.asarray(grad_norm, dtype=np.float64))
    eig = np.atleast_2d(np.asarray(eigvals, dtype=np.float64))
    scale = np.max(np.abs(eig), axis=1)
    zero = thresholds.eig_rtol * scale
    codes = np.full(loss.shape, FLAT)
    codes[eig.min(axis=1) > zero] = STRICT
    codes[eig.min(axis=1) < -zero] = SADDLE
    codes[grad_norm > thresholds.grad_rtol * np.abs(loss)] = MOVING
    return codes


def train_stacked(recipe: Recipe, theta: np.ndarray, steps: int) -> np.ndarray:
    """Train the (S, P) stack of networks ``steps`` steps with the recipe's own optimiser (a
    fresh one: momentum and Adam's moments start at zero); returns the new (S, P)."""
    return _train_stacked(recipe, theta, steps)


def _train_stacked(recipe: Recipe, theta: np.ndarray, steps: int, bar: Any = None
                   ) -> np.ndarray:
    """`train_stacked`, telling ``bar`` (if not None) of the steps."""
    params = [Value(w.copy()) for w in unflatten(recipe, theta).values()]
    opt = recipe.make_optimizer(params)
    for step in range(steps):
        opt.zero_grad()
        stacked_loss(recipe, params).sum().backward()
        opt.step()
        tick(bar, step + 1, steps)
    return flatten(recipe, {key: p.data for (key, _), p in zip(param_shapes(recipe), params,
                                                                 strict=True)})


def solves(recipe: Recipe, theta: np.ndarray) -> np.ndarray:
    """(S,) bool: the network's outputs, thresholded at 0.5, are 0 1 1 0."""
    with no_grad():
        out = stacked_forward(recipe, [Value(w) for w in unflatten(recipe, theta).values()],
                       np.asarray(X))
    outputs = np.asarray(out.data).reshape(len(theta), -1)
    return np.all((outputs > 0.5) == (np.asarray(Y).reshape(1, -1) > 0.5), axis=1)


def losses_of(recipe: Recipe, theta: np.ndarray) -> np.ndarray:
    """(S,) each network's loss."""
    with no_grad():
        return np.asarray(stacked_loss(recipe, [Value(w) for w in
                                                unflatten(recipe, theta).values()]).data)


def escape(recipe: Recipe, theta: np.ndarray, direction: np.ndarray, steps: int,
           lengths: Sequence[float] = ESCAPE_LENGTHS) -> tuple[np.ndarray, np.ndarray]:
    """From each point of the (n, P) stack, the best step ``± t * direction`` (unit rows; t in
    ``lengths``, by the loss), then ``steps`` steps of the recipe's optimiser. Returns (the
    points after the step, the points after training)."""
    best, best_loss = theta.copy(), losses_of(recipe, theta)
    for t in lengths:
        for sign in (1.0, -1.0):
            trial = theta + sign * t * direction
            trial_loss = losses_of(recipe, trial)
            better = trial_loss < best_loss
            best[better], best_loss[better] = trial[better], trial_loss[better]
    return best, train_stacked(recipe, best, steps)


def saddle_free_newton(recipe: Recipe, theta: np.ndarray, iterations: int = 10, *,
                       radius: float = 2.0, eig_rtol: float = 1e-3) -> np.ndarray:
    """A few steps of saddle-free Newton (Dauphin et al. 2014) on every network of the (n, P)
    stack: ``-V diag(1 / max(|eig|, eig_rtol * max|eig|)) V^T grad``, so negative curvature
    is descended, not climbed, and flat directions get a large but bounded step; each step is
    cut to length ``radius`` and halved (up to three times) until the loss goes down, else the
    network stays where it is."""
    theta = np.array(theta, dtype=np.float64)
    for _ in range(iterations):
        loss, g, h = batched_hessian(recipe, theta)
        lam, vec = np.linalg.eigh(h)
        scale = np.max(np.abs(lam), axis=1, keepdims=True)
        coef = np.einsum("npk,np->nk", vec, g) / np.maximum(np.abs(lam), eig_rtol * scale)
        step = -np.einsum("npk,nk->np", vec, coef)
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        step *= np.minimum(1.0, radius / np.maximum(norm, 1e-300))
        best, best_loss = theta.copy(), loss.copy()
        for frac in (1.0, 0.5, 0.25, 0.125):
            trial = theta + frac * step
            trial_loss = losses_of(recipe, trial)
            better = trial_loss < best_loss
            best[better], best_loss[better] = trial[better], trial_loss[better]
        theta = best
    return theta


@dataclass
class LandscapeResult:
    """Where the unsolved runs of a recipe ended, and what curvature says about them."""

    recipe: str
    seeds: int
    steps: int
    solved: np.ndarray              # (S,) bool
    stalled: np.ndarray             # (n,) indices (seeds) of the runs that do not solve XOR
    theta: np.ndarray               # (n, P) their end points
    loss: np.ndarray                # (n,)
    grad_norm: np.ndarray           # (n,)
    eigvals: np.ndarray             # (n, P), ascending
    eigvecs: np.ndarray             # (n, P, P), columns
    classes: np.ndarray             # (n,) codes into CLASSES
    thresholds: Thresholds = Thresholds()
    escape_steps: int = 0
    escaped: np.ndarray | None = None   # (n,) bool: solves after the escape step + training
    control: np.ndarray | None = None   # (n,) bool: solves after the same training alone
    newton: np.ndarray | None = None    # (n,) bool: solves after saddle-free Newton + training
    seconds: dict[str, float] = field(default_factory=dict)

    def fractions(self) -> dict[str, float]:
        """The fraction of unsolved runs in each class."""
        n = max(1, len(self.classes))
        return {name: float(np.sum(self.classes == c)) / n for c, name in enumerate(CLASSES)}


def default_steps(recipe: Recipe | str) -> int:
    """The steps `run_landscape` trains for by default: `SETTLE_STEPS`, else ten times the
    recipe's epochs."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    return SETTLE_STEPS.get(recipe.name, 10 * recipe.epochs)


def run_landscape(recipe: Recipe | str, seeds: int = 1000, steps: int | None = None, *,
                  thresholds: Thresholds = Thresholds(), escape_steps: int | None = None,
                  chunk: int = CHUNK, progress: bool = True, jit: bool = False
                  ) -> LandscapeResult:
    """Train seeds 0..seeds-1 (``steps`` steps, default `default_steps`), classify the
    unsolved end points, try the way out (skipped with ``escape_steps=0``; default: as many
    steps again as the training had, three times: the optimiser alone, after a step along
    negative curvature, after saddle-free Newton).

    Everything runs ``chunk`` networks at a time (the training as `run_sweep` does, then the
    Hessians and the way out), so the memory is that of one chunk for any number of seeds;
    every network is on its own, so the results do not depend on ``chunk``. ``progress``
    shows a bar over the training's steps, then one over the way out's, where someone can see
    them (a notebook, a terminal; as `fit` does). The default steps take minutes (`blog`: 50,000
    steps); a few thousand steps make a quick try. ``jit`` compiles the training's step
    (`run_sweep`'s ``jit``); the Hessians and the way out run eagerly."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if int(chunk) < 1:
        raise ValueError(f"run_landscape: chunk must be >= 1, got {chunk}")
    n_steps = default_steps(recipe) if steps is None else steps
    times = {}
    start = time.perf_counter()
    # the end points are needed whatever the number of chunks (72 bytes a seed for 2-2-1)
    sweep = run_sweep(recipe, seeds, n_steps, curve_points=1, chunk=chunk, keep_weights=True,
                      progress=progress, desc="landscape: training", jit=jit)
    times["train"] = time.perf_counter() - start
    stalled = np.flatnonzero(~sweep.solved)
    p = sum(int(np.prod(s)) for _, s in param_shapes(recipe))
    theta = flatten(recipe, sweep.weights)[stalled] if sweep.weights else np.zeros((0, p))
    start = time.perf_counter()
    n = len(stalled)
    loss, grad_norm = np.zeros(n), np.zeros(n)
    eigvals, eigvecs = np.zeros((n, p)), np.zeros((n, p, p))
    for part in _chunks(n, chunk):
        part_loss, part_grads, part_hess = batched_hessian(recipe, theta[part])
        loss[part], grad_norm[part] = part_loss, np.linalg.norm(part_grads, axis=1)
        eigvals[part], eigvecs[part] = np.linalg.eigh(part_hess)
    times["hessian"] = time.perf_counter() - start
    classes = classify(loss, grad_norm, eigvals, thresholds)
    result = LandscapeResult(recipe.name, int(sweep.seeds.size), sweep.steps, sweep.solved,
                             stalled, theta, loss, grad_norm, eigvals, eigvecs, classes,
                             thresholds, seconds=times)
    n_escape = sweep.steps if escape_steps is None else escape_steps
    if n_escape and n:
        start = time.perf_counter()
        result.escaped, result.control, result.newton = (np.zeros(n, dtype=bool)
                                                         for _ in range(3))
        parts = _chunks(n, chunk)
        bar = _progress(3 * n_escape * len(parts), desc="landscape: way out", unit="step",
                        mininterval=0) if progress else None
        try:
            for part in parts:
                stepped, _ = escape(recipe, theta[part], eigvecs[part, :, 0], 0)
                result.escaped[part] = solves(recipe, _train_stacked(recipe, stepped, n_escape,
                                                                     bar))
                result.control[part] = solves(recipe, _train_stacked(recipe, theta[part],
                                                                     n_escape, bar))
                newton = saddle_free_newton(recipe, theta[part], eig_rtol=thresholds.eig_rtol)
                result.newton[part] = solves(recipe, _train_stacked(recipe, newton, n_escape,
                                                                    bar))
        finally:
            if bar is not None:
                bar.close()
        result.escape_steps = n_escape
        times["escape"] = time.perf_counter() - start
    return result


def _chunks(n: int, chunk: int) -> list[slice]:
    """Slices of ``range(n)``, ``chunk`` long (the last shorter)."""
    return [slice(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]


def line_profile(recipe: Recipe | str, theta: np.ndarray, direction: np.ndarray,
                 ts: np.ndarray) -> np.ndarray:
    """The loss at ``theta + t * direction`` for each t: (len(ts),)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    points = theta[None, :] + np.asarray(ts)[:, None] * direction[None, :]
    return losses_of(recipe, points)


def plot_landscape(result: LandscapeResult, path: str, *, max_lines: int = 12) -> str:
    """Write `landscape_figure` to ``path``; returns the path."""
    landscape_figure(result, max_lines=max_lines).savefig(path)
    return path


def landscape_figure(result: LandscapeResult, *, max_lines: int = 12) -> Any:
    """A figure: eigenvalue spectra by class, |grad|/loss, and the loss along the most
    negative-curvature direction of a few stalled points (needs matplotlib).

    A `matplotlib.figure.Figure` of its own, never pyplot's (an `InlineFigure`: the backend
    and the figures of the user's session are left alone, and Jupyter shows it inline, pyplot
    imported or not). It is 8 inches wide, the spectra above the other two, so that its text
    (10 points and up) stays readable when the picture is shrunk to a page's column."""
    colors = ["tab:blue", "tab:red", "tab:orange", "tab:gray"]
    fig = new_figure(figsize=(8, 7))
    grid = fig.add_gridspec(2, 2, height_ratios=(1.1, 1))
    ax1 = fig.add_subplot(grid[0, :])
    ax2, ax3 = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    scale = np.max(np.abs(result.eigvals), axis=1, keepdims=True) if len(result.eigvals) \
        else np.ones((0, 1))
    rel = result.eigvals / np.where(scale > 0, scale, 1.0)
    rng = np.random.default_rng(0)
    for c in range(len(CLASSES)):
        mask = result.classes == c
        if not mask.any():
            continue
        ys = rel[mask]
        jitter = c + 0.35 * (rng.random(ys.shape) - 0.5)
        ax1.scatter(ys.ravel(), jitter.ravel(), s=3, alpha=0.3, color=colors[c])
    ax1.set_xscale("symlog", linthresh=1e-6)
    ax1.set_xticks([-1, -1e-3, -1e-6, 0, 1e-6, 1e-3, 1],
                   ["-1", "-1e-3", "-1e-6", "0", "1e-6", "1e-3", "1"])
    ax1.set_ylim(-0.6, len(CLASSES) + 0.2)  # room for the legend above the top class
    ax1.axvspan(-result.thresholds.eig_rtol, result.thresholds.eig_rtol, color="0.9", zorder=0,
                label=f"|eig| <= {result.thresholds.eig_rtol:g} max|eig|: zero")
    ax1.legend(loc="upper left")
    ax1.set_yticks(range(len(CLASSES)))
    ax1.set_yticklabels([f"{n}: {np.sum(result.classes == c):,}"
                         for c, n in enumerate(CLASSES)])
    ax1.set_xlabel("Hessian eigenvalue / max |eigenvalue| (symlog)")
    ax1.set_title("Hessian spectra, by class")
    fig.suptitle(f"{result.recipe}: the {len(result.classes):,} runs of {result.seeds:,} that "
                 f"do not solve XOR\nafter {result.steps:,} step{'' if result.steps == 1 else 's'}",
                 fontsize="x-large")

    ratio = result.grad_norm / np.maximum(result.loss, 1e-300)
    if ratio.size:
        bins = np.logspace(np.log10(max(ratio.min(), 1e-20)), np.log10(ratio.max()) + 1e-9, 40)
        for c, name in enumerate(CLASSES):
            mask = result.classes == c
            if mask.any():
                ax2.hist(np.maximum(ratio[mask], 1e-20), bins=bins, color=colors[c], alpha=0.7,
                         label=name)
        ax2.set_xscale("log")
        ax2.xaxis.set_minor_formatter("")  # labels at powers of ten only: they do not overlap
        ax2.legend()
    ax2.axvline(result.thresholds.grad_rtol, color="black", lw=1, ls="--")
    ax2.set_xlabel("|gradient| / loss")
    ax2.set_ylabel("end points")
    ax2.set_title("gradient at the end point")

    ts = np.linspace(-8, 8, 321)
    per_class = max(1, max_lines // 3)
    shown = np.concatenate([np.flatnonzero(result.classes == c)[:per_class]
                            for c in (SADDLE, FLAT, STRICT)])
    if not shown.size:
        shown = np.arange(min(max_lines, len(result.classes)))
    for j in shown:
        prof = line_profile(result.recipe, result.theta[j], result.eigvecs[j, :, 0], ts)
        ax3.plot(ts, prof, color=colors[int(result.classes[j])], alpha=0.7, lw=1.2)
    ax3.set_xlabel("t: distance along v1, the most\nnegative-curvature eigenvector")
    ax3.set_ylabel("loss")
    ax3.set_title("loss along v1 (colour: class)")
    fig.tight_layout()
    return fig


def report(result: LandscapeResult) -> str:
    """The text `tinygrad-xor landscape` prints."""
    n = len(result.classes)
    lines = [f"{seeds_text(result.seeds)}, {_count(result.steps, 'step')} each: "
             f"{int(result.solved.sum())} solve XOR, {n} do not "
             f"({result.seconds.get('train', 0):.1f} s training, "
             f"{result.seconds.get('hessian', 0):.1f} s for {n} Hessians)"]
    if not n:
        return "\n".join(lines + ["every run solves XOR: nothing to classify"])
    t = result.thresholds
    lines.append(f"end points of the runs that do not solve XOR (gradient small: "
                 f"|grad| <= {t.grad_rtol:g} * loss; eigenvalue zero: "
                 f"|eig| <= {t.eig_rtol:g} * max|eig|):")
    for c, name in enumerate(CLASSES):
        k = int(np.sum(result.classes == c))
        lines.append(f"  {name:<15} {k:6d}  {k / n:7.2%}")
    ratio = result.grad_norm / np.maximum(result.loss, 1e-300)
    q = np.quantile(ratio, [0.0, 0.25, 0.5, 0.75, 1.0])
    lines.append("|grad|/loss: min {:.2g}  25% {:.2g}  median {:.2g}  75% {:.2g}  "
                 "max {:.2g}".format(*q))
    scale = np.max(np.abs(result.eigvals), axis=1)
    rel = result.eigvals[:, 0] / np.where(scale > 0, scale, 1.0)
    q = np.quantile(rel, [0.0, 0.25, 0.5, 0.75, 1.0])
    lines.append("smallest eigenvalue / max|eig|: min {:.2g}  25% {:.2g}  median {:.2g}  "
                 "75% {:.2g}  max {:.2g}".format(*q))
    lines.append("the same end points with other thresholds (strict / saddle / flat / moving):")
    for e in (1e-2, 1e-4, 1e-5, 1e-6):
        codes = classify(result.loss, result.grad_norm, result.eigvals, Thresholds(t.grad_rtol, e))
        share = [np.mean(codes == c) for c in range(len(CLASSES))]
        lines.append(f"  eig_rtol {e:g}: " + " / ".join(f"{x:.2%}" for x in share))
    for gr in (1e-2, 1e-4, 1e-5):
        codes = classify(result.loss, result.grad_norm, result.eigvals, Thresholds(gr, t.eig_rtol))
        share = [np.mean(codes == c) for c in range(len(CLASSES))]
        lines.append(f"  grad_rtol {gr:g}: " + " / ".join(f"{x:.2%}" for x in share))
    q = np.quantile(result.loss, [0.0, 0.5, 1.0])
    lines.append("loss: min {:.4g}  median {:.4g}  max {:.4g}".format(*q))
    if result.escaped is not None and result.control is not None:
        lines.append(f"way out: the fraction that solves XOR after "
                     f"{_count(result.escape_steps, 'more step')} of the recipe's optimiser, "
                     f"from")
        lines.append(f"  {'':<15} {'the end point':>14} {'a step along':>14} "
                     f"{'10 saddle-free':>14}")
        lines.append(f"  {'':<15} {'(no step)':>14} {'min-eig vector':>14} "
                     f"{'Newton steps':>14}")
        newton = result.newton if result.newton is not None else np.full(n, np.nan)
        for c, name in enumerate(CLASSES):
            mask = result.classes == c
            if mask.any():
                lines.append(f"  {name:<15} {result.control[mask].mean():14.2%} "
                             f"{result.escaped[mask].mean():14.2%} {newton[mask].mean():14.2%}")
        lines.append(f"  {'all unsolved':<15} {result.control.mean():14.2%} "
                     f"{result.escaped.mean():14.2%} {newton.mean():14.2%}")
    return "\n".join(lines)


def landscape_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor landscape --recipe NAME`: classify where the unsolved runs stalled."""
    recipe = get_recipe(args.recipe)  # the parser has checked the name and the --plot file
    trained = recipe.init != "goodfellow"
    steps = (default_steps(recipe) if args.steps is None else args.steps) if trained else 0
    print(f"recipe {recipe.name}: {recipe.describe(steps if trained else None, unit='step')}")
    if not trained and args.steps:
        print("  (--steps ignored: the Goodfellow weights are not trained)")
    print(f"{seeds_text(args.seeds)}, {_count(steps, 'step')} each; then, for the runs that do "
          f"not solve XOR, their Hessians and the way out ({_count(steps, 'more step')}, three "
          "times)", flush=True)
    result = run_landscape(recipe, args.seeds, args.steps,
                           jit=bool(getattr(args, "jit", False)))
    print(report(result))
    if args.plot and len(result.classes):
        return write_plot("landscape", plot_landscape, result, args.plot)
    if args.plot:
        print(f"plot: none written to {args.plot}, there is nothing to plot")
    return 0
